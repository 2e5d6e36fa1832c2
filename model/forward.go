package model

import (
	"errors"
	"fmt"
	"github.com/alignkit/align/kernels"
)

// headRows is how many rows of logits the LM head materialises at once when it does not keep
// them: rows × vocab floats.
const headRows = 64

// headKeepBytes bounds the logits a pass computes at once (every scored row × vocab floats),
// which a training pass keeps for its backward. Within it the head's products run once over all
// the rows (its weight packed once, not once per headRows rows) and the backward does not
// recompute them, as PyTorch's autograd keeps them; past it, with Recompute (the smallest-memory
// configuration) or with a final soft-cap, the logits are computed headRows rows at a time and
// the backward recomputes them.
const headKeepBytes = 256 << 20

// keepLogits reports whether a pass over rows scored rows computes their logits at once (and, in
// training, keeps them).
func (m *Model) keepLogits(rows int) bool {
	limit := int64(headKeepBytes)
	if m.headKeep != 0 { // tests
		limit = m.headKeep
	}
	return !m.opt.Recompute && m.cfg.FinalSoftcap == 0 && 4*int64(rows)*int64(m.cfg.Vocab) <= limit
}

// blockActs is what one transformer block keeps for its backward pass. The RMSNorm outputs,
// silu(gate)·up and the attention probabilities are cheap to recompute and are not kept.
type blockActs struct {
	rstd1, rstd2 []float32 // 1/rms of the two RMSNorms [T]
	q, k, v      []float32 // projections after RoPE [T,H·hd], [T,KV·hd]
	ao           []float32 // attention output before o [T,H·hd]
	xm           []float32 // residual after attention [T,D]
	gate, up     []float32 // [T,F] before the activation
	lin          [7]linActs
	// Config.PostNorms: the attention and FFN outputs before their norms [T,D], and the norms'
	// 1/rms [T].
	ya, yf       []float32
	rstd3, rstd4 []float32
	qkn          qkNormActs // Config.QKNorm only
}

// work holds the scratch buffers of a forward or backward pass, reused across blocks.
type work struct {
	xn, h, dxm, dxn, tmp, dao, dq, dk, dv, dh, dgate, dup []float32
	dx2, dx3                                              []float32 // dxn parts computed beside it (together)
	dyp                                                   []float32 // Config.PostNorms: gradient before a post-norm [T,D]
}

// sizeFwd sizes the buffers that blockForward uses.
func (w *work) sizeFwd(c Config, T int) {
	w.xn, w.h = grow(w.xn, T*c.Dim), grow(w.h, T*c.FFN)
}

// size sizes all the buffers (blockBackward).
func (w *work) size(c Config, T int) {
	D, F, qDim, kvDim := c.Dim, c.FFN, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	w.sizeFwd(c, T)
	w.dxm, w.dxn, w.tmp = grow(w.dxm, T*D), grow(w.dxn, T*D), grow(w.tmp, T*D)
	w.dao, w.dq, w.dk, w.dv = grow(w.dao, T*qDim), grow(w.dq, T*qDim), grow(w.dk, T*kvDim), grow(w.dv, T*kvDim)
	w.dh, w.dgate, w.dup = grow(w.dh, T*F), grow(w.dgate, T*F), grow(w.dup, T*F)
	w.dx2, w.dx3 = grow(w.dx2, T*D), grow(w.dx3, T*D)
	if c.PostNorms {
		w.dyp = grow(w.dyp, T*D)
	}
}

// together runs fns, which must write disjoint memory, concurrently when there are several
// threads, the sequence is long enough to pay for it, the block's products are small (the FFN
// projection under 64 MFLOP: stories260K-sized, where the SGEMM splits them poorly; larger
// ones already use every thread) and the weights are plain float32 (LowMemory's
// dequantization shares one scratch tile); otherwise in order. Each fn computes the same either
// way, so results do not depend on it.
func (m *Model) together(T int, fns ...func()) {
	if m.threads <= 1 || T < 64 || m.opt.LowMemory || 2*T*m.cfg.Dim*m.cfg.FFN >= 64e6 {
		for _, fn := range fns {
			fn()
		}
		return
	}
	kernels.Parallel(len(fns), func(i int) { fns[i]() })
}

