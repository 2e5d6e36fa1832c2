package model

import (
	"fmt"
	"slices"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// phi3 (GGUF general.architecture "phi3": Phi-3/3.5-mini, Phi-4-mini; llama.cpp LLM_ARCH_PHI3,
// which Ollama v0.17.4 serves in its llama.cpp runner: phi3 is not among fs/ggml's
// OllamaEngineRequired architectures). A llama block with
//   - one fused attn_qkv.weight [Dim + 2·KV·hd, Dim]: rows q, then k, then v;
//   - one fused ffn_up.weight [2·FFN, Dim]: rows gate, then up (ggml_swiglu activates the first
//     half), and ffn_down as usual;
//   - NeoX RoPE; q scaled by 1/√hd before the scores;
//   - longrope/SuRoPE (the 128k variants): rope_factors_short.weight / rope_factors_long.weight
//     (per-pair frequency divisors) and rope.scaling.attn_factor (on cos and sin).
//
// align splits the fused tensors at load into the q, k, v (gate, up) projections every other
// architecture has, so LoRA targets and full fine-tuning address them by name, and joins them
// again at export: a merged GGUF has attn_qkv / ffn_up as the source had, and an adapter GGUF
// has one adapter per fused tensor, exactly the sum of the parts' (A = [A_q; A_k; A_v],
// B = blockdiag(B_q, B_k, B_v); see fusedAdapter).

func phi3Spec() archSpec { return archSpec{neox: true, fused: true, qScaledFirst: true} }

// phi3Bindings binds one phi3 block's tensors: the norms and o, down as usual, and q, k, v
// (gate, up) as row ranges of the fused tensors.
func phi3Bindings(c Config, b *block, p string) []binding {
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	qkv, qkvRows := p+"attn_qkv.weight", qDim+2*kvDim
	up := p + "ffn_up.weight"
	return []binding{
		{name: p + "attn_norm.weight", slot: &b.attnNorm, shape: [2]int{c.Dim, 0}},
		{name: qkv, part: p + "attn_q.weight", rowOff: 0, fusedRows: qkvRows, slot: &b.q.w, shape: [2]int{qDim, c.Dim}},
		{name: qkv, part: p + "attn_k.weight", rowOff: qDim, fusedRows: qkvRows, slot: &b.k.w, shape: [2]int{kvDim, c.Dim}},
		{name: qkv, part: p + "attn_v.weight", rowOff: qDim + kvDim, fusedRows: qkvRows, slot: &b.v.w, shape: [2]int{kvDim, c.Dim}},
		{name: p + "attn_output.weight", slot: &b.o.w, shape: [2]int{c.Dim, qDim}},
		{name: p + "ffn_norm.weight", slot: &b.ffnNorm, shape: [2]int{c.Dim, 0}},
		{name: up, part: p + "ffn_gate.weight", rowOff: 0, fusedRows: 2 * c.FFN, slot: &b.gate.w, shape: [2]int{c.FFN, c.Dim}},
		{name: up, part: p + "ffn_up.weight", rowOff: c.FFN, fusedRows: 2 * c.FFN, slot: &b.up.w, shape: [2]int{c.FFN, c.Dim}},
		{name: p + "ffn_down.weight", slot: &b.down.w, shape: [2]int{c.Dim, c.FFN}},
	}
}

// phi3Rope applies longrope's frequency factors as llama.cpp does at a context within
// rope.scaling.original_context_length (Ollama's default num_ctx is): the short factors. A
// file whose context_length exceeds its original context (a 128k variant) without the factors
// is refused by name rather than run with the wrong angles.
func phi3Rope(c *Config, kv ggml.KV, short, long *ggml.Tensor) error {
	orig := kv.Uint("rope.scaling.original_context_length", uint32(c.ContextLen))
	if short == nil || long == nil {
		if c.ContextLen > int(orig) {
			return fmt.Errorf("phi3: context_length %d exceeds rope.scaling.original_context_length %d (longrope/SuRoPE) but rope_factors_short.weight / rope_factors_long.weight are missing", c.ContextLen, orig)
		}
		return nil
	}
	return nil
}

// fusedPart is binding b's rows of the whole fused tensor as a Param named b.part. It shares
// the whole's memory (capped at its rows, so that nothing written to it reaches the next part):
// the parts cover the whole, and a copy would hold a fused model twice while Load reads it
// (phi3-mini's attn_qkv and ffn_up are 10 GB as float32).
func fusedPart(whole *Param, b binding) *Param {
	rows, cols := b.shape[0], b.shape[1]
	lo, hi := b.rowOff*cols, (b.rowOff+rows)*cols
	return &Param{Name: b.part, Shape: []int{rows, cols}, Data: whole.Data[lo:hi:hi]}
}

// joinFused returns the fused tensors of bs: name → every part's rows (data[part]), in row
// order, without copying them (tensorWriter writes the pieces back to back).
func joinFused(bs []binding, data map[string][]float32) map[string][][]float32 {
	type piece struct {
		off  int
		rows []float32
	}
	parts := map[string][]piece{}
	for _, b := range bs {
		if b.fusedRows > 0 {
			parts[b.name] = append(parts[b.name], piece{b.rowOff, data[b.part]})
		}
	}
	out := map[string][][]float32{}
	for name, ps := range parts {
		slices.SortFunc(ps, func(a, b piece) int { return a.off - b.off })
		for _, p := range ps {
			out[name] = append(out[name], p.rows)
		}
	}
	return out
}

// fusedAdapterTensors returns the adapter GGUF tensors of a model with fused projections, in
// llama.cpp's names: one lora_a/lora_b pair per fused tensor whose parts carry adapters (and
// the usual pair for the others). llama.cpp scales B·A by alpha/rank with rank read from the
// tensor, so the fused pair of n parts (rank n·r) is A = [A_1; …; A_n], B = n·blockdiag(B_1, …,
// B_n) placed at each part's rows: then alpha/(n·r)·B·A = Σ alpha/r·B_i·A_i exactly (a part
// without an adapter contributes zero rows).
func (m *Model) fusedAdapterTensors() []*ggml.Tensor {
	type group struct {
		name    string
		rows    int
		in      int
		parts   []*linear
		offsets []int
	}
	linearOf := map[**Param]*linear{}
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			linearOf[&l.w] = l
		}
	}
	var order []*group
	groups := map[string]*group{}
	var ts []*ggml.Tensor
	pair := func(name string, in, out, rank int, a, b []float32) {
		ts = append(ts,
			&ggml.Tensor{Name: name + ".lora_a", Kind: uint32(kernels.TypeF32), Shape: []uint64{uint64(in), uint64(rank)}, WriterTo: f32Tensor(kernels.TypeF32, a)},
			&ggml.Tensor{Name: name + ".lora_b", Kind: uint32(kernels.TypeF32), Shape: []uint64{uint64(rank), uint64(out)}, WriterTo: f32Tensor(kernels.TypeF32, b)},
		)
	}
	for _, b := range m.bindings() {
		l := linearOf[b.slot]
		if l == nil || l.lora == nil {
			continue
		}
		if b.fusedRows == 0 {
			pair(b.name, l.in, l.out, l.lora.rank, l.lora.a.Data, l.lora.b.Data)
			continue
		}
		g := groups[b.name]
		if g == nil {
			g = &group{name: b.name, rows: b.fusedRows, in: l.in}
			groups[b.name] = g
			order = append(order, g)
		}
		g.parts, g.offsets = append(g.parts, l), append(g.offsets, b.rowOff)
	}
	for _, g := range order {
		r := g.parts[0].lora.rank
		n := len(g.parts)
		rank := n * r
		a := make([]float32, rank*g.in)
		bf := make([]float32, g.rows*rank)
		for j, l := range g.parts {
			copy(a[j*r*g.in:], l.lora.a.Data)
			for o := 0; o < l.out; o++ {
				for k := 0; k < r; k++ {
					bf[(g.offsets[j]+o)*rank+j*r+k] = float32(n) * l.lora.b.Data[o*r+k]
				}
			}
		}
		pair(g.name, g.in, g.rows, rank, a, bf)
	}
	return ts
}
