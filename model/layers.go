package model

// Explicit forward and backward functions per layer, llm.c style: shapes in the signature,
// activations in flat buffers, gradients accumulated where they are parameters' and overwritten
// where they are activations'. Rows are tokens; the packed batch is T tokens.

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/alignkit/align/kernels"
)

// linActs is what a linear layer's LoRA branch keeps for backward.
type linActs struct {
	// u is the adapter's down-projection (x⊙mask)·Aᵀ, stored transposed, [rank, T]: the adapter
	// products then have rank (16) rows rather than rank columns, which would fill a third of
	// the AVX-512 SGEMM's 48-wide tiles.
	u    []float32
	mask []float32 // [T, in]: dropout scale per element (0 or 1/(1-p)); nil without dropout
}

// linearForward computes y = x·Wᵀ + b + scale·((x⊙mask)·Aᵀ)·Bᵀ for x [T, in], y [T, out].
// dropSeed seeds the dropout mask (used only when dropout > 0). With more than one thread the
// adapter's down-projection runs beside the base projection (loraConcurrent); every product is
// the same either way, so results do not depend on it.
func (m *Model) linearForward(l *linear, y, x []float32, T int, la *linActs, dropout float32, dropSeed uint64) {
	var wg sync.WaitGroup
	if l.lora != nil {
		r := l.lora.rank
		in := x
		if dropout > 0 {
			if la.mask == nil || len(la.mask) < T*l.in {
				la.mask = make([]float32, T*l.in)
			}
			la.mask = la.mask[:T*l.in]
			rng := rand.New(rand.NewPCG(dropSeed, 0xD80))
			keep := 1 / (1 - dropout)
			xd := make([]float32, T*l.in)
			for i := range la.mask {
				if rng.Float32() < dropout {
					la.mask[i] = 0
				} else {
					la.mask[i] = keep
				}
				xd[i] = x[i] * la.mask[i]
			}
			in = xd
		} else {
			la.mask = nil
		}
		la.u = grow(la.u, T*r)
		down := func() { sgemm(m.threads, false, true, r, T, l.in, 1, l.lora.a.Data, l.in, in, l.in, 0, la.u, T) }
		if m.loraConcurrent(l, T) {
			wg.Go(down)
		} else {
			down()
		}
	}
	if l.q != nil {
		m.lowMemForward(l, y, x, T)
	} else {
		sgemm(m.threads, false, true, T, l.out, l.in, 1, x, l.in, l.w.Data, l.in, 0, y, l.out)
	}
	if l.b != nil {
		for t := 0; t < T; t++ {
			axpy(1, l.b.Data, y[t*l.out:(t+1)*l.out])
		}
	}
	if l.lora == nil {
		return
	}
	wg.Wait()
	r := l.lora.rank
	sgemm(m.threads, true, true, T, l.out, r, l.lora.scale, la.u, T, l.lora.b.Data, r, 1, y, l.out)
}

// loraConcurrent reports whether linear layer l's adapter products run on a goroutine of their
// own beside the base product: when they are too small for kernels.SgemmThreads to split
// (under 4 MFLOP, as at stories260K's size), one of two cores would otherwise idle through
// them. Larger ones (SmolLM2-135M) already use every thread and stay in sequence.
func (m *Model) loraConcurrent(l *linear, T int) bool {
	return m.threads > 1 && T >= 64 && 2*T*l.lora.rank*max(l.in, l.out) < 4e6
}

// linearBackward takes dy [T, out] and the forward input x [T, in]. It writes (accumulate=false)
// or adds (accumulate=true) dx [T, in], and accumulates dW, db (Full mode) and dA, dB (LoRA).
// The adapter's gradients run beside the base dx product as in linearForward; the adapter's
// part of dx is added after the base part either way.
func (m *Model) linearBackward(l *linear, dx, dy, x []float32, T int, la *linActs, accumulate bool) {
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	var wg sync.WaitGroup
	var du []float32
	if l.lora != nil {
		a, r, s := l.lora, l.lora.rank, l.lora.scale
		du = make([]float32, r*T) // transposed, [rank, T], like la.u
		// dBᵀ = s·uᵀ·dy (added into dB) ; duᵀ = s·Bᵀ·dyᵀ ; dA += duᵀ·(x⊙mask) ;
		// dx += (du·A)⊙mask (below)
		grads := func() {
			dbt := make([]float32, r*l.out)
			sgemm(m.threads, false, false, r, l.out, T, s, la.u, T, dy, l.out, 0, dbt, l.out)
			for k := 0; k < r; k++ {
				for o, g := range dbt[k*l.out : (k+1)*l.out] {
					a.b.Grad[o*r+k] += g
				}
			}
			sgemm(m.threads, true, true, r, T, l.out, s, a.b.Data, r, dy, l.out, 0, du, T)
			in := x
			if la.mask != nil {
				in = make([]float32, T*l.in)
				for i := range in {
					in[i] = x[i] * la.mask[i]
				}
			}
			sgemm(m.threads, false, false, r, l.in, T, 1, du, T, in, l.in, 1, a.a.Grad, l.in)
		}
		if m.loraConcurrent(l, T) {
			wg.Go(grads)
		} else {
			grads()
		}
	}
	if l.q != nil {
		m.lowMemBackward(l, dx, dy, T, beta)
	} else {
		sgemm(m.threads, false, false, T, l.in, l.out, 1, dy, l.out, l.w.Data, l.in, beta, dx, l.in)
	}
	if l.w.Grad != nil {
		sgemm(m.threads, true, false, l.out, l.in, T, 1, dy, l.out, x, l.in, 1, l.w.Grad, l.in)
	}
	if l.b != nil && l.b.Grad != nil {
		for t := 0; t < T; t++ {
			axpy(1, dy[t*l.out:(t+1)*l.out], l.b.Grad)
		}
	}
	if l.lora == nil {
		return
	}
	wg.Wait()
	a, r := l.lora, l.lora.rank
	if la.mask == nil {
		sgemm(m.threads, true, false, T, l.in, r, 1, du, T, a.a.Data, l.in, 1, dx, l.in)
		return
	}
	tmp := make([]float32, T*l.in)
	sgemm(m.threads, true, false, T, l.in, r, 1, du, T, a.a.Data, l.in, 0, tmp, l.in)
	for i := range tmp {
		dx[i] += tmp[i] * la.mask[i]
	}
}

