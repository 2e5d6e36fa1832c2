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
	// At their published depths and with the padded vocabularies, the shapes' parameter counts
	// are the published ones: Qwen3-0.6B 0.6B (0.44B without the embedding), Gemma 3 270M
	// (170M of them the embedding), Gemma 2 2B 2.61B, Phi-3-mini 3.82B; with --small-vocab the
	// embeddings shrink to the test vocabularies'.
	published := map[string][2]float64{"qwen3-0.6b-shape": {0.59e9, 0.61e9}, "gemma3-270m-shape": {0.26e9, 0.28e9},
		"gemma2-2b-shape": {2.60e9, 2.62e9}, "phi3-mini-shape": {3.80e9, 3.84e9}}
	small := map[string]int64{}
	for _, s := range ParityShapes("", "", true) {
		small[s.Name] = s.Params(s.Layers)
	}
	for _, s := range ParityShapes("", "", false) {
		want := published[s.Name]
		n := s.Params(s.Layers)
		if float64(n) < want[0] || float64(n) > want[1] {
			t.Errorf("%s: %d parameters, want %.2e to %.2e", s.Name, n, want[0], want[1])
		}
		if rows, ok := ParityVocab[s.Name]; ok && n-small[s.Name] < int64(rows-1000)*256 {
			t.Errorf("%s: %d parameters padded, %d with the small vocabulary: the padding is not counted", s.Name, n, small[s.Name])
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
