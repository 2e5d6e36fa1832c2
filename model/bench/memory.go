package bench

import (
	"fmt"
	"strings"

	"github.com/alignkit/align/kernels"
	"github.com/alignkit/align/model"
)

// memParts is the estimated peak memory of one measurement, in bytes.
type memParts struct{ weights, state, acts, runtime int64 }

func (p memParts) total() int64 { return p.weights + p.state + p.acts + p.runtime }

// estimate sizes a (shape, mode) measurement at seqLen tokens: the weights (float32, or the
// projections, the token embedding and the LM head in quant with its fallbacks when resident),
// the trainable state (gradients and two AdamW moments: 12 bytes a trainable weight; the frozen
// float32 weights of a full step count their gradient too), the activations kept for backward
// (every block's, or only its input with recomputation, plus one block's recomputed set and the
// logits and their gradient) and a fixed 150 MB for the runtime. It is an upper estimate for
// deciding what to skip, not a prediction of the RSS (which the measurement reports).
func estimate(c model.Config, mode string, seqLen int, quant kernels.GGMLType) memParts {
	hd := c.HeadDim
	if hd == 0 {
		hd = c.Dim / c.Heads
	}
	D, F, L, V, T := int64(c.Dim), int64(c.FFN), int64(c.Layers), int64(c.Vocab), int64(seqLen)
	q, kv := int64(c.Heads*hd), int64(c.KVHeads*hd)
	type proj struct{ in, out int64 }
	projs := []proj{{D, q}, {D, kv}, {D, kv}, {q, D}, {D, F}, {D, F}, {F, D}}
	var p memParts
	p.runtime = 150 << 20
	tables := V * D // token_embd, and the untied head
	if !c.Tied {
		tables *= 2
	}
	resident := strings.Contains(mode, "-")
	embed := 4 * tables
	if resident { // NewRandom keeps the tables encoded too (model/head.go)
		embed = encodedBytes(tables, int(D), quant)
	}
	var nproj int64
	for _, pr := range projs {
		n := pr.in * pr.out
		nproj += n
		if resident {
			p.weights += L * encodedBytes(n, int(pr.in), quant)
		} else {
			p.weights += L * 4 * n
		}
	}
	p.weights += embed + L*4*(2*D+q+2*kv)
	base, _, _ := strings.Cut(mode, "-")
	switch base {
	case "lora":
		var r int64
		for _, pr := range projs {
			r += 16 * (pr.in + pr.out)
		}
		p.state = 12 * L * r
	case "full":
		p.state = 12 * (L*nproj + tables)
	}
	perBlock := T * (6*D + 2*q + 2*kv + 4*F) * 4 // inputs, norms, q/k/v, attention out, gate/up/act
	logits := 2 * 4 * T * V
	switch {
	case base == "forward":
		p.acts = 2*perBlock + logits/2
	case strings.HasSuffix(mode, "-lowmem"):
		p.acts = L*T*D*4 + 2*perBlock + logits
	default:
		p.acts = L*perBlock + logits
	}
	return p
}

// encodedBytes is the size of n weights in rows of in, as model.NewRandom encodes them: quant,
// else Q8_0, else F16 where a row is not whole blocks.
func encodedBytes(n int64, in int, quant kernels.GGMLType) int64 {
	if quant == kernels.TypeF32 {
		quant = kernels.TypeQ8_0
	}
	for _, t := range []kernels.GGMLType{quant, kernels.TypeQ8_0, kernels.TypeF16} {
		if elems, bytes := kernels.BlockSize(t); elems > 0 && in%elems == 0 {
			return n / int64(elems) * int64(bytes)
		}
	}
	return 2 * n
}

// Estimate is the estimated peak memory, in bytes, of measuring mode on shape c at seqLen.
func Estimate(c model.Config, mode string, seqLen int, quant kernels.GGMLType) int64 {
	return estimate(c, mode, seqLen, quant).total()
}

// EstimateWhy breaks Estimate down for a skip note.
func EstimateWhy(c model.Config, mode string, seqLen int, quant kernels.GGMLType) string {
	p := estimate(c, mode, seqLen, quant)
	gb := func(b int64) float64 { return float64(b) / 1e9 }
	return fmt.Sprintf("weights %.1f GB + gradients/optimizer %.1f GB + activations %.1f GB", gb(p.weights), gb(p.state), gb(p.acts))
}

// memAvailable is o.MemAvailable, or the kernel's MemAvailable estimate (model.AvailableMemory).
func (o Options) memAvailable() int64 {
	if o.MemAvailable > 0 {
		return o.MemAvailable
	}
	if a := model.AvailableMemory(); a > 0 {
		return a
	}
	return 1 << 62 // unknown: try
}

// ParseQuant reads a --quant value (q8_0, q4_k, f16, bf16; any case).
func ParseQuant(s string) (kernels.GGMLType, error) {
	for _, t := range []kernels.GGMLType{kernels.TypeQ8_0, kernels.TypeQ4_K, kernels.TypeF16, kernels.TypeBF16} {
		if strings.EqualFold(s, t.String()) && model.RandomEncodable(t) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("--quant %q: want q8_0, q4_k, f16 or bf16", s)
}

// ShapeNames lists the benchmark shapes.
func ShapeNames() []string {
	var out []string
	for _, s := range Shapes("") {
		out = append(out, s.Name)
	}
	return out
}
