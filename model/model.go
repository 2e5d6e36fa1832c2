package model

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/alignkit/align/kernels"
	"github.com/ollama/ollama/fs/ggml"
	"github.com/ollama/ollama/template"
	"github.com/ollama/ollama/tokenizer"
)

// LoadOptions selects what Load makes trainable and how it computes.
type LoadOptions struct {
	LoRA *LoRAConfig // nil = no adapters (a frozen model, e.g. the reference)
	Full bool        // train all weights (small models); exclusive with LoRA
	// LowMemory keeps the seven projections of each block in their GGUF encoding, whatever it is
	// (F32 included), multiplying through kernels.SgemmQ (lowmem.go). A file whose projections
	// are encoded (F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) keeps them so by default unless
	// Dense or Full is set.
	LowMemory bool
	// Dense decodes every weight to float32 at load, even when the file is quantized.
	Dense bool
	// RandomType is the encoding NewRandom gives the projections with LowMemory (0, F32, means
	// Q8_0); rows it cannot encode in whole blocks fall back to Q8_0, then F16 (encodeRandom).
	RandomType kernels.GGMLType
	Threads    int  // 0 = GOMAXPROCS
	Recompute  bool // keep only each block's input; recompute its activations in Backward
	// UnsharedPrompts turns off prompt sharing (share.go): by default, sequences of one batch
	// with the same prompt (the tokens before the first masked token) have that prompt computed
	// once, both completions attending to its one K/V. Off, every sequence is laid out whole.
	UnsharedPrompts bool
	// F16KV makes LogProbs re-enact Ollama v0.17.4's runner (llama.cpp's, or its Go engine's
	// ggml graph for qwen3 and gemma3) on the CPU step by step, for every architecture:
	// float64-summed dot products, activations rounded to f16 against F16 weights, an f16 KV
	// cache and flash attention with an f16 accumulator, ggml's RoPE cache and SSE2 exp (see
	// attn_ggml.go). Its log-probs equal the server's (bit for bit on stories260K and
	// tiny-random); it is scalar and slow, for parity checks, not training (Backward refuses it).
	F16KV bool
	// Template is an Ollama (Go text/template) chat template that overrides the one detected from
	// the GGUF's tokenizer.chat_template, e.g. the template layer of an Ollama model.
	Template string
}

// LoRAConfig configures low-rank adapters (Hu et al. 2021): W' = W + (Alpha/Rank)·B·A.
type LoRAConfig struct {
	Rank    int
	Alpha   float32
	Dropout float32  // dropout on the adapter's input, applied only in training mode
	Targets []string // subset of q,k,v,o,gate,up,down; PEFT names (q_proj, ...) accepted; empty = all seven
	Seed    uint64   // A ~ kaiming-uniform(a=√5) as PEFT does, from Seed; B = 0
}

// Param is one trainable tensor. Shape is row-major [rows, cols] (out, in for matrices);
// Grad accumulates until ZeroGrad.
type Param struct {
	Name  string
	Data  []float32
	Grad  []float32
	Shape []int
}

// linear is one projection y = x·Wᵀ (+ b) (+ scale·(x·Aᵀ)·Bᵀ).
type linear struct {
	w, b    *Param
	q       *qweight // LowMemory: w.Data is nil and the weight lives here, encoded
	lora    *loraAdapter
	in, out int
	target  string // "q", "k", "v", "o", "gate", "up", "down"
}

type loraAdapter struct {
	a     *Param // [rank, in]
	b     *Param // [out, rank]
	rank  int
	scale float32 // alpha / rank
}

type block struct {
	attnNorm, ffnNorm          *Param
	postAttnNorm, postFFNNorm  *Param // Config.PostNorms (gemma): norms of the attention and FFN outputs
	qNorm, kNorm               *Param // per-head QK-norm weights [HeadDim]; nil without Config.QKNorm
	q, k, v, o, gate, up, down linear
}

func (b *block) linears() []*linear {
	return []*linear{&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down}
}

// tensorInfo remembers an original tensor for export.
type tensorInfo struct {
	name  string
	kind  uint32
	shape []uint64
	off   int64 // where its data starts in the file
	size  int64 // its bytes
}

