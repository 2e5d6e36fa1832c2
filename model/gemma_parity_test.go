package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/alignkit/align/kernels"
)

// randomGemma is the small random-weight shape each gemma architecture's parity test writes: a
// window of 8 keys (the prompts plus 40 generated tokens reach well past it), stories260K's
// vocabulary (512 tokens; no space prefix, as Gemma's SentencePiece has none, and the end of
// turn set to </s> so that ollama's gemma3 tokenizer does not stop at its default id 106).
func randomGemma(arch string) PeakedGGUF {
	r := PeakedGGUF{Arch: arch, Layers: 4, Dim: 64, FFN: 128, Heads: 4, KVHeads: 2, HeadDim: 16,
		SlidingWindow: 8, Vocab: storiesPath, Seed: 11,
		ExtraKV: map[string]any{"tokenizer.ggml.add_space_prefix": false, "tokenizer.ggml.eot_token_id": uint32(2)}}
	switch arch {
	case "gemma2": // llama.cpp ties gemma2's head (it refuses output.weight): peaked by block 0's lookup FFN
		r.Tied, r.FFN = true, 512
	case "gemma3":
		r.Layers = 6 // blocks 0-4 local (sliding window, RoPE base 10⁴), block 5 global (10⁶)
	}
	return r
}

// gemmaTol is the bound on the mean per-token |Δ log-prob| against the server: 1e-3 on
// the llama.cpp runner (gemma2), 2e-3 on Ollama's Go engine (gemma3).
func gemmaTol(arch string) float64 {
	if arch == "gemma3" {
		return 2e-3
	}
	return 1e-3
}

// importGGUF pushes a GGUF into the test server as model name (num_thread 1, as
// scripts/ollama.sh imports its models), optionally with an adapter GGUF.
func importGGUF(t *testing.T, c *api.Client, name, path, adapter string) {
	t.Helper()
	req := &api.CreateRequest{Model: name, Files: map[string]string{filepath.Base(path): pushBlob(t, c, path)},
		Parameters: map[string]any{"num_thread": 1}}
	if adapter != "" {
		req.Adapters = map[string]string{filepath.Base(adapter): pushBlob(t, c, adapter)}
	}
	ollamaCreate(t, c, req)
}

// compareMean asserts the mean |Δ| within tol and every token within 20·tol, and returns the
// mean.
func compareMean(t *testing.T, what string, got []float32, want []float64, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d log-probs, Ollama gave %d", what, len(got), len(want))
	}
	worst, sum := 0.0, 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i])
		worst, sum = max(worst, d), sum+d
		if d > 20*tol {
			t.Errorf("%s token %d: align %.6f, Ollama %.6f (|Δ| %.2e)", what, i, got[i], want[i], d)
		}
	}
	mean := sum / float64(len(got))
	if mean > tol {
		t.Errorf("%s: mean |Δ| %.2e > %.0e", what, mean, tol)
	}
	t.Logf("%s: %d tokens, mean |Δ| = %.2e, max |Δ| = %.2e", what, len(got), mean, worst)
	return mean
}

var gemmaPrompts = []string{"Once upon a time", "Lily and Tom went to the park.", "The cat"}

