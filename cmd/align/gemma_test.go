package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/model"
)

// TestGemmaGenerateScore: `align generate` and `align score` run on random-weight gemma2 and
// gemma3 GGUFs; the score of the generated text is its tokens' log-probs under the library's
// scoring, and a gemma3 file with a vision tower says it ignores it.
func TestGemmaGenerateScore(t *testing.T) {
	for _, arch := range []string{"gemma2", "gemma3"} {
		path := filepath.Join(t.TempDir(), arch+".gguf")
		g := model.PeakedGGUF{Arch: arch, Layers: 6, Dim: 64, FFN: 128, Heads: 4, KVHeads: 2, HeadDim: 16,
			SlidingWindow: 8, Vocab: storiesGGUF, Seed: 5,
			ExtraKV: map[string]any{"tokenizer.ggml.add_space_prefix": false, "tokenizer.ggml.eot_token_id": uint32(2)}}
		if arch == "gemma3" {
			g.VisionTensors = true
		} else {
			g.Tied, g.FFN = true, 512 // llama.cpp ties gemma2's head
		}
		if err := g.Write(path); err != nil {
			t.Fatal(err)
		}
		out, err := runAlign(t, "generate", "--model", path, "--prompt", "Once upon a time", "--max-tokens", "16")
		i := strings.Index(out, "Once upon a time") // stderr's note comes first in the shared buffer
		if err != nil || i < 0 || len(out) <= i+len("Once upon a time\n") {
			t.Fatalf("%s: generate: %v\n%s", arch, err, out)
		}
		if arch == "gemma3" && !strings.Contains(out, "vision tensors") {
			t.Errorf("gemma3 with a vision tower: no note in\n%s", out)
		}
		text := strings.TrimSuffix(out[i+len("Once upon a time"):], "\n")
		out, err = runAlign(t, "score", "--model", path, "--prompt", "Once upon a time", "--response", text, "--json")
		if err != nil {
			t.Fatalf("%s: score: %v\n%s", arch, err, out)
		}
		var res struct {
			Tokens []struct {
				ID      int32
				LogProb float32 `json:"logprob"`
			}
			Sum float64
		}
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil || len(res.Tokens) == 0 {
			t.Fatalf("%s: score --json: %v\n%s", arch, err, out)
		}
		m, err := model.Load(path, model.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.Score("Once upon a time", text)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, w := range want {
			sum += float64(w.LogProb)
		}
		if len(want) != len(res.Tokens) || math.Abs(sum-res.Sum) > 1e-4 {
			t.Errorf("%s: score printed %d tokens, sum %.5f; the library scores %d, sum %.5f", arch, len(res.Tokens), res.Sum, len(want), sum)
		}
	}
}
