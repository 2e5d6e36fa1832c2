package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/model"
)

// TestArchGenerateScore: `align generate` and `align score` run on random-weight gemma2,
// gemma3 (PeakedGGUF), qwen3 and phi3 (WriteRandomGGUF: chatml BPE, Phi-3's vocabulary) GGUFs;
// the score of the generated text is its tokens' log-probs under the library's scoring, and a
// gemma3 file with a vision tower says it ignores it.
func TestArchGenerateScore(t *testing.T) {
	for _, arch := range []string{"gemma2", "gemma3", "qwen3", "phi3"} {
		path := filepath.Join(t.TempDir(), arch+".gguf")
		if arch == "qwen3" || arch == "phi3" {
			writeRandomArch(t, path, arch)
		}
		g := model.PeakedGGUF{Arch: arch, Layers: 6, Dim: 64, FFN: 128, Heads: 4, KVHeads: 2, HeadDim: 16,
			SlidingWindow: 8, Vocab: storiesGGUF, Seed: 5,
			ExtraKV: map[string]any{"tokenizer.ggml.add_space_prefix": false, "tokenizer.ggml.eot_token_id": uint32(2)}}
		switch arch {
		case "gemma3":
			g.VisionTensors = true
		case "gemma2":
			g.Tied, g.FFN = true, 512 // llama.cpp ties gemma2's head
		}
		if arch == "gemma2" || arch == "gemma3" {
			if err := g.Write(path); err != nil {
				t.Fatal(err)
			}
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
		t.Logf("%s: generated %q", arch, text)
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

// writeRandomArch writes a small random-weight qwen3 (chatml BPE) or phi3 (Phi-3's vocabulary)
// GGUF with the model package's generator.
func writeRandomArch(t *testing.T, path, arch string) {
	t.Helper()
	r := model.RandomGGUF{Config: model.Config{Arch: arch, Layers: 2, Dim: 64, FFN: 128, Heads: 4, KVHeads: 2, HeadDim: 16,
		RopeTheta: 10000, Eps: 1e-6, ContextLen: 512}, Vocab: model.VocabChatML, Seed: 7}
	if arch == "phi3" {
		r.Config.KVHeads, r.VocabFile = 4, filepath.Join("..", "..", "testdata", "vocab", "ggml-vocab-phi-3.gguf")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := model.WriteRandomGGUF(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
