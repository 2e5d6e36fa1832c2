package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
)

// NewRandom builds a model of the given shape with random weights (N(0, 0.02²) matrices, norms
// near 1) and no tokenizer: for benchmarks and gradient checks. Arch, RopeNeoX and QKVBias are
// taken from cfg as given; Tied drops output.weight.
func NewRandom(cfg Config, seed uint64, opt LoadOptions) (*Model, error) {
	if cfg.Layers <= 0 || cfg.Dim <= 0 || cfg.Heads <= 0 || cfg.FFN <= 0 || cfg.Vocab <= 0 {
		return nil, errors.New("model: random: Layers, Dim, Heads, FFN and Vocab must be positive")
	}
	if cfg.KVHeads == 0 {
		cfg.KVHeads = cfg.Heads
	}
	if cfg.HeadDim == 0 {
		cfg.HeadDim = cfg.Dim / cfg.Heads
	}
	if cfg.RopeDim == 0 {
		cfg.RopeDim = cfg.HeadDim
	}
	if cfg.RopeTheta == 0 {
		cfg.RopeTheta = 10000
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-5
	}
	if cfg.ContextLen == 0 {
		cfg.ContextLen = 2048
	}
	if cfg.Arch == "" {
		cfg.Arch = "llama"
	}
	if cfg.RopeFreqs != nil && len(cfg.RopeFreqs) != cfg.RopeDim/2 {
		return nil, fmt.Errorf("model: random: %d RoPE frequency factors for rope dimension %d (want %d)", len(cfg.RopeFreqs), cfg.RopeDim, cfg.RopeDim/2)
	}
	if cfg.Heads%cfg.KVHeads != 0 {
		return nil, fmt.Errorf("model: random: %d heads not a multiple of %d kv heads", cfg.Heads, cfg.KVHeads)
	}
	if opt.Full && opt.LoRA != nil {
		return nil, errors.New("model: random: Full and LoRA are exclusive")
	}
	m := &Model{cfg: cfg, opt: opt, threads: opt.Threads, blocks: make([]block, cfg.Layers)}
	if m.threads <= 0 {
		m.threads = runtime.GOMAXPROCS(0)
	}
	if opt.LowMemory && opt.Full {
		return nil, errors.New("model: random: LowMemory keeps the base quantized and frozen: it cannot be combined with Full training")
	}
	pending := map[*Param]*qweight{}
	rng := rand.New(rand.NewPCG(seed, 0xA11CE))
	for _, b := range m.bindings() {
		if b.name == "output.weight" && cfg.Tied {
			continue
		}
		n, shape := b.shape[0], []int{b.shape[0]}
		if b.shape[1] != 0 {
			n *= b.shape[1]
			shape = append(shape, b.shape[1])
		}
		name := b.name
		if b.part != "" { // a row range of a fused tensor (phi3)
			name = b.part
		}
		p := &Param{Name: name, Shape: shape}
		*b.slot = p
		if opt.LowMemory && (lowMemoryName(b.name) || (tableName(b.name) && !opt.F16KV)) {
			// Encoded a few rows at a time, so no float32 copy of the weight is ever whole.
			q, err := encodeRandom(p, opt.RandomType, func(dst []float32) {
				for i := range dst {
					dst[i] = float32(0.02 * rng.NormFloat64())
				}
			})
			if err != nil {
				return nil, fmt.Errorf("model: random: %w", err)
			}
			pending[p] = q
			continue
		}
		p.Data = make([]float32, n)
		for i := range p.Data {
			if len(shape) == 1 && !isBias(b.name) {
				p.Data[i] = float32(1 + 0.1*rng.NormFloat64())
			} else {
				p.Data[i] = float32(0.02 * rng.NormFloat64())
			}
		}
	}
	m.embedQ, m.outputQ = pending[m.embed], pending[m.output]
	for i := range m.blocks {
		for j, l := range m.blocks[i].linears() {
			l.target = targetNames()[j]
			l.out, l.in = l.w.Shape[0], l.w.Shape[1]
			l.q = pending[l.w]
		}
	}
	if err := m.initTrainable(); err != nil {
		return nil, fmt.Errorf("model: random: %w", err)
	}
	return m, nil
}

func isBias(name string) bool { return len(name) > 5 && name[len(name)-5:] == ".bias" }
