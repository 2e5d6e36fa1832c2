package model

// Layer variants beyond the llama block, each switched on by a Config field (the gemma family
// uses them; see gemma2.go, gemma3.go): GeGLU, logit soft-capping, and attention with a score
// scale of its own, soft-capped scores and a sliding window. Forward and backward in pairs, as
// in layers.go.

import (
	"math"

	"github.com/alignkit/align/kernels"
)

// ffnAct writes the FFN activation h = act(gate)·up: silu (SwiGLU), or gelu_tanh
// (GeGLU, Config.GeGLU).
func (m *Model) ffnAct(h, gate, up []float32) {
	if m.cfg.GeGLU {
		gegluForward(h, gate, up)
		return
	}
	swigluForward(h, gate, up)
}

// ffnActBackward overwrites dgate and dup from dh, the gradient of h = act(gate)·up.
func (m *Model) ffnActBackward(dgate, dup, dh, gate, up []float32) {
	if m.cfg.GeGLU {
		gegluBackward(dgate, dup, dh, gate, up)
		return
	}
	swigluBackward(dgate, dup, dh, gate, up)
}

// gelu_tanh(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), the approximation Gemma uses
// (HF hidden_activation "gelu_pytorch_tanh", ggml_gelu).
const (
	geluA       = 0.044715
	geluSqrt2Pi = 0.79788456080286535587989211986876 // √(2/π)
)

func gelu64(x float64) (g, dg float64) {
	u := geluSqrt2Pi * (x + geluA*x*x*x)
	t := math.Tanh(u)
	g = 0.5 * x * (1 + t)
	dg = 0.5*(1+t) + 0.5*x*(1-t*t)*geluSqrt2Pi*(1+3*geluA*x*x)
	return g, dg
}

// gegluForward computes out = gelu_tanh(gate)·up (in float64, rounded once).
func gegluForward(out, gate, up []float32) {
	for i, x := range gate {
		g, _ := gelu64(float64(x))
		out[i] = float32(g * float64(up[i]))
	}
}

// gegluBackward overwrites dgate = dout·up·gelu'(gate) and dup = dout·gelu(gate).
func gegluBackward(dgate, dup, dout, gate, up []float32) {
	for i, x := range gate {
		g, dg := gelu64(float64(x))
		d := float64(dout[i])
		dgate[i] = float32(d * float64(up[i]) * dg)
		dup[i] = float32(d * g)
	}
}

// softcapForward replaces every z of x by c·tanh(z/c) (nothing when c is 0) and, when t is not
// nil, keeps tanh(z/c) in t for softcapBackward.
func softcapForward(x, t []float32, c float32) {
	if c == 0 {
		return
	}
	for i, z := range x {
		th := float32(math.Tanh(float64(z / c)))
		x[i] = c * th
		if t != nil {
			t[i] = th
		}
	}
}

// softcapBackward turns, in place, the gradient with respect to c·tanh(z/c) into the gradient
// with respect to z: d/dz c·tanh(z/c) = 1 − tanh². t nil (no cap) leaves g as it is.
func softcapBackward(g, t []float32) {
	if t == nil {
		return
	}
	for i := range g {
		g[i] *= 1 - t[i]*t[i]
	}
}

// attentionLayer is block l's attention: the kernels' plain causal softmax(QKᵀ/√hd) where that
// is what the layer computes, else the row-block SGEMM path below with the layer's score scale,
// soft-cap and sliding window.
func (m *Model) attentionLayer(l int, out, q, k, v []float32, spans []seqSpan) {
	if m.cfg.plainAttention(l) {
		m.attentionForward(out, q, k, v, spans)
		return
	}
	m.attentionForwardExt(l, out, q, k, v, spans)
}

// attentionLayerBackward is attentionLayer's backward.
func (m *Model) attentionLayerBackward(l int, dq, dk, dv, dout, q, k, v []float32, spans []seqSpan) {
	if m.cfg.plainAttention(l) {
		m.attentionBackward(dq, dk, dv, dout, q, k, v, spans)
		return
	}
	m.attentionBackwardExt(l, dq, dk, dv, dout, q, k, v, spans)
}

// attnExt is one layer's attention variant: score scale, soft-cap (0 = none) and window (0 =
// none; else row i sees keys j with i−j < window).
type attnExt struct {
	scale, softcap float32
	window         int
}

func (c Config) attnExt(l int) attnExt {
	e := attnExt{scale: c.attnScale(), softcap: c.AttnSoftcap}
	if c.windowed(l) {
		e.window = c.Window
	}
	return e
}

// first returns the first key row i attends to.
func (e attnExt) first(i int) int {
	if e.window > 0 {
		return max(0, i-e.window+1)
	}
	return 0
}

