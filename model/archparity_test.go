package model

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/alignkit/align/kernels"
)

// randomArch is one architecture's random-weight GGUF for the parity tests.
type randomArch struct {
	name string
	spec RandomGGUF
	// engine: Ollama v0.17.4 serves it in its own Go engine (fs/ggml OllamaEngineRequired),
	// not in the llama.cpp runner; its bound is 2e-3 instead of 1e-3.
	engine bool
}

// randomArchs are the small shapes the parity tests serve (two layers, GQA, 32-wide heads).
func randomArchs() []randomArch {
	base := Config{Layers: 2, Dim: 64, FFN: 128, Heads: 4, KVHeads: 2, HeadDim: 16, RopeTheta: 10000, Eps: 1e-6, ContextLen: 512}
	qwen3 := base
	qwen3.Arch, qwen3.HeadDim, qwen3.RopeTheta, qwen3.Tied = "qwen3", 32, 1e6, true // heads wider than Dim/Heads, as qwen3-0.6B
	qwen3u := qwen3
	qwen3u.Tied = false
	llama3 := base
	llama3.Arch, llama3.RopeTheta = "llama", 500000
	phi3 := base
	phi3.Arch, phi3.Heads, phi3.KVHeads = "phi3", 4, 4 // phi3's o is [Dim, Dim]: Heads·HeadDim = Dim
	phi3long := phi3
	// original_context_length 4096 (Phi-3-mini-128k's), at least Ollama's default num_ctx:
	// llama.cpp then takes the short factors.
	phi3long.ContextLen = 4096
	const phi3Vocab = "../testdata/vocab/ggml-vocab-phi-3.gguf"
	return []randomArch{
		{"align-rnd-phi3", RandomGGUF{Config: phi3, VocabFile: phi3Vocab, Seed: 4}, false},
		{"align-rnd-phi3-longrope", RandomGGUF{Config: phi3long, VocabFile: phi3Vocab, Seed: 5, LongRope: true}, false},
		{"align-rnd-qwen3", RandomGGUF{Config: qwen3, Vocab: VocabChatML, Seed: 1}, true},
		{"align-rnd-qwen3-untied", RandomGGUF{Config: qwen3u, Vocab: VocabChatML, Seed: 2}, true},
		{"align-rnd-llama3", RandomGGUF{Config: llama3, Vocab: VocabLlama3, Seed: 3}, false},
	}
}

// randomArchSpec is randomArchs' spec named name.
func randomArchSpec(t *testing.T, name string) RandomGGUF {
	t.Helper()
	for _, ra := range randomArchs() {
		if ra.name == name {
			return ra.spec
		}
	}
	t.Fatalf("no random architecture %q", name)
	return RandomGGUF{}
}

// writeRandomFile writes spec to path (WriteRandomGGUF).
func writeRandomFile(t *testing.T, path string, spec RandomGGUF) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteRandomGGUF(f, spec); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeRandomT writes spec (as typ) into the test's temporary directory.
func writeRandomT(t *testing.T, spec RandomGGUF, typ kernels.GGMLType) string {
	t.Helper()
	spec.Type = typ
	path := filepath.Join(t.TempDir(), spec.Config.Arch+".gguf")
	writeRandomFile(t, path, spec)
	return path
}