// TestGemmaParityWithOllama: random-weight gemma2 and gemma3 GGUFs written by PeakedGGUF,
// imported into the real Ollama, generate greedily with logprobs; align scores the same tokens
// with the training path (within the bound) and with the runner re-enacted (F16KV): gemma2
// (llama.cpp) exactly, gemma3 (the Go engine) exactly up to the first token whose window
// wraps the engine's SWA cache (see docs/model.md) and within 2e-4 in the mean after it.
// The outputs must be peaked (most top log-probs above −1), longer than the window, and the
// scores of a model without its sliding window (or RoPE bases) must miss the server's by far
// more than the tolerance: the check sees those pieces.
func TestGemmaParityWithOllama(t *testing.T) {
	c := ollamaClient(t)
	for _, arch := range []string{"gemma2", "gemma3"} {
		t.Run(arch, func(t *testing.T) {
			r := randomGemma(arch)
			path := filepath.Join(t.TempDir(), arch+".gguf")
			if err := r.Write(path); err != nil {
				t.Fatal(err)
			}
			name := "align-random-" + arch
			importGGUF(t, c, name, path, "")
			m := loadT(t, path, LoadOptions{})
			ref := loadT(t, path, LoadOptions{F16KV: true})
			plain := loadT(t, path, LoadOptions{})
			plain.cfg.Window = 0
			tol := gemmaTol(arch)
			peaked, total := 0, 0
			var plainMean float64
			for _, p := range gemmaPrompts {
				seq, want := ollamaGenerate(t, c, m, name, p, 40)
				if len(seq.Tokens) <= 2*r.SlidingWindow {
					t.Fatalf("%q: %d tokens do not reach past the window", p, len(seq.Tokens))
				}
				for _, w := range want {
					total++
					if w > -1 {
						peaked++
					}
				}
				got, err := m.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				// align's own KV-cached greedy decode picks the server's tokens.
				np := len(seq.Tokens) - len(want)
				gen, err := m.Generate(context.Background(), seq.Tokens[:np], SampleOptions{MaxTokens: len(want)})
				if err != nil {
					t.Fatal(err)
				}
				if !equalIDs(gen, seq.Tokens[np:]) {
					t.Errorf("%q: align generates %v, Ollama %v", p, gen, seq.Tokens[np:])
				}
				compareMean(t, fmt.Sprintf("%s %q", arch, p), got[0], want, tol)
				gr, err := ref.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				if arch == "gemma2" {
					for i := range want {
						if float64(gr[0][i]) != want[i] {
							t.Errorf("%s %q token %d: F16KV %.9g, Ollama %.9g: not exact", arch, p, i, gr[0][i], want[i])
						}
					}
				} else {
					// exact while the window has not wrapped: the prompt's rows and the next tokens
					for i := range min(len(want), r.SlidingWindow+2-np) {
						if float64(gr[0][i]) != want[i] {
							t.Errorf("%s %q token %d (before the window wraps): F16KV %.9g, Ollama %.9g", arch, p, i, gr[0][i], want[i])
						}
					}
					compareMean(t, fmt.Sprintf("%s %q F16KV", arch, p), gr[0], want, 2e-4)
				}
				gp, _ := plain.LogProbs([]Sequence{seq})
				for i := range want {
					plainMean += math.Abs(float64(gp[0][i])-want[i]) / float64(len(want)*len(gemmaPrompts))
				}
			}
			if peaked < total*3/4 {
				t.Errorf("only %d of %d generated tokens have a log-prob above −1: not peaked", peaked, total)
			}
			if plainMean < 10*tol {
				t.Errorf("without the sliding window the mean |Δ| is only %.2e: the check does not see the window", plainMean)
			}
			t.Logf("%s: %d/%d tokens peaked; without the window mean |Δ| = %.2e", arch, peaked, total, plainMean)
		})
	}
}

