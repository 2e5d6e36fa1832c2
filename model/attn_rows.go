package model

import (
	"math"
)

// Small-head attention by row kernels (AVX-512 assembly in attn_rows_amd64.s, with the pure-Go
// twins below as their reference). It replaces the fused loops of attn_fused.go when
// attnRowsAsm(hd) holds (AVX-512 and a head dim that is a multiple of 8, up to
// attnFusedMaxHeadDim): those loops make 2·hd+1 calls of kernels Axpy/Dot/Softmax per row
// (and 5·hd+2 in backward), each a pass over the row's causal columns through memory, and
// scalar loops for the flush and dS, so with hd = 8 call overhead and loads dominate.
//
// Here one call handles one query row i (L = i+1 keys) of one head, or of the two heads of a GQA
// pair (the "2" kernels, which share every load of K, V, dKᵀ and dVᵀ), in passes over blocks of
// attnKB keys held in registers:
//
//	forward:  A  s = scale·q·Kᵀ (hd broadcast FMAs per block), running max
//	          B  e = exp(s − max), 0 below 2⁻¹⁰⁰, and Σe
//	          C  out = (e·V) / Σe, 8 head dims at a time in 8 accumulators
//	backward: A  s as above and dp = dO·Vᵀ
//	          B  e as above, Σe and Σe·dp
//	          D  p = e/Σe, ds = scale·p·(dp − Σp·dp); dq = ds·K; dKᵀ += q⊗ds; dVᵀ += dO⊗p
//
// K and V of one (sequence, kv head) are stored blocked, [n/attnKB][hd][attnKB], so that the
// hd rows of one block of keys are contiguous (each pass walks memory linearly) and padded with
// zeros to whole blocks; the lanes of the last block past key i are masked to −inf before the
// max. Flushing exp below 2⁻¹⁰⁰ (inputs clamped at −100 first) keeps every value normal: a
// subnormal operand or result sends the FMA through the CPU's slow microcode assist.
//
// Work items are (sequence, kv head) pairs, rows run in order within an item, and every sum
// has a fixed order, so results do not depend on the thread count.

// attnKB is the number of keys per block: one 512-bit vector of float32.
const attnKB = 16

// attnFlushBelow is −100·ln2: exp(x) for x below it (probabilities under 2⁻¹⁰⁰, relative to the
// row's largest) is set to zero. attnClampAt is where inputs are clamped first.
const (
	attnFlushBelow = float32(-100 * math.Ln2)
	attnClampAt    = float32(-100)
)

// attnTail is the bit mask of the valid keys in the last of nb blocks of a row of L keys.
func attnTail(L, nb int) int { return 1<<(L-(nb-1)*attnKB) - 1 }

// attnPad is n rounded up to whole blocks.
func attnPad(n int) int { return (n + attnKB - 1) / attnKB * attnKB }

// blockIn writes the [n, hd] rows of src (row stride ld) into dst blocked, [np/attnKB][hd][attnKB]
// with np = attnPad(n), zero past key n.
func blockIn(dst, src []float32, n, hd, ld int) {
	np := attnPad(n)
	dst = dst[:np*hd]
	for j := 0; j < n; j++ {
		row := src[j*ld : j*ld+hd]
		base := (j/attnKB)*hd*attnKB + j%attnKB
		for d, x := range row {
			dst[base+d*attnKB] = x
		}
	}
	for j := n; j < np; j++ {
		base := (j/attnKB)*hd*attnKB + j%attnKB
		for d := 0; d < hd; d++ {
			dst[base+d*attnKB] = 0
		}
	}
}

// blockOut writes the first n keys of the blocked src into the [n, hd] rows of dst (stride ld).
func blockOut(dst, src []float32, n, hd, ld int) {
	for j := 0; j < n; j++ {
		row := dst[j*ld : j*ld+hd]
		base := (j/attnKB)*hd*attnKB + j%attnKB
		for d := range row {
			row[d] = src[base+d*attnKB]
		}
	}
}

// attnExp0 is the row kernels' exp of x ≤ 0: clamped at attnClampAt, zero below attnFlushBelow.
func attnExp0(x float32) float32 {
	x = max(x, attnClampAt)
	if x < attnFlushBelow {
		return 0
	}
	return float32(math.Exp(float64(x)))
}