// ollamaChat generates through the server's template (a /api/generate without raw, as `align
// generate` sends it) and returns the sequence align's Encode builds for the same user prompt
// followed by the generated tokens, with the server's log-probs. Ollama's context (the
// templated prompt re-tokenized with the output) must start with Encode's prompt tokens.
func ollamaChat(t *testing.T, c *api.Client, m *Model, name, prompt string, n int) (Sequence, []float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var final api.GenerateResponse
	var lps []float64
	var pieces []string
	stream := false
	err := c.Generate(ctx, &api.GenerateRequest{Model: name, Prompt: prompt, Stream: &stream, Logprobs: true, Options: greedyOptions(n)},
		func(r api.GenerateResponse) error {
			for _, l := range r.Logprobs {
				lps = append(lps, l.Logprob)
				pieces = append(pieces, l.Token)
			}
			final = r
			return nil
		})
	if err != nil {
		t.Fatalf("ollama generate %s: %v", name, err)
	}
	enc, err := m.Encode([]Message{{Role: "user", Content: prompt}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ptoks := enc.Tokens
	if m.tmpl != nil { // Encode ends an (empty) response with the end-of-turn token
		ptoks = ptoks[:len(ptoks)-1]
	}
	var ctxIDs []int32
	if m.vocab.AddBOS {
		ctxIDs = append(ctxIDs, m.vocab.BOS[0])
	}
	for _, id := range final.Context {
		ctxIDs = append(ctxIDs, int32(id))
	}
	if len(final.Context) == 0 {
		// Ollama's Go engine (qwen3) returns no context: the server must have evaluated as
		// many prompt tokens as Encode's rendering has (a fresh model: no prompt cache yet
		// for this text). v0.17.4's engine may report no count either: then the log-probs'
		// agreement below is what shows the prompts were the same.
		if final.PromptEvalCount != 0 && final.PromptEvalCount != len(ptoks) {
			t.Fatalf("%s %q: the server evaluated %d prompt tokens, Encode's prompt has %d", name, prompt, final.PromptEvalCount, len(ptoks))
		}
		ctxIDs = ptoks
	}
	if len(ctxIDs) < len(ptoks) || !equalIDs(ctxIDs[:len(ptoks)], ptoks) {
		t.Fatalf("%s %q: Encode's prompt = %v, Ollama's context starts %v", name, prompt, ptoks, ctxIDs[:min(len(ctxIDs), len(ptoks))])
	}
	byPiece := map[string]int32{}
	for id := range m.vocab.Values {
		byPiece[m.TokenString(int32(id))] = int32(id)
	}
	toks := slices.Clone(ptoks)
	for i, p := range pieces {
		id, ok := byPiece[p]
		if !ok {
			t.Fatalf("%s: generated token %d %q is no vocabulary entry", name, i, p)
		}
		toks = append(toks, id)
	}
	seq := Sequence{Tokens: toks, Mask: make([]bool, len(toks))}
	for i := len(ptoks); i < len(toks); i++ {
		seq.Mask[i] = true
	}
	return restoreDropped(t, m, name, seq, lps, final), lps
}

// peaked asserts that the greedy tokens' log-probs (the top token's at each position) are
// above −1 at most positions: near-uniform logits would hide differences.
func peaked(t *testing.T, what string, lps []float64) {
	t.Helper()
	n := 0
	for _, l := range lps {
		if l > -1 {
			n++
		}
	}
	if 2*n <= len(lps) {
		t.Errorf("%s: the top token's log-prob is above −1 at only %d of %d positions: logits too flat", what, n, len(lps))
	}
}

// TestRandomArchParity: for each architecture, a random-weight GGUF (F32 and F16) written by
// WriteRandomGGUF is imported into the real Ollama v0.17.4, generates greedily with log-probs
// (raw prompts and through its chat template), and align scores the same tokens: the server
// re-enactment (F16KV) within the runner's bound (mean |Δ| ≤ 1e-3 llama.cpp runner, ≤ 2e-3
// Ollama's engine), the training path within 1e-2.
func TestRandomArchParity(t *testing.T) {
	c := ollamaClient(t)
	for _, ra := range randomArchs() {
		types := []kernels.GGMLType{kernels.TypeF16}
		if ra.engine || ra.name == "align-rnd-phi3" {
			types = append(types, kernels.TypeF32)
		}
		for _, typ := range types {
			name := ra.name + "-" + typ.String()
			t.Run(name, func(t *testing.T) {
				path := writeRandomT(t, ra.spec, typ)
				ollamaCreate(t, c, &api.CreateRequest{Model: name, Files: map[string]string{filepath.Base(path): pushBlob(t, c, path)}})
				ref := loadT(t, path, LoadOptions{F16KV: true})
				fast := loadT(t, path, LoadOptions{})
				meanTol := 1e-3
				if ra.engine {
					meanTol = 2e-3
				}
				check := func(what string, seq Sequence, want []float64) {
					peaked(t, what, want)
					got, err := ref.LogProbs([]Sequence{seq})
					if err != nil {
						t.Fatal(err)
					}
					comparePerToken(t, what, got[0], want, 2e-2, meanTol)
					gotFast, err := fast.LogProbs([]Sequence{seq})
					if err != nil {
						t.Fatal(err)
					}
					comparePerToken(t, what+" (training path)", gotFast[0], want, 5e-2, 1e-2)
				}
				for _, p := range []string{"Once upon a time", "The quick brown fox jumps over"} {
					seq, want := ollamaGenerateRaw(t, c, ref, name, p, 40)
					check(name+" raw "+p, seq, want)
				}
				seq, want := ollamaChat(t, c, ref, name, "What is the capital of France?", 40)
				check(name+" chat", seq, want)
			})
		}
	}
}

// TestRandomArchRoundTrip: for qwen3 (untied), phi3 and llama with a Llama 3 vocabulary, a
// LoRA on every projection (B randomised, so that it matters) is exported as a merged GGUF
// and as an adapter GGUF; Ollama serves the merged file, and base + adapter where the runner
// takes adapters (the llama.cpp runner; Ollama v0.17.4's Go engine refuses LoRA adapters:
// "loras are not yet implemented"), and align's scoring of the merged weights matches the
// server within the runner's bound.
func TestRandomArchRoundTrip(t *testing.T) {
	c := ollamaClient(t)
	for _, ra := range randomArchs() {
		if ra.name != "align-rnd-qwen3-untied" && ra.name != "align-rnd-phi3" && ra.name != "align-rnd-llama3" {
			continue
		}
		t.Run(ra.name, func(t *testing.T) {
			base := writeRandomT(t, ra.spec, kernels.TypeF16)
			m := loadT(t, base, LoadOptions{LoRA: &LoRAConfig{Rank: 4, Alpha: 8, Seed: 3}})
			rng := rand.New(rand.NewPCG(5, 6))
			for _, p := range m.Params() {
				if strings.HasSuffix(p.Name, ".lora_b") {
					for i := range p.Data {
						p.Data[i] = float32(0.5 * rng.NormFloat64())
					}
				}
			}
			dir := t.TempDir()
			merged, adapter := filepath.Join(dir, "merged.gguf"), filepath.Join(dir, "adapter.gguf")
			for path, write := range map[string]func(*os.File) error{
				merged:  func(f *os.File) error { return m.WriteMergedGGUF(f, kernels.TypeF32) },
				adapter: func(f *os.File) error { return m.WriteAdapterGGUF(f) },
			} {
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := write(f); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			names := []string{ra.name + "-merged"}
			ollamaCreate(t, c, &api.CreateRequest{Model: names[0], Files: map[string]string{"merged.gguf": pushBlob(t, c, merged)}})
			if !ra.engine {
				names = append(names, ra.name+"-adapter")
				ollamaCreate(t, c, &api.CreateRequest{Model: names[1], Files: map[string]string{filepath.Base(base): pushBlob(t, c, base)},
					Adapters: map[string]string{"adapter.gguf": pushBlob(t, c, adapter)}})
			}
			scorer := loadT(t, merged, LoadOptions{F16KV: true})
			plain := loadT(t, base, LoadOptions{F16KV: true})
			meanTol := 1e-3
			if ra.engine {
				meanTol = 2e-3
			}
			// base + adapter is scored as the runner computes it: the F16 base with the adapter
			// beside it (build_lora_mm), the same adapter loaded into an F16KV model.
			var ab bytes.Buffer
			if err := m.SaveAdapter(&ab); err != nil {
				t.Fatal(err)
			}
			withAdapter := loadT(t, base, LoadOptions{F16KV: true, LoRA: &LoRAConfig{Rank: 4, Alpha: 8}})
			if err := withAdapter.LoadAdapter(&ab); err != nil {
				t.Fatal(err)
			}
			for _, name := range names {
				sc := scorer
				if strings.HasSuffix(name, "-adapter") {
					sc = withAdapter
				}
				seq, want := ollamaChat(t, c, sc, name, "Tell me a story about a cat.", 32)
				got, err := sc.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				comparePerToken(t, name, got[0], want, 2e-2, meanTol)
				gb, _ := plain.LogProbs([]Sequence{seq})
				if d := maxAbsDiff(gb[0], got[0]); d < 1e-2 {
					t.Errorf("%s: base and adapted scores differ by only %g: adapter not applied?", name, d)
				}
			}
		})
	}
}

// TestQ8_0ActivationParity: against Q8_0 weights the runner (llama.cpp's, and Ollama's Go
// engine: the same scalar ggml build) quantizes each activation row to Q8_0 before the dot
// products and sums them block by block in float32; the F16KV re-enactment does the same
// (ggmlQ8_0Act, ggmlDotQ8_0). On Q8_0 copies of the llama 3, phi3 and untied qwen3 random files
// the server's greedy log-probs for two raw prompts are matched within 1e-6 (exactly, in
// practice), where float32 activations miss by about 2.6e-2, and the AVX build's quantization
// (round-half-even of x·127/amax) with float64 sums by up to 1e-2 on some prompts.
func TestQ8_0ActivationParity(t *testing.T) {
	c := ollamaClient(t)
	for _, ra := range randomArchs() {
		if ra.name != "align-rnd-llama3" && ra.name != "align-rnd-phi3" && ra.name != "align-rnd-qwen3-untied" {
			continue
		}
		name := ra.name + "-Q8_0"
		t.Run(name, func(t *testing.T) {
			path := writeRandomT(t, ra.spec, kernels.TypeQ8_0)
			ollamaCreate(t, c, &api.CreateRequest{Model: name, Files: map[string]string{filepath.Base(path): pushBlob(t, c, path)}})
			ref := loadT(t, path, LoadOptions{F16KV: true})
			for _, p := range []string{"Once upon a time", "The quick brown fox jumps over. Once upon a time"} {
				seq, want := ollamaGenerateRaw(t, c, ref, name, p, 40)
				peaked(t, name, want)
				got, err := ref.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				comparePerToken(t, name+" "+p, got[0], want, 1e-5, 1e-6)
			}
		})
	}
}
