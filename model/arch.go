package model

import (
	"fmt"
	"math"

	"github.com/ollama/ollama/fs/ggml"
)

// Config describes the shape of a loaded model.
type Config struct {
	Arch      string  // "llama" or "qwen2"
	Layers    int     // transformer blocks
	Dim       int     // embedding length
	FFN       int     // feed-forward hidden size
	Heads     int     // query heads
	KVHeads   int     // key/value heads (GQA when < Heads)
	HeadDim   int     // per-head dimension
	RopeDim   int     // rotated dimensions per head (<= HeadDim)
	RopeTheta float32 // RoPE base frequency
	RopeNeoX  bool    // rotate halves (NeoX/HF, qwen2) instead of adjacent pairs (llama)
	// RopeScale is linear RoPE scaling (rope.scaling.type=linear): every angle is multiplied by
	// 1/RopeScale (llama.cpp's freq_scale). 0 or 1 = none.
	RopeScale float32
	// RopeFreqs are per-pair frequency divisors (rope_freqs.weight, the Llama 3.1+ "llama3"
	// scaling baked in by the converters): pair i turns at theta^(-2i/RopeDim)/RopeFreqs[i].
	// nil = none; else RopeDim/2 values.
	RopeFreqs []float32
	// RopeAttnFactor multiplies RoPE's cos and sin (llama.cpp's attn_factor with ext_factor 0:
	// Phi-3 longrope's rope.scaling.attn_factor). 0 or 1 = none.
	RopeAttnFactor float32
	Eps            float32 // RMSNorm epsilon
	Vocab          int     // vocabulary size
	ContextLen     int     // trained context length
	QKVBias        bool    // q, k, v projections carry biases (qwen2)
	// QKNorm applies an RMSNorm with its own HeadDim weight to every query and key head after
	// the projection and before RoPE (attn_q_norm / attn_k_norm: qwen3, gemma3).
	QKNorm bool
	Tied   bool // output.weight absent: the LM head reuses token_embd

	// Gemma-family options (gemma2.go, gemma3.go). Their zero values are the llama behaviour.

	// EmbedScale multiplies the token embeddings on input (gemma: √Dim); 0 = none. The LM
	// head, tied or not, uses the unscaled weight.
	EmbedScale float32
	// PostNorms: each block RMS-normalizes its attention and FFN outputs
	// (post_attention_norm, post_ffw_norm) before adding them to the residual.
	PostNorms bool
	// GeGLU: the FFN computes gelu_tanh(gate)·up instead of silu(gate)·up.
	GeGLU bool
	// AttnScale is the attention score scale; 0 = 1/√HeadDim.
	AttnScale float32
	// AttnSoftcap caps the attention scores at c·tanh(s/c) before the causal mask; 0 = none.
	AttnSoftcap float32
	// FinalSoftcap caps the logits at c·tanh(z/c); 0 = none.
	FinalSoftcap float32
	// Window is the sliding window of the layers marked in WindowLayers: row i attends to
	// keys j with i−j < Window (Window keys, its own included). 0 = no sliding window.
	Window       int
	WindowLayers []bool
	// RopeLocalTheta is the RoPE base of the layers marked in RopeLocalLayers, which also
	// take no RopeScale (gemma3's local layers); the others use RopeTheta and RopeScale.
	RopeLocalTheta  float32
	RopeLocalLayers []bool
}

// archSpec is what differs between the supported architectures. Each architecture is one
// entry of archTraits (llama and qwen2 here, the others in their own file: qwen3.go, ...); the
// tensor names are llama.cpp's GGUF names, bound in bindings.
type archSpec struct {
	neox    bool // RoPE rotates halves (LLAMA_ROPE_TYPE_NEOX) rather than adjacent pairs
	qkvBias bool // q, k, v carry biases
	qkNorm  bool // attn_q_norm / attn_k_norm per head before RoPE
	// tiedHead: the LM head is always token_embd; a file with output.weight is refused, as
	// llama.cpp refuses it (gemma2: "wrong number of tensors").
	tiedHead bool
	// fused: q, k, v live in one attn_qkv tensor and gate, up in one ffn_up tensor (phi3); the
	// engine splits them at load and joins them again at export.
	fused bool
	// qScaledFirst: the runner multiplies q by the score scale before the scores, with a
	// kq_scale of 1 (phi3's, gemma2's and gemma3's graphs), which the server re-enactment
	// (F16KV: Config.ggmlScales) follows; the math is the same either way.
	qScaledFirst bool
	// goEngine: Ollama v0.17.4 serves the architecture in its own Go engine (model/models/*),
	// not in the llama.cpp runner; where the two compute a graph constant differently (the
	// final soft-cap's 1/c), the re-enactment follows the engine's.
	goEngine bool
}

// supportedArchs is what the error for an unknown architecture lists.
const supportedArchs = "llama, qwen2, qwen3, phi3, gemma2, gemma3"

