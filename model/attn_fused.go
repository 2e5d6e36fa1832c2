package model

import "github.com/alignkit/align/kernels"

// attnFusedMaxHeadDim is the largest head dim that attention computes by the fused row loops
// below instead of row-block SGEMMs. With heads this narrow (stories260K's are 8 wide) every
// SGEMM has an inner dimension of hd or an output of hd columns, so packing its operands costs
// more than the arithmetic; the fused loops instead keep K and V of one (sequence, kv head)
// transposed, [hd, n], so that each query row is hd long, contiguous Axpy/Dot calls over its
// causal columns. At hd = 64 (SmolLM2-135M) the SGEMMs win and stay.
const attnFusedMaxHeadDim = 32

// transposeIn writes the [n, hd] rows of src (row stride ld) into dst as [hd, n].
func transposeIn(dst, src []float32, n, hd, ld int) {
	for j := 0; j < n; j++ {
		row := src[j*ld : j*ld+hd]
		for d, x := range row {
			dst[d*n+j] = x
		}
	}
}

// transposeOut writes src [hd, n] into the [n, hd] rows of dst (row stride ld).
func transposeOut(dst, src []float32, n, hd, ld int) {
	for j := 0; j < n; j++ {
		row := dst[j*ld : j*ld+hd]
		for d := range row {
			row[d] = src[d*n+j]
		}
	}
}

// fusedProbs writes p[:i+1] = softmax(scale·q·Kᵀ[:, :i+1]) for query row q (hd long), with
// kt = Kᵀ [hd, n], probabilities below 2⁻¹⁰⁰ set to zero.
func fusedProbs(p, q, kt []float32, i, n int, scale float32) {
	L := i + 1
	p = p[:L]
	clear(p)
	for d, x := range q {
		axpy(scale*x, kt[d*n:d*n+L], p)
	}
	softmax(p, p)
	kernels.FlushTiny(p) // probabilities below 2⁻¹⁰⁰ would make subnormals in every Axpy
}

// attentionForwardFused is attentionForward for head dims up to attnFusedMaxHeadDim: per
// (sequence, kv head) work item it transposes K and V once, then for each of the group's heads
// and each row i computes the causal scores by hd Axpys of length i+1, the softmax, and the
// output by hd Dots. Work items and the order of every sum are fixed, so results do not depend
// on the thread count.
func (m *Model) attentionForwardFused(out, q, k, v []float32, spans []seqSpan) {
	_, _, hd, rep, qDim, _, scale := m.cfg.attnShape()
	bufs := scratchPairs(m.threads)
	m.eachVseq(k, v, spans, func(w, g int, vs vseq) {
		n := vs.L
		kvt, p := bufs[w].get(2 * hd * n)
		kt, vt := kvt[:hd*n], kvt[hd*n:2*hd*n]
		transposeIn(kt, vs.k, n, hd, vs.ld)
		transposeIn(vt, vs.v, n, hd, vs.ld)
		for h := g * rep; h < (g+1)*rep; h++ {
			for i := vs.from; i < n; i++ {
				qi := q[(vs.q0+i)*qDim+h*hd : (vs.q0+i)*qDim+(h+1)*hd]
				oi := out[(vs.q0+i)*qDim+h*hd : (vs.q0+i)*qDim+(h+1)*hd]
				fusedProbs(p, qi, kt, i, n, scale)
				for d := range oi {
					oi[d] = dot(p[:i+1], vt[d*n:d*n+i+1])
				}
			}
		}
	})
}

// attentionBackwardFused is attentionBackward for head dims up to attnFusedMaxHeadDim, row by
// row over the transposed K, V of each (sequence, kv head) as in attentionForwardFused: with
// p the recomputed probabilities of row i, dp = dOᵢ·Vᵀ (hd Axpys), ds = scale·p∘(dp − p·dp),
// dQᵢ = ds·K (hd Dots), and dKᵀ += Qᵢ⊗ds, dVᵀ += dOᵢ⊗p (hd Axpys each) accumulated transposed
// over the group's heads and written back once.
func (m *Model) attentionBackwardFused(dq, dk, dv, dout, q, k, v []float32, spans []seqSpan) {
	_, _, hd, rep, qDim, _, scale := m.cfg.attnShape()
	bufs := scratchPairs(m.threads)
	m.eachVseqBack(k, v, dk, dv, spans, func(w, g int, vs vseq, dkd, dvd []float32, ldd int) {
		n := vs.L
		t, pd := bufs[w].get(4 * hd * n)
		kt, vt, dkt, dvt := t[:hd*n], t[hd*n:2*hd*n], t[2*hd*n:3*hd*n], t[3*hd*n:4*hd*n]
		p, dp := pd[:n], pd[n:2*n]
		transposeIn(kt, vs.k, n, hd, vs.ld)
		transposeIn(vt, vs.v, n, hd, vs.ld)
		clear(dkt)
		clear(dvt)
		for h := g * rep; h < (g+1)*rep; h++ {
			for i := vs.from; i < n; i++ {
				L := i + 1
				row := (vs.q0+i)*qDim + h*hd
				qi, doi, dqi := q[row:row+hd], dout[row:row+hd], dq[row:row+hd]
				fusedProbs(p, qi, kt, i, n, scale)
				pi, dpi := p[:L], dp[:L]
				clear(dpi)
				for d, x := range doi {
					axpy(x, vt[d*n:d*n+L], dpi)
					axpy(x, pi, dvt[d*n:d*n+L])
				}
				sum := dot(pi, dpi)
				for j, pj := range pi {
					dpi[j] = scale * pj * (dpi[j] - sum)
				}
				for d, x := range qi {
					dqi[d] = dot(dpi, kt[d*n:d*n+L])
					axpy(x, dpi, dkt[d*n:d*n+L])
				}
			}
		}
		transposeOut(dkd, dkt, n, hd, ldd)
		transposeOut(dvd, dvt, n, hd, ldd)
	})
}
