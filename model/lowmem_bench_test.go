package model

import (
	"testing"
)

// BenchmarkLowMemTile times LowMemory's products with an encoded SmolLM2-135M-sized projection
// (ffn_gate 1536×576 and ffn_down 576×1536 as Q8_0, 128 input rows), forward and input
// gradient: "old" is the first LowMemory (64-row tiles decoded on one goroutine), "new" is
// lowMemForward/lowMemBackward (kernels.SgemmQ, decoding into the packed panels), "dense" the
// normal path's one SGEMM on float32 weights. On a shared machine compare CPU time, e.g.
//
//	go test ./model -run '^$' -bench LowMemTile -count 3 -cpu 1,2
func BenchmarkLowMemTile(b *testing.B) {
	cfg := Config{Arch: "llama", Layers: 1, Dim: 576, FFN: 1536, Heads: 9, KVHeads: 3, Vocab: 64}
	m, err := NewRandom(cfg, 1, LoadOptions{LowMemory: true})
	if err != nil {
		b.Fatal(err)
	}
	const T = 128
	old := func(l *linear, y, x []float32, fwd bool) {
		buf := make([]float32, 64*l.in)
		beta := float32(0)
		for r0 := 0; r0 < l.out; r0 += 64 {
			r1 := min(r0+64, l.out)
			w := l.rows(buf, r0, r1)
			if fwd {
				sgemm(m.threads, false, true, T, r1-r0, l.in, 1, x, l.in, w, l.in, 0, y[r0:], l.out)
			} else {
				sgemm(m.threads, false, false, T, l.in, r1-r0, 1, x[r0:], l.out, w, l.in, beta, y, l.in)
				beta = 1
			}
		}
	}
	for _, l := range []*linear{&m.blocks[0].gate, &m.blocks[0].down} {
		x, y := make([]float32, T*max(l.in, l.out)), make([]float32, T*max(l.in, l.out))
		for i := range x {
			x[i] = float32(i%7) * 0.1
		}
		W := l.weightF32()
		b.Run(l.target+"/fwd/old", func(b *testing.B) {
			for range b.N {
				old(l, y, x, true)
			}
		})
		b.Run(l.target+"/fwd/new", func(b *testing.B) {
			for range b.N {
				m.lowMemForward(l, y, x, T)
			}
		})
		b.Run(l.target+"/fwd/dense", func(b *testing.B) {
			for range b.N {
				sgemm(m.threads, false, true, T, l.out, l.in, 1, x, l.in, W, l.in, 0, y, l.out)
			}
		})
		b.Run(l.target+"/bwd/old", func(b *testing.B) {
			for range b.N {
				old(l, y, x, false)
			}
		})
		b.Run(l.target+"/bwd/new", func(b *testing.B) {
			for range b.N {
				m.lowMemBackward(l, y, x, T, 0)
			}
		})
	}
}