// Model is a loaded Llama-family model with its tokenizer, template and (optionally) trainable
// adapters. A Model is not safe for concurrent use.
type Model struct {
	cfg     Config
	path    string
	kv      ggml.KV
	tensors []tensorInfo
	opt     LoadOptions
	threads int
	// headKeep overrides headKeepBytes when not 0 (tests; negative: never keep logits).
	headKeep int64
	// q4kRaw caches, per weight name, the Q4_K blocks F16KV multiplies by (attn_ggml.go).
	q4kMu  sync.Mutex
	q4kRaw map[string][]byte

	tok         tokenizer.Tokenizer
	vocab       *tokenizer.Vocabulary
	spacePrefix bool // SentencePiece add_space_prefix as llama.cpp applies it
	phi3Strip   bool // special tokens strip the whitespace after them (llama.cpp's Phi-3 RSTRIP)
	// engineTok: Ollama's Go engine serves the architecture (fs/ggml OllamaEngineRequired) and
	// tokenizes with ollama/tokenizer as it is; else llama.cpp's rules apply (encode).
	engineTok bool
	specials  []special // control and user-defined tokens, longest first (llama.cpp's order)
	tmpl      *template.Template
	tmplName  string
	notes     []string // Notes
	eot       int32    // end-of-turn token appended to chat responses

	embed, output, outNorm *Param   // output nil when tied
	embedQ, outputQ        *qweight // embed/output kept encoded (head.go); their Data is nil
	blocks                 []block

	params   []*Param
	training bool
	step     uint64 // forward counter, seeds dropout masks

	digestOnce sync.Once
	digest     string

	ropeMu   sync.Mutex
	ropeTabs map[float32]*kernels.RoPETable // cos/sin rows of the unscaled RoPE per base, grown on demand (ropeTable)
}

// checkWeightType refuses a tensor whose ggml type align cannot dequantize, naming the tensor,
// its type and the supported ones. It is the loader's one type check (Load, LowMemory's raw
// reads and Inspect all call it).
func checkWeightType(t *ggml.Tensor) error {
	if el, _ := kernels.BlockSize(ggmlType(t.Kind)); el != 0 {
		return nil
	}
	names := make([]string, 0, 16)
	for _, s := range kernels.SupportedTypes() {
		names = append(names, s.String())
	}
	return fmt.Errorf("tensor %s: unsupported weight type %s (supported: %s)", t.Name, ggml.TensorType(t.Kind), strings.Join(names, ", "))
}

// Load reads a GGUF file (architectures llama and qwen2) into float32 weights and builds its
// tokenizer and chat template.
func Load(path string, opt LoadOptions) (m *Model, err error) {
	defer func() {
		// A malformed file must give an error, not a crash, even where the GGUF decoder
		// (ollama's fs/ggml) panics on it.
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("model: load %s: truncated or corrupt GGUF: %v", path, r)
		}
	}()
	m, err = load(path, opt, false)
	if err != nil {
		return nil, fmt.Errorf("model: load %s: %w", path, err)
	}
	return m, nil
}