// parallelFor runs fn(i) for i in [0, n) on up to threads goroutines with a fixed, strided
// partition; fn must write disjoint memory for distinct i.
func parallelFor(threads, n int, fn func(i int)) {
	parallelForWorker(threads, n, func(_, i int) { fn(i) })
}

// parallelForWorker is parallelFor that also tells fn which worker (in [0, threads)) runs it,
// for per-worker scratch buffers. The workers are kernels.Parallel's, which spin briefly between
// regions instead of being started anew for each.
func parallelForWorker(threads, n int, fn func(worker, i int)) {
	if threads <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	threads = min(threads, n)
	kernels.Parallel(threads, func(w int) {
		for i := w; i < n; i += threads {
			fn(w, i)
		}
	})
}

// parallelDynamic runs fn(w, i) for i in [0, n) on up to threads workers (kernels.Parallel),
// each taking the next i when it is free (worker w picks its scratch); fn must write disjoint
// memory for distinct i, so results do not depend on which worker ran what.
func parallelDynamic(threads, n int, fn func(worker, i int)) {
	if threads <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	threads = min(threads, n)
	var next atomic.Int64
	kernels.Parallel(threads, func(w int) {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			fn(w, i)
		}
	})
}

// scratch2 is a worker's pair of reusable buffers.
type scratch2 [2][]float32

// scratchPairs returns one scratch2 per worker.
func scratchPairs(threads int) []scratch2 { return make([]scratch2, max(threads, 1)) }

// get returns the two buffers grown to n floats each (contents undefined).
func (b *scratch2) get(n int) ([]float32, []float32) {
	b[0], b[1] = grow(b[0], n), grow(b[1], n)
	return b[0], b[1]
}

// attnBlock is the row-block size of the causal attention: a block of rows only attends to the
// columns up to its last row, which halves the work of a full n×n product.
const attnBlock = 64

// attentionProbs writes rows [r0, r1) of P = causal softmax(scale·Q_h·K_gᵀ) for one sequence
// and head; P is [n, n] and only columns [0, r1) of those rows are written.
func attentionProbs(P, qh, kg []float32, r0, r1, n, hd, qDim, kvDim int, scale float32) {
	kernels.SgemmThreads(1, false, true, r1-r0, r1, hd, scale, qh[r0*qDim:], qDim, kg, kvDim, 0, P[r0*n:], n)
	for i := r0; i < r1; i++ {
		row := P[i*n : i*n+r1]
		softmax(row[:i+1], row[:i+1])
		kernels.FlushTiny(row[:i+1]) // subnormal probabilities would slow every SGEMM that reads them
		clear(row[i+1:])
	}
}

// attentionForward computes causal grouped-query attention within each sequence of the packed
// batch: q [T, H·hd], k, v [T, KV·hd] (after RoPE) into out [T, H·hd]. Head dims up to
// attnFusedMaxHeadDim take the fused row loops of attn_fused.go; wider heads take, per
// (sequence, head) and block of rows, two SGEMMs around a row softmax, restricted to the causal
// columns. The probabilities are not kept: attentionBackward recomputes them (as flash attention does),
// which saves heads·n² floats per block. Work items are (sequence, kv head) pairs on the fused
// paths and (sequence, query head) pairs on the SGEMM path (eachVseqHead), so goroutines write
// disjoint memory and results do not depend on the thread count.
func (m *Model) attentionForward(out, q, k, v []float32, spans []seqSpan) {
	if m.opt.F16KV {
		m.attentionForwardF16(out, q, k, v, spans)
		return
	}
	switch hd := m.cfg.HeadDim; {
	case hd <= attnFusedMaxHeadDim && kernels.AttnRowsSIMD(hd):
		m.attentionForwardRows(out, q, k, v, spans)
	case hd <= attnFusedMaxHeadDim:
		m.attentionForwardFused(out, q, k, v, spans)
	default:
		m.attentionForwardGemm(out, q, k, v, spans)
	}
}

