package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/alignkit/align/kernels"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/runtime"
)

// ParityShape is one real model shape that `align bench parity` writes with random weights,
// with the generator the model package's parity tests use for that architecture:
// model.WriteRandomGGUF (qwen3, phi3: logits of std 10 through the head) or model.PeakedGGUF
// (gemma2, gemma3: a tied head, peaked through block 0's lookup FFN).
type ParityShape struct {
	Name string
	Arch string
	// Engine: Ollama v0.17.4 serves the architecture in its own Go engine (bound 2e-3), not in
	// the llama.cpp runner (bound 1e-3).
	Engine bool
	// F16KV scores with model.LoadOptions.F16KV, the runner re-enacted (every shape, as
	// TestRandomArchParity and TestGemmaParityWithOllama do); false scores with the training
	// path.
	F16KV bool
	// Raw sends the prompts with raw=true (TestRandomArchParity's raw prompts); otherwise through
	// the file's template, which for the stories vocabulary is the prompt itself
	// (TestGemmaParityWithOllama).
	Raw     bool
	Prompts []string
	// Layers is the published block count; Params the parameter count at layers blocks.
	Layers int
	Params func(layers int) int64
	write  func(path string, typ kernels.GGMLType, layers int) error
}

// writerBytesPerParam bounds the generators' peak RSS per parameter: the float32 model, with
// the encoding done in bounded chunks and phi3's fused tensors written from their parts
// (measured: 15.0 GB for phi3-mini-shape's 3.82B parameters at Q4_K, 10.3 GB for
// gemma2-2b-shape's 2.61B, docs/model.md), the figure Parity checks against the available
// memory before it writes a file.
const writerBytesPerParam = 5

// blockParams is the parameter count of a shape: embeddings (and an untied head) plus layers
// blocks of attention and gated FFN.
func blockParams(vocab, dim, ffn, heads, kvHeads, headDim int, tied bool) func(int) int64 {
	return func(layers int) int64 {
		q, kv := int64(heads*headDim), int64(kvHeads*headDim)
		d := int64(dim)
		n := int64(vocab) * d
		if !tied {
			n *= 2
		}
		return n + int64(layers)*(2*d*q+2*d*kv+3*d*int64(ffn))
	}
}

// Bound is the bound on the mean per-token |Δ log-prob| for the shape's runner.
func (s ParityShape) Bound() float64 {
	if s.Engine {
		return 2e-3
	}
	return 1e-3
}