// load reads the GGUF at path. With headerOnly it runs every check of a full load (architecture,
// hyper-parameters, tokenizer, template, each tensor's presence, type and shape) but reads no
// weights: the Params it binds have a Shape and no Data, and nothing is trainable.
func load(path string, opt LoadOptions, headerOnly bool) (*Model, error) {
	if opt.LowMemory && opt.Full {
		return nil, errors.New("LowMemory keeps the base quantized and frozen: it cannot be combined with Full training")
	}
	if opt.Full && opt.LoRA != nil {
		return nil, errors.New("Full and LoRA are exclusive")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkGGUFLengths(f); err != nil {
		return nil, fmt.Errorf("truncated or corrupt GGUF: %w", err)
	}
	g, err := ggml.Decode(f, -1)
	if err != nil {
		return nil, fmt.Errorf("truncated or corrupt GGUF: %w", err)
	}
	kv := g.KV()
	if k := kv.Kind(); k == "adapter" {
		return nil, errors.New("this GGUF is a LoRA adapter, not a model")
	}
	m := &Model{path: path, kv: kv, opt: opt, threads: opt.Threads}
	if m.threads <= 0 {
		m.threads = runtime.GOMAXPROCS(0)
	}
	spec, err := archTraits(kv.Architecture())
	if err != nil {
		return nil, err
	}
	if err := m.initTokenizer(); err != nil {
		return nil, err
	}
	byName := map[string]*ggml.Tensor{}
	for _, t := range g.Tensors().Items() {
		byName[t.Name] = t
		m.tensors = append(m.tensors, tensorInfo{name: t.Name, kind: t.Kind, shape: slices.Clone(t.Shape),
			off: int64(g.Tensors().Offset) + int64(t.Offset), size: int64(t.Size())})
	}
	if spec.tiedHead && byName["output.weight"] != nil {
		return nil, fmt.Errorf("%s: tensor output.weight present, but the %s head is tied to token_embd (llama.cpp, which serves it in Ollama, refuses such a file)", kv.Architecture(), kv.Architecture())
	}
	vocab := len(m.vocab.Values)
	if t := byName["token_embd.weight"]; t != nil && len(t.Shape) == 2 {
		vocab = int(t.Shape[1])
	}
	if m.cfg, err = configFromKV(kv, vocab); err != nil {
		return nil, err
	}
	base := int64(g.Tensors().Offset)
	if t := byName["rope_freqs.weight"]; t != nil {
		// Llama 3.1+ frequency factors (llama.cpp's rope freq_factors): pair i's angle is divided
		// by factor i.
		p, err := readTensor(f, base, t, [2]int{m.cfg.RopeDim / 2, 0})
		if err != nil {
			return nil, fmt.Errorf("rope_freqs.weight: %w", err)
		}
		for i, v := range p.Data {
			if !(v > 0) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("rope_freqs.weight[%d] = %g: frequency factors must be positive and finite", i, v)
			}
		}
		m.cfg.RopeFreqs = p.Data
	}
	if m.cfg.Arch == "phi3" {
		if err := phi3Rope(&m.cfg, kv, byName["rope_factors_short.weight"], byName["rope_factors_long.weight"]); err != nil {
			return nil, err
		}
	}
	if t := byName["rope_factors_short.weight"]; t != nil && m.cfg.RopeFreqs == nil {
		// Phi-3 longrope: llama.cpp's get_rope_factors takes the short factors while the
		// context is within the original one (align's sequences are), else the long ones.
		p, err := readTensor(f, base, t, [2]int{m.cfg.RopeDim / 2, 0})
		if err != nil {
			return nil, fmt.Errorf("rope_factors_short.weight: %w", err)
		}
		for i, v := range p.Data {
			if !(v > 0) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("rope_factors_short.weight[%d] = %g: frequency factors must be positive and finite", i, v)
			}
		}
		m.cfg.RopeFreqs = p.Data
	}
	if err := m.initTemplate(); err != nil {
		return nil, err
	}
	m.blocks = make([]block, m.cfg.Layers)
	pending := map[*Param]*qweight{}
	fused := map[string]*Param{} // fused tensors (phi3), read whole once
	for _, b := range m.bindings() {
		t := byName[b.name]
		if t == nil {
			if b.optional {
				continue
			}
			return nil, fmt.Errorf("tensor %s missing", b.name)
		}
		var p *Param
		if headerOnly {
			shape, name := b.shape, t.Name
			if b.fusedRows > 0 { // the whole fused tensor, read dense
				shape, name = [2]int{b.fusedRows, b.shape[1]}, b.part
			}
			if err := checkTensor(t, shape, opt.LowMemory && lowMemoryName(b.name) && b.fusedRows == 0); err != nil {
				return nil, err
			}
			*b.slot = &Param{Name: name, Shape: paramShape(b.shape)}
			continue
		}
		if b.fusedRows > 0 {
			whole := fused[b.name]
			if whole == nil {
				if whole, err = readTensor(f, base, t, [2]int{b.fusedRows, b.shape[1]}); err != nil {
					return nil, err
				}
				fused[b.name] = whole
			}
			*b.slot = fusedPart(whole, b)
			continue
		}
		if (residentEncoded(opt, t.Kind) && lowMemoryName(b.name)) || (tableName(b.name) && residentTable(opt, t.Kind)) {
			var q *qweight
			if p, q, err = readTensorRaw(f, base, t, b.shape); err == nil {
				pending[p] = q
			}
		} else {
			p, err = readTensor(f, base, t, b.shape)
		}
		if err != nil {
			return nil, err
		}
		*b.slot = p
	}
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			l.q = pending[l.w]
		}
	}
	m.embedQ, m.outputQ = pending[m.embed], pending[m.output]
	m.cfg.Tied = m.output == nil
	m.noteUnbound()
	for i := range m.blocks {
		b := &m.blocks[i]
		for j, l := range b.linears() {
			l.target = targetNames()[j]
			l.out, l.in = l.w.Shape[0], l.w.Shape[1]
		}
	}
	if headerOnly {
		return m, nil
	}
	if err := m.initTrainable(); err != nil {
		return nil, err
	}
	return m, nil
}

// loraTargets are the short target names, in block order.
func targetNames() []string { return []string{"q", "k", "v", "o", "gate", "up", "down"} }