// probs writes rows [r0, r1) of P for one sequence and head: the scores s = scale·q·k, capped to
// c·tanh(s/c) (tanh kept in T when T is not nil), masked to the causal window, softmaxed. P and
// T are [n, n]; only columns [0, r1) of those rows are written.
func (e attnExt) probs(P, T, qh, kg []float32, r0, r1, n, hd, qDim, kvDim int) {
	kernels.SgemmThreads(1, false, true, r1-r0, r1, hd, e.scale, qh[r0*qDim:], qDim, kg, kvDim, 0, P[r0*n:], n)
	for i := r0; i < r1; i++ {
		row := P[i*n : i*n+r1]
		lo := e.first(i)
		var t []float32
		if T != nil {
			t = T[i*n+lo : i*n+i+1]
		}
		softcapForward(row[lo:i+1], t, e.softcap)
		softmax(row[lo:i+1], row[lo:i+1])
		kernels.FlushTiny(row[lo : i+1])
		clear(row[:lo])
		clear(row[i+1:])
	}
}

// attentionForwardExt is attentionForwardGemm with layer l's attnExt. The window counts a
// branch's rows from its prompt's start (vseq row i is position i).
func (m *Model) attentionForwardExt(l int, out, q, k, v []float32, spans []seqSpan) {
	_, _, hd, _, qDim, _, _ := m.cfg.attnShape()
	e := m.cfg.attnExt(l)
	bufs := scratchPairs(m.threads)
	m.eachVseqHead(k, v, spans, func(w, h int, vs vseq) {
		n := vs.L
		P, _ := bufs[w].get(n * n)
		qh, oh := q[vs.q0*qDim+h*hd:], out[vs.q0*qDim+h*hd:]
		for r0 := vs.from; r0 < n; r0 += attnBlock {
			r1 := min(r0+attnBlock, n)
			e.probs(P, nil, qh, vs.k, r0, r1, n, hd, qDim, vs.ld)
			kernels.SgemmThreads(1, false, false, r1-r0, hd, r1, 1, P[r0*n:], n, vs.v, vs.ld, 0, oh[r0*qDim:], qDim)
		}
	})
}

// attentionBackwardExt is attentionBackwardGemm with layer l's attnExt: with c the soft-cap and
// t = tanh(s/c), dS = scale·(1 − t²)·P∘(dP − rowsum(P∘dP)).
func (m *Model) attentionBackwardExt(l int, dq, dk, dv, dout, q, k, v []float32, spans []seqSpan) {
	_, _, hd, _, qDim, _, _ := m.cfg.attnShape()
	e := m.cfg.attnExt(l)
	bufs, tbufs := scratchPairs(m.threads), make([][]float32, max(m.threads, 1))
	m.eachVseqHeadBack(k, v, dk, dv, spans, func(w, h int, vs vseq, dkg, dvg []float32, ldd int) {
		n := vs.L
		for i := 0; i < n; i++ {
			clear(dkg[i*ldd : i*ldd+hd])
			clear(dvg[i*ldd : i*ldd+hd])
		}
		P, dS := bufs[w].get(n * n)
		var T []float32
		if e.softcap != 0 {
			tbufs[w] = grow(tbufs[w], n*n)
			T = tbufs[w]
		}
		qh, doh, dqh := q[vs.q0*qDim+h*hd:], dout[vs.q0*qDim+h*hd:], dq[vs.q0*qDim+h*hd:]
		for r0 := vs.from; r0 < n; r0 += attnBlock {
			r1, mm := min(r0+attnBlock, n), min(r0+attnBlock, n)-r0
			e.probs(P, T, qh, vs.k, r0, r1, n, hd, qDim, vs.ld)
			kernels.SgemmThreads(1, true, false, r1, hd, mm, 1, P[r0*n:], n, doh[r0*qDim:], qDim, 1, dvg, ldd)
			kernels.SgemmThreads(1, false, true, mm, r1, hd, 1, doh[r0*qDim:], qDim, vs.v, vs.ld, 0, dS[r0*n:], n)
			for i := r0; i < r1; i++ {
				lo := e.first(i)
				p, d := P[i*n+lo:i*n+i+1], dS[i*n:i*n+r1]
				sum := dot(p, d[lo:i+1])
				for j := range p {
					d[lo+j] = e.scale * p[j] * (d[lo+j] - sum)
				}
				if T != nil {
					softcapBackward(d[lo:i+1], T[i*n+lo:i*n+i+1])
				}
				clear(d[:lo])
				clear(d[i+1:])
			}
			kernels.SgemmThreads(1, false, false, mm, hd, r1, 1, dS[r0*n:], n, vs.k, vs.ld, 0, dqh[r0*qDim:], qDim)
			kernels.SgemmThreads(1, true, false, r1, hd, mm, 1, dS[r0*n:], n, qh[r0*qDim:], qDim, 1, dkg, ldd)
		}
	})
}