// archTraits returns the traits of a GGUF general.architecture.
func archTraits(arch string) (archSpec, error) {
	switch arch {
	case "llama":
		// llama.cpp LLM_ARCH_LLAMA uses LLAMA_ROPE_TYPE_NORM: adjacent pairs. HF converters
		// permute Q/K rows so that this holds for HF checkpoints too.
		return archSpec{}, nil
	case "qwen2":
		// llama.cpp LLM_ARCH_QWEN2 uses LLAMA_ROPE_TYPE_NEOX (halves), and q/k/v carry biases.
		return archSpec{neox: true, qkvBias: true}, nil
	case "qwen3":
		return qwen3Spec(), nil
	case "phi3":
		return phi3Spec(), nil
	case "gemma2":
		return gemma2Spec(), nil
	case "gemma3":
		return gemma3Spec(), nil
	}
	return archSpec{}, fmt.Errorf("unsupported architecture %q (supported: %s)", arch, supportedArchs)
}

// configFromKV reads the hyper-parameters from GGUF metadata.
func configFromKV(kv ggml.KV, vocab int) (Config, error) {
	arch := kv.Architecture()
	spec, err := archTraits(arch)
	if err != nil {
		return Config{}, err
	}
	c := Config{
		Arch:       arch,
		Layers:     int(kv.Uint("block_count")),
		Dim:        int(kv.Uint("embedding_length")),
		FFN:        int(kv.Uint("feed_forward_length")),
		Heads:      int(kv.Uint("attention.head_count")),
		KVHeads:    int(kv.Uint("attention.head_count_kv")),
		RopeTheta:  kv.Float("rope.freq_base", 10000),
		RopeNeoX:   spec.neox,
		Eps:        kv.Float("attention.layer_norm_rms_epsilon", 1e-5),
		Vocab:      vocab,
		ContextLen: int(kv.Uint("context_length", 2048)),
		QKVBias:    spec.qkvBias,
		QKNorm:     spec.qkNorm,
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.Layers <= 0 || c.Dim <= 0 || c.Heads <= 0 || c.FFN <= 0 {
		return Config{}, fmt.Errorf("%s: missing or zero block_count/embedding_length/feed_forward_length/attention.head_count", arch)
	}
	c.HeadDim = int(kv.Uint("attention.key_length", uint32(c.Dim/c.Heads)))
	c.RopeDim = int(kv.Uint("rope.dimension_count", uint32(c.HeadDim)))
	if c.Heads%c.KVHeads != 0 {
		return Config{}, fmt.Errorf("%s: %d heads not a multiple of %d kv heads", arch, c.Heads, c.KVHeads)
	}
	if c.RopeDim > c.HeadDim || c.RopeDim%2 != 0 {
		return Config{}, fmt.Errorf("%s: rope dimension %d invalid for head dim %d", arch, c.RopeDim, c.HeadDim)
	}
	// llama.cpp multiplies every architecture's RoPE cos and sin by rope.scaling.attn_factor
	// (hparams.rope_attn_factor; Phi-3 longrope files carry it).
	if f := kv.Float("rope.scaling.attn_factor", 1); f != 1 {
		if !(f > 0) || math.IsInf(float64(f), 0) {
			return Config{}, fmt.Errorf("%s: rope.scaling.attn_factor %g must be positive and finite", arch, f)
		}
		c.RopeAttnFactor = f
	}
	// As llama.cpp (llama-model.cpp, llama-context.cpp): the scaling type defaults to linear,
	// the factor is rope.scaling.factor (or the older rope.scale_linear), freq_scale = 1/factor,
	// and type "none" disables it.
	factor := kv.Float("rope.scaling.factor", kv.Float("rope.scale_linear", 0))
	switch t := kv.String("rope.scaling.type", "linear"); {
	case t == "none" || factor == 0 || factor == 1:
	case (t == "longrope" || t == "su") && arch == "phi3":
		// Phi-3's SuRoPE: the factors are tensors (phi3Rope), the magnitude attn_factor above.
	case t == "linear":
		if !(factor > 0) {
			return Config{}, fmt.Errorf("%s: linear RoPE scaling factor %g must be positive", arch, factor)
		}
		c.RopeScale = factor
	default:
		// yarn and longrope also change the angles' ramp and magnitude; no llama/qwen2 model
		// align trains uses them, so they are refused rather than silently mis-applied.
		return Config{}, fmt.Errorf("%s: RoPE scaling type %q (factor %g) is not supported (supported: linear, and rope_freqs.weight factors)", arch, t, factor)
	}
	switch arch {
	case "gemma2":
		gemma2Config(kv, &c)
	case "gemma3":
		if err := gemma3Config(kv, &c); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// binding ties one GGUF tensor name to the parameter slot that receives it.
type binding struct {
	name     string  // GGUF tensor name, e.g. "blk.3.attn_q.weight"
	slot     **Param // where the loaded tensor goes
	shape    [2]int  // expected rows (out), cols (in); cols==0 for vectors
	optional bool    // may be absent (the tied output)
	// part is the slot's name when name is a fused tensor (phi3's attn_qkv, ffn_up) of which
	// the slot holds rows [rowOff, rowOff+shape[0]) of fusedRows; "" otherwise.
	part      string
	rowOff    int
	fusedRows int
}

// bindings lists every tensor of the model: the one place where GGUF names are bound, in the
// spirit of ollama's `gguf:"attn_q"` struct tags.
func (m *Model) bindings() []binding {
	c := m.cfg
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	bs := []binding{
		{name: "token_embd.weight", slot: &m.embed, shape: [2]int{c.Vocab, c.Dim}},
		{name: "output_norm.weight", slot: &m.outNorm, shape: [2]int{c.Dim, 0}},
		{name: "output.weight", slot: &m.output, shape: [2]int{c.Vocab, c.Dim}, optional: true},
	}
	spec, _ := archTraits(c.Arch)
	for i := range m.blocks {
		b := &m.blocks[i]
		p := fmt.Sprintf("blk.%d.", i)
		if spec.fused {
			bs = append(bs, phi3Bindings(c, b, p)...)
			continue
		}
		bs = append(bs,
			binding{name: p + "attn_norm.weight", slot: &b.attnNorm, shape: [2]int{c.Dim, 0}},
			binding{name: p + "attn_q.weight", slot: &b.q.w, shape: [2]int{qDim, c.Dim}},
			binding{name: p + "attn_k.weight", slot: &b.k.w, shape: [2]int{kvDim, c.Dim}},
			binding{name: p + "attn_v.weight", slot: &b.v.w, shape: [2]int{kvDim, c.Dim}},
			binding{name: p + "attn_output.weight", slot: &b.o.w, shape: [2]int{c.Dim, qDim}},
			binding{name: p + "ffn_norm.weight", slot: &b.ffnNorm, shape: [2]int{c.Dim, 0}},
			binding{name: p + "ffn_gate.weight", slot: &b.gate.w, shape: [2]int{c.FFN, c.Dim}},
			binding{name: p + "ffn_up.weight", slot: &b.up.w, shape: [2]int{c.FFN, c.Dim}},
			binding{name: p + "ffn_down.weight", slot: &b.down.w, shape: [2]int{c.Dim, c.FFN}},
		)
		if c.PostNorms {
			bs = append(bs,
				binding{name: p + "post_attention_norm.weight", slot: &b.postAttnNorm, shape: [2]int{c.Dim, 0}},
				binding{name: p + "post_ffw_norm.weight", slot: &b.postFFNNorm, shape: [2]int{c.Dim, 0}},
			)
		}
		if c.QKVBias {
			bs = append(bs,
				binding{name: p + "attn_q.bias", slot: &b.q.b, shape: [2]int{qDim, 0}},
				binding{name: p + "attn_k.bias", slot: &b.k.b, shape: [2]int{kvDim, 0}},
				binding{name: p + "attn_v.bias", slot: &b.v.b, shape: [2]int{kvDim, 0}},
			)
		}
		if c.QKNorm {
			bs = append(bs,
				binding{name: p + "attn_q_norm.weight", slot: &b.qNorm, shape: [2]int{c.HeadDim, 0}},
				binding{name: p + "attn_k_norm.weight", slot: &b.kNorm, shape: [2]int{c.HeadDim, 0}},
			)
		}
	}
	return bs
}

// ropeFreqScale is llama.cpp's freq_scale: 1/RopeScale, or 1 without linear scaling.
func (c Config) ropeFreqScale() float32 {
	if c.RopeScale == 0 || c.RopeScale == 1 {
		return 1
	}
	return 1 / c.RopeScale
}

// ropeScaled reports whether RoPE needs align's own rotation (scaling or frequency factors)
// rather than the plain kernels.RoPEForward.
func (c Config) ropeScaled() bool {
	return c.ropeFreqScale() != 1 || c.RopeFreqs != nil || c.ropeMScale() != 1
}

// ropeMScale is the factor on RoPE's cos and sin: RopeAttnFactor, or 1.
func (c Config) ropeMScale() float32 {
	if c.RopeAttnFactor == 0 {
		return 1
	}
	return c.RopeAttnFactor
}

// windowed reports whether layer l uses the sliding window.
func (c Config) windowed(l int) bool {
	return c.Window > 0 && l >= 0 && l < len(c.WindowLayers) && c.WindowLayers[l]
}

// layerRope returns layer l's RoPE base and freq_scale.
func (c Config) layerRope(l int) (theta, freqScale float32) {
	if l >= 0 && l < len(c.RopeLocalLayers) && c.RopeLocalLayers[l] {
		return c.RopeLocalTheta, 1
	}
	return c.RopeTheta, c.ropeFreqScale()
}

// attnScale is the attention score scale: AttnScale, or 1/√HeadDim.
func (c Config) attnScale() float32 {
	if c.AttnScale != 0 {
		return c.AttnScale
	}
	return float32(1 / math.Sqrt(float64(c.HeadDim)))
}

// plainAttention reports whether layer l's attention is plain causal softmax(QKᵀ/√hd), the
// one every attention kernel computes; otherwise attn_window.go's path handles it.
func (c Config) plainAttention(l int) bool {
	return c.AttnSoftcap == 0 && !c.windowed(l) && c.attnScale() == float32(1/math.Sqrt(float64(c.HeadDim)))
}