// checkTensor is the loader's check of one tensor against its binding: a type align reads and
// the bound shape (rows, cols; cols 0 for a vector); for a weight LowMemory keeps encoded
// (raw), also rows that decode one by one (the block size divides a row).
func checkTensor(t *ggml.Tensor, shape [2]int, raw bool) error {
	if err := checkWeightType(t); err != nil {
		return err
	}
	want := []uint64{uint64(shape[1]), uint64(shape[0])} // ggml order: ne0 = cols
	if shape[1] == 0 {
		want = []uint64{uint64(shape[0])}
	}
	if !slices.Equal(t.Shape, want) || (raw && shape[1] == 0) {
		return fmt.Errorf("tensor %s: shape %v, want %v", t.Name, t.Shape, want)
	}
	if el, _ := kernels.BlockSize(ggmlType(t.Kind)); raw && shape[1]%el != 0 {
		return fmt.Errorf("tensor %s: rows cannot be dequantized one by one: %d columns is not a multiple of the %s block size %d", t.Name, shape[1], ggml.TensorType(t.Kind), el)
	}
	return nil
}

// paramShape is a binding's shape as a Param's: [rows, cols], or [rows] for a vector.
func paramShape(shape [2]int) []int {
	if shape[1] == 0 {
		return []int{shape[0]}
	}
	return []int{shape[0], shape[1]}
}

// readChunk is the number of values readTensor reads and decodes at a time (whole blocks).
const readChunk = 1 << 20

func readTensor(f *os.File, base int64, t *ggml.Tensor, shape [2]int) (*Param, error) {
	typ := ggmlType(t.Kind)
	if err := checkTensor(t, shape, false); err != nil {
		return nil, err
	}
	// Read and decode readChunk values at a time through one buffer: a whole encoded tensor
	// would be garbage after its decoding, and the collector lets such garbage grow with the
	// part of the model already loaded before it frees any.
	n := int(t.Elements())
	data := make([]float32, n)
	elems, bytes := kernels.BlockSize(typ)
	if elems == 0 {
		return nil, fmt.Errorf("tensor %s: type %s cannot be decoded", t.Name, typ)
	}
	step := max(readChunk/elems, 1) * elems
	buf := make([]byte, min(n, step)/elems*bytes)
	for off := 0; off < n; off += step {
		m := min(step, n-off)
		raw := buf[:m/elems*bytes]
		at := base + int64(t.Offset) + int64(off/elems*bytes)
		if _, err := f.ReadAt(raw, at); err != nil {
			return nil, fmt.Errorf("tensor %s: read %d bytes at %d: %w", t.Name, len(raw), at, err)
		}
		if err := dequantize(typ, data[off:off+m], raw); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
		}
	}
	return &Param{Name: t.Name, Data: data, Shape: paramShape(shape)}, nil
}

// normalizeTarget maps PEFT/TRL module names to the short targets.
func normalizeTarget(s string) (string, error) {
	s = strings.TrimSuffix(strings.ToLower(s), "_proj")
	switch s {
	case "attn_q":
		s = "q"
	case "attn_k":
		s = "k"
	case "attn_v":
		s = "v"
	case "attn_output", "attn_o":
		s = "o"
	}
	if slices.Contains(targetNames(), s) {
		return s, nil
	}
	return "", fmt.Errorf("unknown LoRA target %q (want q, k, v, o, gate, up, down)", s)
}

// initTrainable allocates LoRA adapters or full-weight gradients.
func (m *Model) initTrainable() error {
	switch {
	case m.opt.Full:
		m.params = m.allWeights()
		for _, p := range m.params {
			p.Grad = make([]float32, len(p.Data))
		}
	case m.opt.LoRA != nil:
		lc := m.opt.LoRA
		if lc.Rank <= 0 {
			return fmt.Errorf("LoRA rank %d must be positive", lc.Rank)
		}
		if lc.Dropout < 0 || lc.Dropout >= 1 {
			return fmt.Errorf("LoRA dropout %g not in [0, 1)", lc.Dropout)
		}
		alpha := lc.Alpha
		if alpha == 0 {
			alpha = float32(lc.Rank)
		}
		targets := map[string]bool{}
		for _, t := range lc.Targets {
			n, err := normalizeTarget(t)
			if err != nil {
				return err
			}
			targets[n] = true
		}
		if len(targets) == 0 {
			for _, t := range targetNames() {
				targets[t] = true
			}
		}
		rng := rand.New(rand.NewPCG(lc.Seed, 0x10AA))
		for i := range m.blocks {
			for _, l := range m.blocks[i].linears() {
				if !targets[l.target] {
					continue
				}
				name := strings.TrimSuffix(l.w.Name, ".weight")
				a := &Param{Name: name + ".weight.lora_a", Shape: []int{lc.Rank, l.in}, Data: make([]float32, lc.Rank*l.in), Grad: make([]float32, lc.Rank*l.in)}
				bb := &Param{Name: name + ".weight.lora_b", Shape: []int{l.out, lc.Rank}, Data: make([]float32, l.out*lc.Rank), Grad: make([]float32, l.out*lc.Rank)}
				// kaiming_uniform(a=√5) on [rank, in]: bound = 1/√in, as torch.nn.Linear and PEFT.
				bound := 1 / math.Sqrt(float64(l.in))
				for j := range a.Data {
					a.Data[j] = float32((rng.Float64()*2 - 1) * bound)
				}
				l.lora = &loraAdapter{a: a, b: bb, rank: lc.Rank, scale: alpha / float32(lc.Rank)}
				m.params = append(m.params, a, bb)
			}
		}
	}
	return nil
}

