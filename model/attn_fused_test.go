package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAttentionFusedMatchesGemm: the fused small-head attention and the row-block SGEMM
// attention agree, forward and backward, over several packed sequences (one longer than two
// row blocks), grouped heads, and peaked scores that exercise the subnormal flush.
func TestAttentionFusedMatchesGemm(t *testing.T) {
	for _, hd := range []int{4, 8, 32} {
		for _, peak := range []float64{1, 30} {
			c := Config{Heads: 4, KVHeads: 2, HeadDim: hd}
			m := &Model{cfg: c, threads: 2}
			spans := []seqSpan{{0, 5}, {5, 1}, {6, 2*attnBlock + 11}, {6 + 2*attnBlock + 11, 40}}
			T := 0
			for _, s := range spans {
				T += s.n
			}
			rng := rand.New(rand.NewPCG(uint64(hd), uint64(peak)))
			fill := func(n int, sc float64) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(sc * rng.NormFloat64())
				}
				return x
			}
			qDim, kvDim := c.Heads*hd, c.KVHeads*hd
			q, k, v := fill(T*qDim, peak), fill(T*kvDim, 1), fill(T*kvDim, 1)
			dout := fill(T*qDim, 1)
			o1, o2 := make([]float32, T*qDim), make([]float32, T*qDim)
			m.attentionForwardFused(o1, q, k, v, spans)
			m.attentionForwardGemm(o2, q, k, v, spans)
			compareClose(t, "out", hd, o1, o2)
			dq1, dk1, dv1 := fill(T*qDim, 1), fill(T*kvDim, 1), fill(T*kvDim, 1) // overwritten
			dq2, dk2, dv2 := make([]float32, T*qDim), make([]float32, T*kvDim), make([]float32, T*kvDim)
			m.attentionBackwardFused(dq1, dk1, dv1, dout, q, k, v, spans)
			m.attentionBackwardGemm(dq2, dk2, dv2, dout, q, k, v, spans)
			compareClose(t, "dq", hd, dq1, dq2)
			compareClose(t, "dk", hd, dk1, dk2)
			compareClose(t, "dv", hd, dv1, dv2)
		}
	}
}

func compareClose(t *testing.T, what string, hd int, got, want []float32) {
	t.Helper()
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	if scale == 0 {
		t.Fatalf("hd %d %s: all zero", hd, what)
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*scale || math.IsNaN(float64(got[i])) {
			t.Fatalf("hd %d %s[%d]: fused %g, sgemm %g", hd, what, i, got[i], want[i])
		}
	}
}