// Pass is one forward pass over a packed batch, holding what Backward needs.
type Pass struct {
	// LogProbs holds, per sequence, the log-probs of its masked tokens in order.
	LogProbs [][]float32

	m      *Model
	T      int
	tokens []int32
	pos    []int32
	spans  []seqSpan
	xs     [][]float32  // xs[l]: input of block l; xs[Layers]: the last block's output
	acts   []*blockActs // nil with Recompute
	xnF    []float32    // final RMSNorm output [T,D]
	rstdF  []float32
	w      *work   // the forward's scratch buffers, reused by Backward
	rows   []int   // packed row predicting each masked token, in LogProbs order
	last   []int   // packed row of each sequence's last token
	tgts   []int32 // the masked tokens
	lse    []float32
	logits []float32 // the forward's logits of every scored row, when kept (keepLogits)
	seed   uint64
	used   bool
}

// splitmix64 mixes seeds for dropout masks (deterministic per step, layer and target).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (m *Model) dropout() float32 {
	if m.training && m.opt.LoRA != nil {
		return m.opt.LoRA.Dropout
	}
	return 0
}

// blockForward runs block l on x [T,D] into y [T,D], filling a.
func (m *Model) blockForward(l int, a *blockActs, w *work, y, x []float32, pos []int32, spans []seqSpan, seed uint64) {
	c := m.cfg
	b := &m.blocks[l]
	T, D, F := len(pos), c.Dim, c.FFN
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	drop := m.dropout()
	ls := func(j int) uint64 { return splitmix64(seed ^ uint64(l*8+j+1)*0x100000001b3) }
	w.sizeFwd(c, T)
	a.rstd1, a.rstd2 = grow(a.rstd1, T), grow(a.rstd2, T)
	a.q, a.k, a.v = grow(a.q, T*qDim), grow(a.k, T*kvDim), grow(a.v, T*kvDim)
	a.ao, a.xm = grow(a.ao, T*qDim), grow(a.xm, T*D)
	a.gate, a.up = grow(a.gate, T*F), grow(a.up, T*F)

	rmsnormForward(w.xn, a.rstd1, x, b.attnNorm.Data, T, D, c.Eps)
	m.together(T, func() {
		m.linearForward(&b.q, m.qkNormIn(&a.qkn.q, a.q, T*qDim), w.xn, T, &a.lin[0], drop, ls(0))
		m.qkNormForward(b.qNorm, &a.qkn.q, a.q, T*c.Heads)
		m.ropeAt(l, a.q, pos, T, c.Heads, false) // rope_scaled.go: kernels, or scaled RoPE
	}, func() {
		m.linearForward(&b.k, m.qkNormIn(&a.qkn.k, a.k, T*kvDim), w.xn, T, &a.lin[1], drop, ls(1))
		m.qkNormForward(b.kNorm, &a.qkn.k, a.k, T*c.KVHeads)
		m.ropeAt(l, a.k, pos, T, c.KVHeads, false)
	}, func() {
		m.linearForward(&b.v, a.v, w.xn, T, &a.lin[2], drop, ls(2))
	})
	m.attentionLayer(l, a.ao, a.q, a.k, a.v, spans)
	if c.PostNorms { // xm = x + rmsnorm(o(ao))
		a.ya, a.rstd3 = grow(a.ya, T*D), grow(a.rstd3, T)
		m.linearForward(&b.o, a.ya, a.ao, T, &a.lin[3], drop, ls(3))
		rmsnormForward(a.xm, a.rstd3, a.ya, b.postAttnNorm.Data, T, D, c.Eps)
	} else {
		m.linearForward(&b.o, a.xm, a.ao, T, &a.lin[3], drop, ls(3))
	}
	axpy(1, x[:T*D], a.xm)

	rmsnormForward(w.xn, a.rstd2, a.xm, b.ffnNorm.Data, T, D, c.Eps)
	m.together(T, func() {
		m.linearForward(&b.gate, a.gate, w.xn, T, &a.lin[4], drop, ls(4))
	}, func() {
		m.linearForward(&b.up, a.up, w.xn, T, &a.lin[5], drop, ls(5))
	})
	m.ffnAct(w.h, a.gate, a.up)
	if c.PostNorms { // y = xm + rmsnorm(down(h))
		a.yf, a.rstd4 = grow(a.yf, T*D), grow(a.rstd4, T)
		m.linearForward(&b.down, a.yf, w.h, T, &a.lin[6], drop, ls(6))
		rmsnormForward(y, a.rstd4, a.yf, b.postFFNNorm.Data, T, D, c.Eps)
	} else {
		m.linearForward(&b.down, y, w.h, T, &a.lin[6], drop, ls(6))
	}
	axpy(1, a.xm, y[:T*D])
}