// allWeights lists every weight tensor in a fixed order.
func (m *Model) allWeights() []*Param {
	ps := []*Param{m.embed}
	for i := range m.blocks {
		b := &m.blocks[i]
		ps = append(ps, b.attnNorm)
		for _, l := range b.linears() {
			ps = append(ps, l.w)
			if l.b != nil {
				ps = append(ps, l.b)
			}
		}
		if b.qNorm != nil {
			ps = append(ps, b.qNorm, b.kNorm)
		}
		ps = append(ps, b.ffnNorm)
		if b.postAttnNorm != nil {
			ps = append(ps, b.postAttnNorm, b.postFFNNorm)
		}
	}
	ps = append(ps, m.outNorm)
	if m.output != nil {
		ps = append(ps, m.output)
	}
	return ps
}

// noteUnbound notes the tensors of a multimodal file that the text model does not use (gemma3's
// vision tower v.* and projector mm.*): loaded as text only, copied unchanged by export.
func (m *Model) noteUnbound() {
	n := 0
	for _, t := range m.tensors {
		if strings.HasPrefix(t.name, "v.") || strings.HasPrefix(t.name, "mm.") {
			n++
		}
	}
	if n > 0 {
		m.notes = append(m.notes, fmt.Sprintf("%d vision tensors (v.*, mm.*) ignored: align trains and scores the text model; merged exports copy them unchanged", n))
	}
}

// Notes returns what Load noticed and worked around, for the user (e.g. an ignored vision
// tower).
func (m *Model) Notes() []string { return m.notes }

// Config returns the model's shape.
func (m *Model) Config() Config { return m.cfg }

var blobName = regexp.MustCompile(`^sha256-([0-9a-f]{64})$`)

// Digest returns the sha256 of the GGUF file, hex encoded. Ollama blobs are named by their
// digest, which is then used without rereading the file.
func (m *Model) Digest() string {
	m.digestOnce.Do(func() {
		if s := blobName.FindStringSubmatch(filepath.Base(m.path)); s != nil {
			m.digest = s[1]
			return
		}
		f, err := os.Open(m.path)
		if err != nil {
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err == nil {
			m.digest = hex.EncodeToString(h.Sum(nil))
		}
	})
	return m.digest
}

// Close releases the model's memory. The model must not be used afterwards.
func (m *Model) Close() error {
	for _, q := range m.encoded() {
		q.mem.free() // resident weights live outside the Go heap (offheap_unix.go)
	}
	m.blocks, m.params, m.embed, m.output, m.outNorm = nil, nil, nil, nil, nil
	m.embedQ, m.outputQ = nil, nil
	m.q4kMu.Lock()
	m.q4kRaw = nil
	m.q4kMu.Unlock()
	return nil
}

// encoded lists the weights m keeps in their encoding.
func (m *Model) encoded() []*qweight {
	var qs []*qweight
	for _, q := range []*qweight{m.embedQ, m.outputQ} {
		if q != nil {
			qs = append(qs, q)
		}
	}
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			if l.q != nil {
				qs = append(qs, l.q)
			}
		}
	}
	return qs
}

// Params returns the trainable tensors: the LoRA A/B pairs, or every weight with Full.
func (m *Model) Params() []*Param { return m.params }

// ZeroGrad clears the gradients of the trainable tensors.
func (m *Model) ZeroGrad() {
	for _, p := range m.params {
		clear(p.Grad)
	}
}

// SetSharedPrompts turns prompt sharing (share.go) on or off for later passes
// (LoadOptions.UnsharedPrompts is its initial negation).
func (m *Model) SetSharedPrompts(on bool) { m.opt.UnsharedPrompts = !on }

// SetTraining turns LoRA dropout on or off.
func (m *Model) SetTraining(on bool) { m.training = on }
