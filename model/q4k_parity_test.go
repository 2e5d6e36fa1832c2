package model

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/alignkit/align/kernels"
)

// q4kArchs are small shapes whose matrices all have rows of whole Q4_K blocks (256 values):
// llama with Llama 3's vocabulary and phi3 (fused attn_qkv and ffn_up) with Phi-3's, on the
// llama.cpp runner, and untied qwen3 with heads wider than Dim/Heads on Ollama's Go engine. (A
// tied random qwen3 is nearly one-hot, log-probs ≈ 0, and would show nothing.)
func q4kArchs() []randomArch {
	base := Config{Layers: 2, Dim: 256, FFN: 512, Heads: 4, KVHeads: 2, HeadDim: 64, RopeTheta: 500000, Eps: 1e-6, ContextLen: 512}
	llama3 := base
	llama3.Arch = "llama"
	phi3 := base
	phi3.Arch, phi3.KVHeads, phi3.RopeTheta, phi3.Eps = "phi3", 4, 10000, 1e-5
	qwen3 := base
	qwen3.Arch, qwen3.HeadDim, qwen3.RopeTheta = "qwen3", 128, 1e6
	return []randomArch{
		{"align-rnd-llama3-q4k", RandomGGUF{Config: llama3, Vocab: VocabLlama3, Seed: 31}, false},
		{"align-rnd-phi3-q4k", RandomGGUF{Config: phi3, VocabFile: "../testdata/vocab/ggml-vocab-phi-3.gguf", Seed: 34}, false},
		{"align-rnd-qwen3-untied-q4k", RandomGGUF{Config: qwen3, Vocab: VocabChatML, Seed: 32}, true},
	}
}

// TestQ4KActivationParity: against Q4_K weights the runner's scalar ggml (llama.cpp's runner
// and Ollama's Go engine) quantizes each activation row to Q8_K (ggmlQ8KAct) and multiplies it
// with the file's blocks in ggml_vec_dot_q4_K_q8_K's integer sums (ggmlDotQ4K); F16KV does the
// same. On Q4_K random files (every matrix Q4_K: the shapes' rows are multiples of 256) of
// llama with Llama 3's vocabulary, phi3 and untied qwen3, the server's greedy log-probs for two
// raw prompts and a chat are matched by F16KV within 1e-5 per token and 1e-6 in the mean
// (exactly, in practice; the bounds are 1e-3 and 2e-3). The training path (float32
// activations, as F16KV without the Q8_K step) is held to 1e-1 in the mean, and must miss by
// more than 1e-3 on some sequence: the Q8_K rounding is what the re-enactment reproduces.
func TestQ4KActivationParity(t *testing.T) {
	c := ollamaClient(t)
	for _, ra := range q4kArchs() {
		t.Run(ra.name, func(t *testing.T) {
			path := writeRandomT(t, ra.spec, kernels.TypeQ4_K)
			n4 := 0
			for name, kt := range ggufTypes(t, path) {
				if kt[1] != 0 && kernels.GGMLType(kt[0]) != kernels.TypeQ4_K {
					t.Errorf("%s: %s, want Q4_K (rows of %d)", name, kernels.GGMLType(kt[0]), kt[1])
				}
				if kernels.GGMLType(kt[0]) == kernels.TypeQ4_K {
					n4++
				}
			}
			if n4 == 0 {
				t.Fatal("no Q4_K tensor written")
			}
			ollamaCreate(t, c, &api.CreateRequest{Model: ra.name, Files: map[string]string{filepath.Base(path): pushBlob(t, c, path)}})
			ref := loadT(t, path, LoadOptions{F16KV: true})
			// The re-enactment reads the file's blocks for every projection and the head.
			b := &ref.blocks[1]
			for _, w := range []ggmlWeight{ref.ggmlWeights(b.q.w, &b.q), ref.ggmlWeights(b.down.w, &b.down), ref.ggmlWeights(ref.lmHead(), nil)} {
				if w.typ != typeQ4_K || w.q4k == nil {
					t.Fatalf("F16KV weight: %s, blocks read %v", w.typ, w.q4k != nil)
				}
			}
			// The projections are kept encoded (residentEncoded): their blocks are the loaded
			// bytes themselves, not a copy and not float32. The head (a decoded table) is read
			// from the file once: a later pass gets the same blocks.
			// (phi3's fused q is read float32 at load, so its blocks come from the file, cached.)
			if w := ref.ggmlWeights(b.o.w, &b.o); b.o.q == nil || &w.q4k[0] != &b.o.q.raw[0] || w.data != nil || w.decodedSize() != 0 {
				t.Fatal("F16KV o projection: not the resident Q4_K blocks")
			}
			if again := ref.ggmlWeights(ref.lmHead(), nil); &again.q4k[0] != &ref.q4kRaw[ref.lmHead().Name][0] {
				t.Fatalf("the head's Q4_K blocks not cached: %d weights cached", len(ref.q4kRaw))
			}
			fast := loadT(t, path, LoadOptions{})
			worstFast := 0.0
			check := func(what string, seq Sequence, want []float64) {
				peaked(t, what, want)
				got, err := ref.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				comparePerToken(t, what, got[0], want, 1e-5, 1e-6)
				gotFast, err := fast.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				comparePerToken(t, what+" (training path)", gotFast[0], want, 1, 1e-1)
				var sum float64
				for i, g := range gotFast[0] {
					sum += math.Abs(float64(g) - want[i])
				}
				worstFast = max(worstFast, sum/float64(len(want)))
			}
			for _, p := range []string{"Once upon a time", "The quick brown fox jumps over"} {
				seq, want := ollamaGenerateRaw(t, c, ref, ra.name, p, 40)
				check(ra.name+" raw "+p, seq, want)
			}
			seq, want := ollamaChat(t, c, ref, ra.name, "What is the capital of France?", 40)
			check(ra.name+" chat", seq, want)
			if worstFast <= 1e-3 {
				t.Errorf("the training path's mean |Δ| is at most %.1e on every sequence: the Q8_K activations should show", worstFast)
			}
		})
	}
}
