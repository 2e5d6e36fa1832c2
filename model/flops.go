package model

// FLOPs are the model FLOPs of one pass over a batch of sequences, the numerator of model FLOPs
// utilisation (MFU; Chowdhery et al. 2022, PaLM, appendix B): the multiply-adds the model's
// mathematics needs, counted as 2 FLOPs each, whatever the implementation recomputes or wastes.
// Counted: every projection (q, k, v, o, gate, up, down of each block, and the LM head, tied or
// not) and the causal attention products QKᵀ and P·V over the keys each query attends to (token
// i of a sequence attends to i+1 keys). Not counted: embeddings lookups, norms, RoPE, SwiGLU,
// softmax, the loss and the optimizer (a few FLOPs per element, not per weight).
type FLOPs struct {
	// Forward is 2N + attention: N the projection weights (times tokens), attention
	// 2·2·heads·headDim per (query, key) pair and layer.
	Forward float64
	// LoRAStep is a LoRA step's forward and backward: the forward (with each adapter's
	// 2·rank·(in+out) per token), the gradients with respect to every layer's input through the
	// frozen weights (2N, plus attention's backward, twice its forward: dS from dP = dO·Vᵀ and
	// dV = Pᵀ·dO, then dQ and dK), the adapters' input gradients and their weight gradients
	// (2·rank·(in+out) per token each). It is 0 when the model has no adapters.
	LoRAStep float64
	// FullStep is a full fine-tuning step: 6N + 3·attention (forward, input and weight
	// gradients of every projection).
	FullStep float64
}

// StepFLOPs is the FLOPs of a training step of this model as loaded: LoRAStep when it has adapters,
// FullStep when every weight trains, else Forward.
func (m *Model) StepFLOPs(seqLens []int) float64 {
	f := m.FLOPs(seqLens)
	switch {
	case m.opt.LoRA != nil:
		return f.LoRAStep
	case m.opt.Full:
		return f.FullStep
	}
	return f.Forward
}

// FLOPs counts the model FLOPs of one pass over sequences of the given lengths (a packed batch:
// attention stays within each sequence).
func (m *Model) FLOPs(seqLens []int) FLOPs {
	var tokens, pairs float64
	for _, n := range seqLens {
		tokens += float64(n)
		pairs += float64(n) * float64(n+1) / 2
	}
	var weights, lora float64 // multiply-adds per token
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			weights += float64(l.in) * float64(l.out)
			if l.lora != nil {
				lora += float64(l.lora.rank) * float64(l.in+l.out)
			}
		}
	}
	c := m.cfg
	weights += float64(c.Dim) * float64(c.Vocab)
	attn := 2 * 2 * float64(c.Layers) * float64(c.Heads) * float64(c.HeadDim) * pairs
	dense := 2 * weights * tokens
	f := FLOPs{Forward: dense + attn, FullStep: 3 * (dense + attn)}
	if lora > 0 {
		adapter := 2 * lora * tokens
		f.LoRAStep = (dense + attn + adapter) + (dense + 2*attn + adapter) + adapter
	}
	return f
}

// Threads is the number of goroutines the model's kernels use (LoadOptions.Threads, or
// GOMAXPROCS).
func (m *Model) Threads() int { return m.threads }
