package model

import "github.com/alignkit/align/kernels"

// Small-head attention by the row kernels of package kernels (kernels.AttnRowFwd and
// kernels/attnrows.go, which documents the blocked layout and the arithmetic). It replaces the
// fused loops of attn_fused.go when kernels.AttnRowsSIMD(hd) holds (AVX-512 and a head dim that
// is a multiple of 8, up to attnFusedMaxHeadDim). This file only schedules them: work items are
// (sequence, kv head) pairs, rows run in order within an item, and every sum has a fixed order,
// so results do not depend on the thread count.

// attentionForwardRows is attentionForward by the row kernels.
func (m *Model) attentionForwardRows(out, q, k, v []float32, spans []seqSpan) {
	_, _, hd, rep, qDim, _, scale := m.cfg.attnShape()
	bufs := scratchPairs(m.threads)
	m.eachVseq(k, v, spans, func(w, g int, vs vseq) {
		n, np := vs.L, kernels.AttnPad(vs.L)
		kv, scr := bufs[w].get(max(2*hd, 4) * np)
		kt, vt, e := kv[:hd*np], kv[hd*np:2*hd*np], scr[:4*np]
		kernels.BlockIn(kt, vs.k, n, hd, vs.ld)
		kernels.BlockIn(vt, vs.v, n, hd, vs.ld)
		h := g * rep
		for ; h+1 < (g+1)*rep; h += 2 { // heads two at a time, sharing K and V
			for i := vs.from; i < n; i++ {
				row := (vs.q0+i)*qDim + h*hd
				kernels.AttnRowFwd2(out[row:row+2*hd], q[row:row+2*hd], kt, vt, e, hd, i+1, scale)
			}
		}
		if h < (g+1)*rep {
			for i := vs.from; i < n; i++ {
				row := (vs.q0+i)*qDim + h*hd
				kernels.AttnRowFwd(out[row:row+hd], q[row:row+hd], kt, vt, e, hd, i+1, scale)
			}
		}
	})
}

// attentionBackwardRows is attentionBackward by the row kernels.
func (m *Model) attentionBackwardRows(dq, dk, dv, dout, q, k, v []float32, spans []seqSpan) {
	_, _, hd, rep, qDim, _, scale := m.cfg.attnShape()
	bufs := scratchPairs(m.threads)
	m.eachVseqBack(k, v, dk, dv, spans, func(w, g int, vs vseq, dkd, dvd []float32, ldd int) {
		n, np := vs.L, kernels.AttnPad(vs.L)
		t, ed := bufs[w].get(4 * hd * np)
		kt, vt, dkt, dvt := t[:hd*np], t[hd*np:2*hd*np], t[2*hd*np:3*hd*np], t[3*hd*np:4*hd*np]
		ed = ed[:4*np]
		kernels.BlockIn(kt, vs.k, n, hd, vs.ld)
		kernels.BlockIn(vt, vs.v, n, hd, vs.ld)
		clear(dkt)
		clear(dvt)
		h := g * rep
		for ; h+1 < (g+1)*rep; h += 2 { // heads two at a time, sharing K, V, dKᵀ and dVᵀ
			for i := vs.from; i < n; i++ {
				row := (vs.q0+i)*qDim + h*hd
				kernels.AttnRowBwd2(dq[row:row+2*hd], q[row:row+2*hd], dout[row:row+2*hd], kt, vt, dkt, dvt, ed, hd, i+1, scale)
			}
		}
		if h < (g+1)*rep {
			for i := vs.from; i < n; i++ {
				row := (vs.q0+i)*qDim + h*hd
				kernels.AttnRowBwd(dq[row:row+hd], q[row:row+hd], dout[row:row+hd], kt, vt, dkt, dvt, ed[:np], ed[np:2*np], hd, i+1, scale)
			}
		}
		kernels.BlockOut(dkd, dkt, n, hd, ldd)
		kernels.BlockOut(dvd, dvt, n, hd, ldd)
	})
}