// attnScores is pass A: e[j] = scale·q·k_j for j < L, and their maximum.
func attnScores(e, q, kt []float32, hd, L int, scale float32) float32 {
	m := float32(math.Inf(-1))
	for j := 0; j < L; j++ {
		base := (j/attnKB)*hd*attnKB + j%attnKB
		s := float32(0)
		for d, x := range q[:hd] {
			s += x * kt[base+d*attnKB]
		}
		s *= scale
		e[j] = s
		m = max(m, s)
	}
	return m
}

// attnRowFwdGo is the forward row kernel: out[:hd] = softmax(scale·q·Kᵀ[:, :L])·V[:L], with K
// and V blocked (blockIn) and e a scratch row of at least L floats.
func attnRowFwdGo(out, q, kt, vt, e []float32, hd, L int, scale float32) {
	m := attnScores(e, q, kt, hd, L, scale)
	sum := float32(0)
	for j := range e[:L] {
		e[j] = attnExp0(e[j] - m)
		sum += e[j]
	}
	inv := 1 / sum
	for d := range out[:hd] {
		acc := float32(0)
		for j, x := range e[:L] {
			acc += x * vt[(j/attnKB)*hd*attnKB+d*attnKB+j%attnKB]
		}
		out[d] = acc * inv
	}
}

// attnRowBwdGo is the backward row kernel: with p the row's probabilities (recomputed),
// it writes dq[:hd] = scale·(p∘(dp − p·dp))·K for dp = dO·Vᵀ, and adds q⊗ds into dKᵀ and dO⊗p
// into dVᵀ (blocked like K and V); e and dp are scratch rows of at least L floats.
func attnRowBwdGo(dq, q, do, kt, vt, dkt, dvt, e, dp []float32, hd, L int, scale float32) {
	m := attnScores(e, q, kt, hd, L, scale)
	sum, sd := float32(0), float32(0)
	for j := range e[:L] {
		base := (j/attnKB)*hd*attnKB + j%attnKB
		g := float32(0)
		for d, x := range do[:hd] {
			g += x * vt[base+d*attnKB]
		}
		dp[j] = g
		e[j] = attnExp0(e[j] - m)
		sum += e[j]
		sd += e[j] * g
	}
	inv := 1 / sum
	pdp := sd * inv
	clear(dq[:hd])
	for j := range e[:L] {
		base := (j/attnKB)*hd*attnKB + j%attnKB
		p := e[j] * inv
		ds := (dp[j] - pdp) * p * scale
		for d := range dq[:hd] {
			i := base + d*attnKB
			dq[d] += ds * kt[i]
			dkt[i] += q[d] * ds
			dvt[i] += do[d] * p
		}
	}
}

// attnRowFwd2Go is attnRowFwdGo on two adjacent heads (q and out rows 2·hd long) for the same
// query row; e is a scratch row of 4·attnKB floats per block of keys.
func attnRowFwd2Go(out, q, kt, vt, e []float32, hd, L int, scale float32) {
	attnRowFwdGo(out[:hd], q[:hd], kt, vt, e, hd, L, scale)
	attnRowFwdGo(out[hd:2*hd], q[hd:2*hd], kt, vt, e, hd, L, scale)
}

// attnRowBwd2Go is attnRowBwdGo on two adjacent heads (q, dO and dq rows 2·hd long) for the
// same query row; e is a scratch row of 4·attnKB floats per block of keys.
func attnRowBwd2Go(dq, q, do, kt, vt, dkt, dvt, e []float32, hd, L int, scale float32) {
	n := len(e) / 2
	attnRowBwdGo(dq[:hd], q[:hd], do[:hd], kt, vt, dkt, dvt, e[:n], e[n:], hd, L, scale)
	attnRowBwdGo(dq[hd:2*hd], q[hd:2*hd], do[hd:2*hd], kt, vt, dkt, dvt, e[:n], e[n:], hd, L, scale)
}

