package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/alignkit/align/kernels"
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
	for _, s := range ParityShapes("", "", false) {
		if s.Name == "phi3-mini-shape" {
			if n := s.Params(s.Layers); n < 3.80e9 || n > 3.84e9 {
				t.Errorf("phi3-mini-shape: %d parameters, want about 3.82e9", n)
			}
		}
	}
}

// TestParseParityTypes: the generators' four encodings in any case, and a clear refusal of
// the others.
func TestParseParityTypes(t *testing.T) {
	ts, err := ParseParityTypes([]string{"F16", "q8_0", "Q4_K", "f32"})
	if err != nil || len(ts) != 4 || ts[0] != kernels.TypeF16 || ts[1] != kernels.TypeQ8_0 || ts[2] != kernels.TypeQ4_K || ts[3] != kernels.TypeF32 {
		t.Fatalf("%v %v", ts, err)
	}
	for _, bad := range []string{"q6_k", "q4_0", "bf16"} {
		if _, err := ParseParityTypes([]string{"f16", bad}); err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
