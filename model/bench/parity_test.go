package bench

import (
	"context"
	"strings"
	"testing"
)

// TestParityRefusals: Parity refuses an unknown shape, more than 30 tokens per prompt (Ollama
// ends such runs without done), and a file the generator cannot write in the available memory,
// each before it writes anything or talks to a server (the pool is nil).
func TestParityRefusals(t *testing.T) {
	for _, c := range []struct {
		o    ParityOptions
		want []string
	}{
		{ParityOptions{Shapes: []string{"phi4-shape"}}, []string{`unknown shape "phi4-shape"`, "phi3-mini-shape"}},
		{ParityOptions{Tokens: 31}, []string{"31 tokens", "at most 30"}},
		{ParityOptions{Shapes: []string{"phi3-mini-shape"}, Layers: 1 << 20, Dir: t.TempDir()}, []string{"phi3-mini-shape", "does not fit", "--layers"}},
	} {
		_, err := Parity(context.Background(), nil, c.o)
		if err == nil {
			t.Fatalf("%+v: no error", c.o)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q does not mention %q", c.o, err, w)
			}
		}
	}
	// The parameter count of the phi3-mini shape at its 32 blocks is the published 3.82B.
	for _, s := range ParityShapes("", "") {
		if s.Name == "phi3-mini-shape" {
			if n := s.Params(s.Layers); n < 3.80e9 || n > 3.84e9 {
				t.Errorf("phi3-mini-shape: %d parameters, want about 3.82e9", n)
			}
		}
	}
}