// TestGemmaOllamaRoundTrip: LoRA on every projection of the random gemma models (B random, so
// the adapter matters), exported as a merged GGUF (F32 and F16) and as base + adapter GGUF,
// served by the real Ollama; align's scoring of the merged weights matches the server within
// the parity tolerance, and the base model scores the same tokens differently. Ollama's Go
// engine (gemma3) does not load LoRA adapters in v0.17.4 ("loras are not yet implemented",
// llm/server.go); the test checks that the server refuses it rather than silently serving the
// base.
func TestGemmaOllamaRoundTrip(t *testing.T) {
	c := ollamaClient(t)
	for _, arch := range []string{"gemma2", "gemma3"} {
		t.Run(arch, func(t *testing.T) {
			dir := t.TempDir()
			r := randomGemma(arch)
			base := filepath.Join(dir, arch+".gguf")
			if err := r.Write(base); err != nil {
				t.Fatal(err)
			}
			m := loadT(t, base, LoadOptions{LoRA: &LoRAConfig{Rank: 4, Alpha: 8, Seed: 9}})
			rng := rand.New(rand.NewPCG(1, 1))
			for _, l := range m.loraLinears() {
				for i := range l.lora.b.Data {
					l.lora.b.Data[i] = float32(0.2 * rng.NormFloat64())
				}
			}
			if n := len(m.loraLinears()); n != 7*r.Layers {
				t.Fatalf("%d adapted projections, want %d", n, 7*r.Layers)
			}
			files := map[string]string{}
			for name, write := range map[string]func(f *os.File) error{
				"merged-f32.gguf": func(f *os.File) error { return m.WriteMergedGGUF(f, kernels.TypeF32) },
				"merged-f16.gguf": func(f *os.File) error { return m.WriteMergedGGUF(f, kernels.TypeF16) },
				"adapter.gguf":    func(f *os.File) error { return m.WriteAdapterGGUF(f) },
			} {
				files[name] = filepath.Join(dir, name)
				f, err := os.Create(files[name])
				if err != nil {
					t.Fatal(err)
				}
				if err := write(f); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			plain := loadT(t, base, LoadOptions{})
			tol := gemmaTol(arch)
			check := func(served, scoredBy string) {
				scorer := loadT(t, scoredBy, LoadOptions{})
				for _, p := range gemmaPrompts[:2] {
					seq, want := ollamaGenerate(t, c, scorer, served, p, 32)
					got, err := scorer.LogProbs([]Sequence{seq})
					if err != nil {
						t.Fatal(err)
					}
					compareMean(t, fmt.Sprintf("%s %q", served, p), got[0], want, tol)
					gb, _ := plain.LogProbs([]Sequence{seq})
					if d := maxAbsDiff(gb[0], got[0]); d < 1e-2 {
						t.Errorf("%s: base and adapted scores differ by only %g: adapter not applied?", served, d)
					}
				}
			}
			for _, typ := range []string{"f32", "f16"} {
				name := "align-" + arch + "-merged-" + typ
				importGGUF(t, c, name, files["merged-"+typ+".gguf"], "")
				check(name, files["merged-"+typ+".gguf"])
			}
			name := "align-" + arch + "-adapter"
			importGGUF(t, c, name, base, files["adapter.gguf"])
			if arch == "gemma3" {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				stream := false
				err := c.Generate(ctx, &api.GenerateRequest{Model: name, Prompt: "Once", Stream: &stream, Options: greedyOptions(4)}, func(api.GenerateResponse) error { return nil })
				if err == nil {
					t.Fatal("Ollama v0.17.4's Go engine served gemma3 with a LoRA adapter; the adapter round trip can now be checked")
				}
				t.Logf("gemma3 + adapter refused by Ollama as expected: %v", err)
				return
			}
			check(name, files["merged-f32.gguf"])
		})
	}
}

// TestGemmaRealShapeParity: gemma3 at gemma3-270M's shape (18 blocks of dim 640, FFN 2048, 4
// heads of 256 sharing one KV head, window 512, tied head; stories260K's vocabulary instead of
// the 262k one) with random F16 and Q8_0 weights, against the real server.
func TestGemmaRealShapeParity(t *testing.T) {
	c := ollamaClient(t)
	for _, typ := range []kernels.GGMLType{kernels.TypeF16, kernels.TypeQ8_0} {
		t.Run(typ.String(), func(t *testing.T) {
			r := PeakedGGUF{Arch: "gemma3", Layers: 18, Dim: 640, FFN: 2048, Heads: 4, KVHeads: 1, HeadDim: 256,
				SlidingWindow: 512, ContextLen: 32768, Vocab: storiesPath, Seed: 13, Type: typ, Tied: true, TiedHeadGain: 0.35,
				ExtraKV: map[string]any{"tokenizer.ggml.add_space_prefix": false, "tokenizer.ggml.eot_token_id": uint32(2)}}
			path := filepath.Join(t.TempDir(), "gemma3-270m-shape.gguf")
			if err := r.Write(path); err != nil {
				t.Fatal(err)
			}
			name := "align-gemma3-270m-shape-" + typ.String()
			importGGUF(t, c, name, path, "")
			m := loadT(t, path, LoadOptions{})
			peaked, total := 0, 0
			for _, p := range gemmaPrompts[:2] {
				seq, want := ollamaGenerate(t, c, m, name, p, 24)
				for _, w := range want {
					total++
					if w > -1 {
						peaked++
					}
				}
				got, err := m.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				compareMean(t, fmt.Sprintf("%s %q", name, p), got[0], want, gemmaTol("gemma3"))
				t.Logf("server log-probs %v", want[:6])
			}
			if peaked < total*3/4 {
				t.Errorf("only %d of %d tokens peaked", peaked, total)
			}
		})
	}
}