// blockBackward takes dy [T,D] (gradient of block l's output) and writes dx [T,D]; it
// accumulates the block's parameter gradients.
func (m *Model) blockBackward(l int, a *blockActs, w *work, dx, dy, x []float32, pos []int32, spans []seqSpan) {
	c := m.cfg
	b := &m.blocks[l]
	T, D := len(pos), c.Dim
	w.size(c, T)

	// y = xm + down(swiglu(gate(xn2), up(xn2))), xn2 = rmsnorm(xm)
	copy(w.dxm, dy[:T*D])
	m.ffnAct(w.h, a.gate, a.up)
	dyf := dy
	if c.PostNorms {
		rmsnormBackwardW(w.dyp, b.postFFNNorm.Grad, dy, a.yf, b.postFFNNorm.Data, a.rstd4, T, D)
		dyf = w.dyp
	}
	m.linearBackward(&b.down, w.dh, dyf, w.h, T, &a.lin[6], false)
	m.ffnActBackward(w.dgate, w.dup, w.dh, a.gate, a.up)
	rmsnormForward(w.xn, a.rstd2, a.xm, b.ffnNorm.Data, T, D, c.Eps)
	m.together(T, func() {
		m.linearBackward(&b.gate, w.dxn, w.dgate, w.xn, T, &a.lin[4], false)
	}, func() {
		m.linearBackward(&b.up, w.dx2, w.dup, w.xn, T, &a.lin[5], false)
	})
	axpy(1, w.dx2[:T*D], w.dxn[:T*D])
	rmsnormBackwardW(w.tmp, b.ffnNorm.Grad, w.dxn, a.xm, b.ffnNorm.Data, a.rstd2, T, D)
	axpy(1, w.tmp, w.dxm)

	// xm = x + o(attn(rope(q(xn1)), rope(k(xn1)), v(xn1))), xn1 = rmsnorm(x)
	dya := w.dxm
	if c.PostNorms {
		rmsnormBackwardW(w.dyp, b.postAttnNorm.Grad, w.dxm, a.ya, b.postAttnNorm.Data, a.rstd3, T, D)
		dya = w.dyp
	}
	m.linearBackward(&b.o, w.dao, dya, a.ao, T, &a.lin[3], false)
	m.attentionLayerBackward(l, w.dq, w.dk, w.dv, w.dao, a.q, a.k, a.v, spans)
	rmsnormForward(w.xn, a.rstd1, x, b.attnNorm.Data, T, D, c.Eps)
	m.together(T, func() {
		m.ropeAt(l, w.dq, pos, T, c.Heads, true)
		dq := m.qkNormBackward(b.qNorm, &a.qkn.q, w.dq, T*c.Heads)
		m.linearBackward(&b.q, w.dxn, dq, w.xn, T, &a.lin[0], false)
	}, func() {
		m.ropeAt(l, w.dk, pos, T, c.KVHeads, true)
		dk := m.qkNormBackward(b.kNorm, &a.qkn.k, w.dk, T*c.KVHeads)
		m.linearBackward(&b.k, w.dx2, dk, w.xn, T, &a.lin[1], false)
	}, func() {
		m.linearBackward(&b.v, w.dx3, w.dv, w.xn, T, &a.lin[2], false)
	})
	axpy(1, w.dx2[:T*D], w.dxn[:T*D])
	axpy(1, w.dx3[:T*D], w.dxn[:T*D])
	rmsnormBackwardW(dx, b.attnNorm.Grad, w.dxn, x, b.attnNorm.Data, a.rstd1, T, D)
	axpy(1, w.dxm, dx[:T*D])
}

// rmsnormBackwardW is RMSNormBackward with an optional weight gradient (nil when frozen).
func rmsnormBackwardW(dx, dw, dout, x, w, rstd []float32, rows, dim int) {
	if dw == nil {
		dw = make([]float32, dim)
	}
	rmsnormBackward(dx, dw, dout, x, w, rstd, rows, dim)
}

// lmHead returns the LM head's weight [V, D].
func (m *Model) lmHead() *Param {
	if m.output != nil {
		return m.output
	}
	return m.embed
}