// ParityShapes are qwen3-0.6B, gemma3-270M, gemma2-2B and phi3-mini at their published block
// shapes. The gemma heads' gains (output_norm, TiedHeadGain) keep the server's mean log-prob
// near −0.3: the tied logits grow as gain·√dim, so gemma2's 2304 takes about half of gemma3's
// 0.35 at 640 (at 0.35 gemma2's log-probs were −0.003, a near one-hot model). The vocabularies
// are the small-shape tests' (the real ones are not shipped): qwen3 the repository's chatml BPE
// (model.VocabChatML, 259 tokens), gemma stories260K's 512 pieces, phi3 Phi-3's real
// 32064-token vocabulary (llama.cpp's ggml-vocab-phi-3.gguf); unless smallVocab, the qwen3 and
// gemma ones are padded (PadVocab: unused tokens no prompt encodes to) to the real models'
// embedding rows, ParityVocab's, so that the head's product and the softmax run over as many
// logits as the real models'. stories and phi3Vocab are those two GGUFs.
func ParityShapes(stories, phi3Vocab string, smallVocab bool) []ParityShape {
	rows := func(name string, small int) int {
		if smallVocab {
			return small
		}
		return ParityVocab[name]
	}
	pad := func(name string) int {
		if smallVocab {
			return 0
		}
		return ParityVocab[name]
	}
	rawPrompts := []string{"Once upon a time", "The quick brown fox jumps over"}
	gemmaPrompts := []string{"Once upon a time", "Lily and Tom went to the park."}
	random := func(c model.Config, r model.RandomGGUF) func(string, kernels.GGMLType, int) error {
		return func(path string, typ kernels.GGMLType, layers int) error {
			r.Config, r.Type = c, typ
			r.Config.Layers = layers
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			if err := model.WriteRandomGGUF(f, r); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
	}
	peaked := func(r model.PeakedGGUF) func(string, kernels.GGMLType, int) error {
		return func(path string, typ kernels.GGMLType, layers int) error {
			r.Type, r.Layers = typ, layers
			return r.Write(path)
		}
	}
	gemmaKV := func() map[string]any {
		return map[string]any{"tokenizer.ggml.add_space_prefix": false, "tokenizer.ggml.eot_token_id": uint32(2)}
	}
	return []ParityShape{
		{Name: "qwen3-0.6b-shape", Arch: "qwen3", Engine: true, F16KV: true, Raw: true, Prompts: rawPrompts,
			Layers: 28, Params: blockParams(rows("qwen3-0.6b-shape", 1000), 1024, 3072, 16, 8, 128, true),
			write: random(model.Config{Arch: "qwen3", Layers: 28, Dim: 1024, FFN: 3072, Heads: 16, KVHeads: 8, HeadDim: 128,
				RopeTheta: 1e6, Eps: 1e-6, ContextLen: 40960, Tied: true}, model.RandomGGUF{Vocab: model.VocabChatML, Seed: 21, PadVocab: pad("qwen3-0.6b-shape")})},
		{Name: "gemma3-270m-shape", Arch: "gemma3", Engine: true, F16KV: true, Prompts: gemmaPrompts,
			Layers: 18, Params: blockParams(rows("gemma3-270m-shape", 512), 640, 2048, 4, 1, 256, true),
			write: peaked(model.PeakedGGUF{Arch: "gemma3", Layers: 18, Dim: 640, FFN: 2048, Heads: 4, KVHeads: 1, HeadDim: 256,
				SlidingWindow: 512, ContextLen: 32768, Vocab: stories, Seed: 13, Tied: true, TiedHeadGain: 0.35, ExtraKV: gemmaKV(), PadVocab: pad("gemma3-270m-shape")})},
		{Name: "gemma2-2b-shape", Arch: "gemma2", F16KV: true, Prompts: gemmaPrompts,
			Layers: 26, Params: blockParams(rows("gemma2-2b-shape", 512), 2304, 9216, 8, 4, 256, true),
			write: peaked(model.PeakedGGUF{Arch: "gemma2", Layers: 26, Dim: 2304, FFN: 9216, Heads: 8, KVHeads: 4, HeadDim: 256,
				SlidingWindow: 4096, ContextLen: 8192, Vocab: stories, Seed: 17, Tied: true, TiedHeadGain: 0.18, ExtraKV: gemmaKV(), PadVocab: pad("gemma2-2b-shape")})},
		{Name: "phi3-mini-shape", Arch: "phi3", F16KV: true, Raw: true, Prompts: rawPrompts,
			Layers: 32, Params: blockParams(32064, 3072, 8192, 32, 32, 96, false),
			write: random(model.Config{Arch: "phi3", Layers: 32, Dim: 3072, FFN: 8192, Heads: 32, KVHeads: 32,
				RopeTheta: 1e4, Eps: 1e-5, ContextLen: 4096}, model.RandomGGUF{VocabFile: phi3Vocab, Seed: 23})},
	}
}

// ParityVocab is the embedding rows of the real models whose shapes ParityShapes pads its
// vocabularies to: Qwen3-0.6B's 151936, Gemma 2's 256000, Gemma 3's 262144 (phi3-mini's
// vocabulary is Phi-3's own 32064).
var ParityVocab = map[string]int{"qwen3-0.6b-shape": 151936, "gemma3-270m-shape": 262144, "gemma2-2b-shape": 256000}

// ParityOptions configure Parity.
type ParityOptions struct {
	Shapes  []string           // subset of ParityShapes' names (nil = all)
	Types   []kernels.GGMLType // weight encodings (nil = F16 and Q8_0)
	Tokens  int                // greedy tokens per prompt (0 = 30, at most 30)
	Prompts int                // prompts per shape, from the first (0 = all: two)
	// Layers, when > 0, writes that many blocks instead of the published count: the block
	// shape (widths, heads, vocabulary) is the real one, the depth is not (for a shape whose
	// file does not fit in memory); the results' Model then ends in "-<n>l".
	Layers             int
	Dir                string // where the GGUFs are written ("" = the system's temporary directory); each is removed after its check
	Stories, Phi3Vocab string
	// TrainingPath also scores with the training path (model.LoadOptions{}) where the check
	// scored with F16KV, and reports its mean |Δ| (no bound: 1e-2 in the tests).
	TrainingPath bool
	// SmallVocab writes the qwen3 and gemma shapes with the small-shape tests' vocabularies
	// unpadded (259 and 512 tokens), as the runs before the padding did.
	SmallVocab bool
	Logf       func(format string, args ...any) // progress (nil = none)
	OnResult   func(ParityResult)
}

// ParityResult is one line of `align bench parity --json`: one (shape, type, prompt).
type ParityResult struct {
	Model        string  `json:"model"`
	Layers       int     `json:"layers"`
	Arch         string  `json:"arch"`
	Type         string  `json:"type"`
	Runner       string  `json:"runner"` // llama.cpp | ollama-engine
	Scorer       string  `json:"scorer"` // f16kv (the runner re-enacted) | default
	Prompt       string  `json:"prompt"`
	Tokens       int     `json:"tokens"`       // scored generated tokens
	Peaked       int     `json:"peaked"`       // of them, with the server's log-prob above −1
	Dropped      int     `json:"dropped"`      // generated tokens whose log-prob the server did not send (restored unscored)
	MeanLogProb  float64 `json:"mean_logprob"` // the server's, over the scored tokens
	MeanAbsDiff  float64 `json:"mean_abs_diff"`
	MaxAbsDiff   float64 `json:"max_abs_diff"`
	Bound        float64 `json:"bound"`
	Pass         bool    `json:"pass"`
	TrainingMean float64 `json:"training_path_mean_abs_diff,omitempty"`
	GGUFBytes    int64   `json:"gguf_bytes"`
}

// ParseParityTypes reads --types: the encodings the parity generators write (f16, q8_0, q4_k,
// f32; a Q4_K file's rows that are not whole 256-value blocks are Q8_0).
func ParseParityTypes(names []string) ([]kernels.GGMLType, error) {
	parityTypes := []kernels.GGMLType{kernels.TypeF16, kernels.TypeQ8_0, kernels.TypeQ4_K, kernels.TypeF32}
	var out []kernels.GGMLType
	for _, n := range names {
		i := slices.IndexFunc(parityTypes, func(t kernels.GGMLType) bool { return strings.EqualFold(n, t.String()) })
		if i < 0 {
			return nil, fmt.Errorf("--types %q: want f16, q8_0, q4_k or f32 (the generators' encodings)", n)
		}
		out = append(out, parityTypes[i])
	}
	return out, nil
}

// Parity writes each shape at each type, imports it into the pool's server, generates greedily
// with log-probs and scores the same tokens with align; it returns every result, and an error
// when a step fails or a result misses its bound (after all ran).
func Parity(ctx context.Context, pool *runtime.Pool, o ParityOptions) ([]ParityResult, error) {
	if o.Tokens == 0 {
		o.Tokens = 30
	}
	if o.Tokens > 30 {
		// Ollama v0.17.4 (llm/server.go Completion) ends a generation whose pieces, trimmed of
		// spaces, repeat 31 times in a row (an empty one counts as the first) without its done
		// message, which a random model's loop reaches.
		return nil, fmt.Errorf("bench parity: %d tokens per prompt: at most 30 (Ollama ends a run of 31 equal pieces without done)", o.Tokens)
	}
	if len(o.Types) == 0 {
		o.Types = []kernels.GGMLType{kernels.TypeF16, kernels.TypeQ8_0}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	shapes := ParityShapes(o.Stories, o.Phi3Vocab, o.SmallVocab)
	var names []string
	for _, s := range shapes {
		names = append(names, s.Name)
	}
	for _, n := range o.Shapes {
		if !slices.Contains(names, n) {
			return nil, fmt.Errorf("bench parity: unknown shape %q (want one of %s)", n, strings.Join(names, ", "))
		}
	}
	var all []ParityResult
	var missed []string
	for _, s := range shapes {
		if len(o.Shapes) > 0 && !slices.Contains(o.Shapes, s.Name) {
			continue
		}
		for _, typ := range o.Types {
			rs, err := parityOne(ctx, pool, s, typ, o)
			if err != nil {
				return all, fmt.Errorf("bench parity %s %s: %w", s.Name, typ, err)
			}
			for _, r := range rs {
				if !r.Pass {
					missed = append(missed, fmt.Sprintf("%s %s %q: mean |Δ| %.2e > %.0e", r.Model, r.Type, r.Prompt, r.MeanAbsDiff, r.Bound))
				}
				if o.OnResult != nil {
					o.OnResult(r)
				}
			}
			all = append(all, rs...)
		}
	}
	if len(missed) > 0 {
		return all, errors.New("bench parity: " + strings.Join(missed, "; "))
	}
	return all, nil
}

func parityOne(ctx context.Context, pool *runtime.Pool, s ParityShape, typ kernels.GGMLType, o ParityOptions) ([]ParityResult, error) {
	dir := o.Dir
	if dir == "" {
		dir = os.TempDir()
	}
	layers, label := s.Layers, s.Name
	if o.Layers > 0 {
		layers, label = o.Layers, fmt.Sprintf("%s-%dl", s.Name, o.Layers)
	}
	name := "align-parity-" + label + "-" + strings.ToLower(typ.String())
	path := filepath.Join(dir, name+".gguf")
	need := writerBytesPerParam * s.Params(layers)
	debug.FreeOSMemory() // the previous file's heap, so that it does not count against this one
	if avail := model.AvailableMemory(); avail > 0 && need > avail {
		return nil, fmt.Errorf("writing the %d-block file needs about %.1f GB (%.2fB parameters × %d bytes, the generator's float32 model and buffers), %.1f GB are available: it does not fit; --layers writes fewer blocks of the same shape",
			layers, float64(need)/1e9, float64(s.Params(layers))/1e9, writerBytesPerParam, float64(avail)/1e9)
	}
	o.Logf("%s: writing %s (%.2fB parameters)", name, path, float64(s.Params(layers))/1e9)
	if err := s.write(path, typ, layers); err != nil {
		return nil, err
	}
	defer os.Remove(path)
	debug.FreeOSMemory() // the generator's float32 model, before the server's runner loads the file
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	o.Logf("%s: %d MB written; importing", name, st.Size()>>20)
	if _, err := pool.Create(ctx, runtime.CreateRequest{Name: name, GGUF: path}); err != nil {
		return nil, err
	}
	defer pool.Delete(context.WithoutCancel(ctx), name)
	// Generate first, so that the server's runner can be unloaded (OLLAMA_KEEP_ALIVE=0) before
	// align loads the same weights.
	var gens []runtime.GenerateResult
	if o.Prompts > 0 && o.Prompts < len(s.Prompts) {
		s.Prompts = s.Prompts[:o.Prompts]
	}
	for _, p := range s.Prompts {
		o.Logf("%s: generating %q", name, p)
		g, err := pool.Generate(ctx, runtime.GenerateRequest{Model: name, Prompt: p, Raw: s.Raw, Logprobs: true, Seed: 1,
			Options: runtime.GreedyOptions(o.Tokens)})
		if err != nil {
			return nil, err
		}
		if len(g.Logprobs) == 0 {
			return nil, fmt.Errorf("%q: the server returned no log-probs", p)
		}
		gens = append(gens, g)
	}
	o.Logf("%s: scoring", name)
	m, err := model.Load(path, model.LoadOptions{F16KV: s.F16KV})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	runner, scorer := "llama.cpp", "default"
	if s.Engine {
		runner = "ollama-engine"
	}
	if s.F16KV {
		scorer = "f16kv"
	}
	var out []ParityResult
	var seqs []model.Sequence
	for i, g := range gens {
		seq, err := serverSequence(m, s.Prompts[i], s.Raw, g, o.Logf)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s.Prompts[i], err)
		}
		want := make([]float64, len(g.Logprobs))
		for j, l := range g.Logprobs {
			want[j] = l.Logprob
		}
		got, err := m.LogProbs([]model.Sequence{seq})
		if err != nil {
			return nil, err
		}
		if len(got[0]) != len(want) {
			return nil, fmt.Errorf("%q: %d scored tokens, the server sent %d log-probs", s.Prompts[i], len(got[0]), len(want))
		}
		r := ParityResult{Model: label, Layers: layers, Arch: s.Arch, Type: typ.String(), Runner: runner, Scorer: scorer, Prompt: s.Prompts[i],
			Tokens: len(want), Dropped: len(seq.Tokens) - len(want) - promptLen(seq), Bound: s.Bound(), GGUFBytes: st.Size()}
		for j := range want {
			d := math.Abs(float64(got[0][j]) - want[j])
			r.MeanAbsDiff += d / float64(len(want))
			r.MeanLogProb += want[j] / float64(len(want))
			r.MaxAbsDiff = max(r.MaxAbsDiff, d)
			if want[j] > -1 {
				r.Peaked++
			}
		}
		r.Pass = r.MeanAbsDiff <= r.Bound
		o.Logf("%s %q: %d tokens (%d peaked), mean |Δ| %.2e, max %.2e", name, s.Prompts[i], r.Tokens, r.Peaked, r.MeanAbsDiff, r.MaxAbsDiff)
		out = append(out, r)
		seqs = append(seqs, seq)
	}
	if o.TrainingPath && s.F16KV {
		// Free the re-enactment's model before the second load: Close drops its float32
		// tensors (phi3's fused projections, the tables), Go memory that the collector would
		// otherwise return only as the second load's heap grew.
		m.Close()
		debug.FreeOSMemory()
		fast, err := model.Load(path, model.LoadOptions{})
		if err != nil {
			return nil, err
		}
		defer fast.Close()
		for i, seq := range seqs {
			got, err := fast.LogProbs([]model.Sequence{seq})
			if err != nil {
				return nil, err
			}
			for j, l := range gens[i].Logprobs {
				out[i].TrainingMean += math.Abs(float64(got[0][j])-l.Logprob) / float64(len(gens[i].Logprobs))
			}
		}
	}
	return out, nil
}

