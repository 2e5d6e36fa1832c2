package pairs

import (
	"strings"
	"testing"
	"time"
)

// TestProgressString: the ETA is shown when known, or when the stage is done (0s), and "?"
// while it is still unknown.
func TestProgressString(t *testing.T) {
	for _, c := range []struct {
		p    Progress
		want string
	}{
		{Progress{Stage: "sampling", Done: 3, Total: 10, ETA: 90 * time.Second}, "ETA 1m30s"},
		{Progress{Stage: "sampling", Done: 3, Total: 10}, "ETA ?"},
		{Progress{Stage: "judging", Done: 10, Total: 10}, "ETA 0s"},
	} {
		s := c.p.String()
		if !strings.HasSuffix(s, c.want) || !strings.HasPrefix(s, c.p.Stage+": ") {
			t.Errorf("%+v: %q, want it to end in %q", c.p, s, c.want)
		}
	}
}