// attnShape gives the attention's shape: query heads, KV heads, head dim, query heads per KV
// head, the row widths of q and of k/v, and the score scale 1/√hd.
func (c Config) attnShape() (heads, kvHeads, hd, rep, qDim, kvDim int, scale float32) {
	heads, kvHeads, hd = c.Heads, c.KVHeads, c.HeadDim
	return heads, kvHeads, hd, heads / kvHeads, heads * hd, kvHeads * hd, float32(1 / math.Sqrt(float64(hd)))
}

// attentionForwardGemm is attentionForward by row-block SGEMMs (head dims above
// attnFusedMaxHeadDim).
func (m *Model) attentionForwardGemm(out, q, k, v []float32, spans []seqSpan) {
	_, _, hd, _, qDim, _, scale := m.cfg.attnShape()
	bufs := scratchPairs(m.threads)
	m.eachVseqHead(k, v, spans, func(w, h int, vs vseq) {
		n := vs.L
		P, _ := bufs[w].get(n * n)
		qh, oh := q[vs.q0*qDim+h*hd:], out[vs.q0*qDim+h*hd:]
		for r0 := vs.from; r0 < n; r0 += attnBlock {
			r1 := min(r0+attnBlock, n)
			attentionProbs(P, qh, vs.k, r0, r1, n, hd, qDim, vs.ld, scale)
			kernels.SgemmThreads(1, false, false, r1-r0, hd, r1, 1, P[r0*n:], n, vs.v, vs.ld, 0, oh[r0*qDim:], qDim)
		}
	})
}

// attentionBackward takes dout [T, H·hd] and the forward's q, k, v; it overwrites dq, dk, dv.
// With P the probabilities: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP − rowsum(P∘dP)),
// dQ = scale·dS·K, dK = scale·dSᵀ·Q (summed over the heads sharing a kv head).
func (m *Model) attentionBackward(dq, dk, dv, dout, q, k, v []float32, spans []seqSpan) {
	switch hd := m.cfg.HeadDim; {
	case hd <= attnFusedMaxHeadDim && kernels.AttnRowsSIMD(hd):
		m.attentionBackwardRows(dq, dk, dv, dout, q, k, v, spans)
	case hd <= attnFusedMaxHeadDim:
		m.attentionBackwardFused(dq, dk, dv, dout, q, k, v, spans)
	default:
		m.attentionBackwardGemm(dq, dk, dv, dout, q, k, v, spans)
	}
}

// attentionBackwardGemm is attentionBackward by row-block SGEMMs (head dims above
// attnFusedMaxHeadDim).
func (m *Model) attentionBackwardGemm(dq, dk, dv, dout, q, k, v []float32, spans []seqSpan) {
	_, _, hd, _, qDim, _, scale := m.cfg.attnShape()
	bufs := scratchPairs(m.threads)
	m.eachVseqHeadBack(k, v, dk, dv, spans, func(w, h int, vs vseq, dkg, dvg []float32, ldd int) {
		n := vs.L
		for i := 0; i < n; i++ {
			clear(dkg[i*ldd : i*ldd+hd])
			clear(dvg[i*ldd : i*ldd+hd])
		}
		P, dS := bufs[w].get(n * n)
		qh, doh, dqh := q[vs.q0*qDim+h*hd:], dout[vs.q0*qDim+h*hd:], dq[vs.q0*qDim+h*hd:]
		for r0 := vs.from; r0 < n; r0 += attnBlock {
			r1, m := min(r0+attnBlock, n), min(r0+attnBlock, n)-r0
			attentionProbs(P, qh, vs.k, r0, r1, n, hd, qDim, vs.ld, scale)
			kernels.SgemmThreads(1, true, false, r1, hd, m, 1, P[r0*n:], n, doh[r0*qDim:], qDim, 1, dvg, ldd)
			kernels.SgemmThreads(1, false, true, m, r1, hd, 1, doh[r0*qDim:], qDim, vs.v, vs.ld, 0, dS[r0*n:], n)
			for i := r0; i < r1; i++ {
				p, d := P[i*n:i*n+i+1], dS[i*n:i*n+r1]
				sum := dot(p, d[:i+1])
				for j := range p {
					d[j] = scale * p[j] * (d[j] - sum)
				}
				clear(d[i+1:])
			}
			kernels.SgemmThreads(1, false, false, m, hd, r1, 1, dS[r0*n:], n, vs.k, vs.ld, 0, dqh[r0*qDim:], qDim)
			kernels.SgemmThreads(1, true, false, r1, hd, m, 1, dS[r0*n:], n, qh[r0*qDim:], qDim, 1, dkg, ldd)
		}
	})
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}