// attnRowKernels is a set of row kernels, one head or two at a time: the assembly ones or their
// Go twins.
type attnRowKernels struct {
	fwd  func(out, q, kt, vt, e []float32, hd, L int, scale float32)
	bwd  func(dq, q, do, kt, vt, dkt, dvt, e, dp []float32, hd, L int, scale float32)
	fwd2 func(out, q, kt, vt, e []float32, hd, L int, scale float32)
	bwd2 func(dq, q, do, kt, vt, dkt, dvt, e []float32, hd, L int, scale float32)
}

func attnRowsGo() attnRowKernels {
	return attnRowKernels{attnRowFwdGo, attnRowBwdGo, attnRowFwd2Go, attnRowBwd2Go}
}

func attnRowsSIMD() attnRowKernels {
	return attnRowKernels{attnRowFwdAsm, attnRowBwdAsm, attnRowFwd2Asm, attnRowBwd2Asm}
}

// attentionForwardRows is attentionForward by the row kernels rk.
func (m *Model) attentionForwardRows(rk attnRowKernels, out, q, k, v []float32, spans []seqSpan) {
	_, KV, hd, rep, qDim, kvDim, scale := m.cfg.attnShape()
	bufs := scratchPairs(m.threads)
	parallelForWorker(m.threads, len(spans)*KV, func(w, item int) {
		s, g := spans[item/KV], item%KV
		n, np := s.n, attnPad(s.n)
		kv, scr := bufs[w].get(max(2*hd, 4) * np)
		kt, vt, e := kv[:hd*np], kv[hd*np:2*hd*np], scr[:4*np]
		blockIn(kt, k[s.off*kvDim+g*hd:], n, hd, kvDim)
		blockIn(vt, v[s.off*kvDim+g*hd:], n, hd, kvDim)
		h := g * rep
		for ; h+1 < (g+1)*rep; h += 2 { // heads two at a time, sharing K and V
			for i := 0; i < n; i++ {
				row := (s.off+i)*qDim + h*hd
				rk.fwd2(out[row:row+2*hd], q[row:row+2*hd], kt, vt, e, hd, i+1, scale)
			}
		}
		if h < (g+1)*rep {
			for i := 0; i < n; i++ {
				row := (s.off+i)*qDim + h*hd
				rk.fwd(out[row:row+hd], q[row:row+hd], kt, vt, e, hd, i+1, scale)
			}
		}
	})
}

// attentionBackwardRows is attentionBackward by the row kernels rk.
func (m *Model) attentionBackwardRows(rk attnRowKernels, dq, dk, dv, dout, q, k, v []float32, spans []seqSpan) {
	_, KV, hd, rep, qDim, kvDim, scale := m.cfg.attnShape()
	bufs := scratchPairs(m.threads)
	parallelForWorker(m.threads, len(spans)*KV, func(w, item int) {
		s, g := spans[item/KV], item%KV
		n, np := s.n, attnPad(s.n)
		t, ed := bufs[w].get(4 * hd * np)
		kt, vt, dkt, dvt := t[:hd*np], t[hd*np:2*hd*np], t[2*hd*np:3*hd*np], t[3*hd*np:4*hd*np]
		ed = ed[:4*np]
		blockIn(kt, k[s.off*kvDim+g*hd:], n, hd, kvDim)
		blockIn(vt, v[s.off*kvDim+g*hd:], n, hd, kvDim)
		clear(dkt)
		clear(dvt)
		h := g * rep
		for ; h+1 < (g+1)*rep; h += 2 { // heads two at a time, sharing K, V, dKᵀ and dVᵀ
			for i := 0; i < n; i++ {
				row := (s.off+i)*qDim + h*hd
				rk.bwd2(dq[row:row+2*hd], q[row:row+2*hd], dout[row:row+2*hd], kt, vt, dkt, dvt, ed, hd, i+1, scale)
			}
		}
		if h < (g+1)*rep {
			for i := 0; i < n; i++ {
				row := (s.off+i)*qDim + h*hd
				rk.bwd(dq[row:row+hd], q[row:row+hd], dout[row:row+hd], kt, vt, dkt, dvt, ed[:np], ed[np:2*np], hd, i+1, scale)
			}
		}
		blockOut(dk[s.off*kvDim+g*hd:], dkt, n, hd, kvDim)
		blockOut(dv[s.off*kvDim+g*hd:], dvt, n, hd, kvDim)
	})
}