// run executes the forward pass; keep selects whether activations are kept for Backward.
func (m *Model) run(seqs []Sequence, keep bool) (*Pass, error) {
	p, err := m.pack(seqs, m.sharing())
	if err != nil {
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	c := m.cfg
	T, D := p.T, c.Dim
	m.step++
	if m.opt.LoRA != nil {
		p.seed = splitmix64(m.opt.LoRA.Seed ^ splitmix64(m.step))
	}
	x := make([]float32, T*D)
	for t, id := range p.tokens {
		m.embedRow(x[t*D:(t+1)*D], int(id))
	}
	if s := c.EmbedScale; s != 0 {
		for i := range x {
			x[i] *= s
		}
	}
	scratch, w := &blockActs{}, &work{}
	if keep {
		p.xs = make([][]float32, c.Layers+1)
		p.acts = make([]*blockActs, c.Layers)
		p.w = w
	}
	y := make([]float32, T*D)
	for l := 0; l < c.Layers; l++ {
		a := scratch
		if keep {
			p.xs[l] = x
			if !m.opt.Recompute {
				a = &blockActs{}
				p.acts[l] = a
			}
		}
		m.blockForward(l, a, w, y, x, p.pos, p.spans, p.seed)
		if keep {
			x, y = y, make([]float32, T*D)
		} else {
			x, y = y, x
		}
	}
	if keep {
		p.xs[c.Layers] = x
	}
	p.xnF, p.rstdF = make([]float32, T*D), make([]float32, T)
	rmsnormForward(p.xnF, p.rstdF, x, m.outNorm.Data, T, D, c.Eps)
	lp := make([]float32, len(p.rows))
	p.lse = make([]float32, len(p.rows))
	whole := m.keepLogits(len(p.rows)) // all the rows' logits at once: kept by a training pass
	logits := m.headForward(lp, p.lse, p.xnF, p.rows, p.tgts, whole)
	if keep && whole {
		p.logits = logits
	}
	p.LogProbs = splitMasked(lp, seqs)
	return p, nil
}

// headForward computes log p(tgts[i] | row rows[i]) through the LM head, headRows rows of logits
// at a time, or all of them at once when whole, returning them then.
func (m *Model) headForward(lp, lse, xn []float32, rows []int, tgts []int32, whole bool) []float32 {
	V, D := m.cfg.Vocab, m.cfg.Dim
	chunk := headRows
	if whole {
		chunk = max(len(rows), 1)
	}
	buf := make([]float32, chunk*D)
	logits := make([]float32, chunk*V)
	for r0 := 0; r0 < len(rows); r0 += chunk {
		n := min(chunk, len(rows)-r0)
		for i := 0; i < n; i++ {
			copy(buf[i*D:(i+1)*D], xn[rows[r0+i]*D:(rows[r0+i]+1)*D])
		}
		m.headLogits(logits, buf, n)
		softcapForward(logits[:n*V], nil, m.cfg.FinalSoftcap)
		tokenLogProbs(lp[r0:r0+n], lse[r0:r0+n], logits, tgts[r0:r0+n], n, V)
	}
	if whole {
		return logits
	}
	return nil
}

// headBackward turns dlogp into dlogits in place, over the forward's kept logits or over each
// block of headRows rows of logits recomputed, and accumulates dxn (and the head weight's
// gradient when it is trained).
func (m *Model) headBackward(dxn, xn []float32, rows []int, tgts []int32, lse, dlogp, kept []float32) {
	W := m.lmHead()
	V, D := m.cfg.Vocab, m.cfg.Dim
	chunk := headRows
	if kept != nil {
		chunk = max(len(rows), 1)
	}
	buf := make([]float32, chunk*D)
	dbuf := make([]float32, chunk*D)
	logits := kept
	if logits == nil {
		logits = make([]float32, chunk*V)
	}
	g := make([]float32, chunk)
	var capT []float32 // tanh of the capped logits (Config.FinalSoftcap; never kept)
	if m.cfg.FinalSoftcap != 0 {
		capT = make([]float32, chunk*V)
	}
	for r0 := 0; r0 < len(rows); r0 += chunk {
		n := min(chunk, len(rows)-r0)
		for i := 0; i < n; i++ {
			copy(buf[i*D:(i+1)*D], xn[rows[r0+i]*D:(rows[r0+i]+1)*D])
			g[i] = -dlogp[r0+i] // d logp / d logits = onehot − softmax
		}
		if kept == nil {
			m.headLogits(logits, buf, n)
			softcapForward(logits[:n*V], capT, m.cfg.FinalSoftcap)
		}
		crossEntropyBackward(logits, logits, lse[r0:r0+n], g[:n], tgts[r0:r0+n], n, V)
		softcapBackward(logits[:n*V], capT)
		m.headInputGrad(dbuf, logits, n)
		for i := 0; i < n; i++ {
			axpy(1, dbuf[i*D:(i+1)*D], dxn[rows[r0+i]*D:(rows[r0+i]+1)*D])
		}
		if W.Grad != nil {
			sgemm(m.threads, true, false, V, D, n, 1, logits, V, buf, D, 1, W.Grad, D)
		}
	}
}

// LogProbs runs the forward pass only (activations are not kept) and returns, per sequence,
// the log-probs of its masked tokens in order.
func (m *Model) LogProbs(seqs []Sequence) ([][]float32, error) {
	if m.opt.F16KV { // Ollama's runner re-enacted (attn_ggml.go)
		return m.ggmlLogProbs(seqs)
	}
	p, err := m.run(seqs, false)
	if err != nil {
		return nil, err
	}
	return p.LogProbs, nil
}

// Forward runs the forward pass and keeps what Backward needs.
func (m *Model) Forward(seqs []Sequence) (*Pass, error) {
	return m.run(seqs, true)
}

// Backward takes dLoss/dLogProb for every masked token (the shape of LogProbs) and accumulates
// the gradients into the trainable parameters' Grad buffers. It may be called once per Pass.
func (p *Pass) Backward(dlogp [][]float32) error {
	if p.used {
		return errors.New("model: backward: called twice on one pass")
	}
	if p.m.opt.F16KV {
		return errors.New("model: backward: a model loaded with F16KV scores only")
	}
	if p.xs == nil {
		return errors.New("model: backward: pass has no activations (use Forward, not LogProbs)")
	}
	if len(dlogp) != len(p.LogProbs) {
		return fmt.Errorf("model: backward: %d gradient rows for %d sequences", len(dlogp), len(p.LogProbs))
	}
	flat := make([]float32, 0, len(p.rows))
	for i, d := range dlogp {
		if len(d) != len(p.LogProbs[i]) {
			return fmt.Errorf("model: backward: sequence %d: %d gradients for %d masked tokens", i, len(d), len(p.LogProbs[i]))
		}
		flat = append(flat, d...)
	}
	p.used = true
	m, c := p.m, p.m.cfg
	T, D := p.T, c.Dim
	dxn := make([]float32, T*D)
	m.headBackward(dxn, p.xnF, p.rows, p.tgts, p.lse, flat, p.logits)
	p.logits = nil
	p.backwardHidden(dxn)
	return nil
}

// backwardHidden back-propagates dxn, dLoss/d(final RMSNorm output) [T, D], through the final
// norm, the blocks and the embedding (the part of Backward after the LM head, shared with the
// reward head's RewardPass.Backward).
func (p *Pass) backwardHidden(dxn []float32) {
	m, c := p.m, p.m.cfg
	T, D := p.T, c.Dim
	dy := make([]float32, T*D)
	rmsnormBackwardW(dy, m.outNorm.Grad, dxn, p.xs[c.Layers], m.outNorm.Data, p.rstdF, T, D)
	p.xnF = nil
	dx := make([]float32, T*D)
	w := p.w
	p.w = nil
	var scratch *blockActs
	var yScratch []float32
	for l := c.Layers - 1; l >= 0; l-- {
		a := p.acts[l]
		if a == nil { // Recompute: rebuild this block's activations from its saved input
			if scratch == nil {
				scratch = &blockActs{}
			}
			a = scratch
			yScratch = grow(yScratch, T*D)
			m.blockForward(l, a, w, yScratch, p.xs[l], p.pos, p.spans, p.seed)
		}
		m.blockBackward(l, a, w, dx, dy, p.xs[l], p.pos, p.spans)
		p.acts[l], p.xs[l+1] = nil, nil
		dx, dy = dy, dx
	}
	if m.embed.Grad != nil {
		s := c.EmbedScale
		if s == 0 {
			s = 1
		}
		for t, id := range p.tokens {
			axpy(s, dy[t*D:(t+1)*D], m.embed.Grad[int(id)*D:(int(id)+1)*D])
		}
	}
}

// splitMasked cuts lp, the log-probs of every sequence's masked (response) tokens in order,
// into one slice per sequence.
func splitMasked(lp []float32, seqs []Sequence) [][]float32 {
	out := make([][]float32, len(seqs))
	k := 0
	for i, s := range seqs {
		n := 0
		for _, b := range s.Mask {
			if b {
				n++
			}
		}
		out[i] = lp[k : k+n : k+n]
		k += n
	}
	return out
}