// serverSequence is the scored sequence of a generation: the prompt as the runner tokenized it
// (align's tokenization, which for a templated prompt must begin the server's context), then
// the generated pieces (model.Model.ServerSequence).
func serverSequence(m *model.Model, prompt string, raw bool, g runtime.GenerateResult, logf func(string, ...any)) (model.Sequence, error) {
	toks, err := m.Tokenize(prompt, true)
	if err != nil {
		return model.Sequence{}, err
	}
	var ctxIDs []int32
	if len(g.Context) > 0 {
		if bos, ok := m.BOS(); ok {
			ctxIDs = append(ctxIDs, bos)
		}
		for _, id := range g.Context {
			ctxIDs = append(ctxIDs, int32(id))
		}
		if len(ctxIDs) < len(toks) || !slices.Equal(ctxIDs[:len(toks)], toks) {
			return model.Sequence{}, fmt.Errorf("align's tokenization %v does not begin the server's context %v", toks, ctxIDs[:min(len(ctxIDs), len(toks))])
		}
	} else if g.PromptEvalCount > len(toks) {
		return model.Sequence{}, fmt.Errorf("the server evaluated %d prompt tokens, align's tokenization has %d", g.PromptEvalCount, len(toks))
	}
	gen := model.ServerGeneration{Prompt: toks, Context: ctxIDs, EvalCount: g.EvalCount, Stopped: g.DoneReason == "stop"}
	for _, l := range g.Logprobs {
		gen.Pieces, gen.LogProbs = append(gen.Pieces, l.Token), append(gen.LogProbs, l.Logprob)
	}
	return m.ServerSequence(gen, logf)
}

// promptLen is the number of tokens before the first scored one.
func promptLen(s model.Sequence) int {
	for i, on := range s.Mask {
		if on {
			return i
		}
	}
	return len(s.Mask)
}
