package model

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Prompt sharing. Sequences of one batch with the same prompt (the tokens before their first
// masked token: a preference pair's chosen and rejected, K online samples of one prompt) are
// packed as one group: the prompt's rows once, at positions 0..P−1, then each sequence's own
// rows (its "branch") at positions P, P+1, ... Every per-row layer (embedding, norms,
// projections, RoPE, FFN, LM head) then computes the prompt once, and attention gives each
// branch the keys [prompt; branch] causally, which are exactly the keys it has in the unshared
// layout, so its log-probs are the same. The backward needs nothing of its own outside
// attention: the prompt rows' dK and dV sum the contributions of the prompt's own queries and
// of every branch's (eachVseqBack), and from there the per-row backward carries the summed
// gradient through the prompt's activations once. docs/training.md has the design.

// seqSpan is one attention group of a packed batch: rows [off, off+n), causal among
// themselves, and br, branches that each attend to those n rows and then causally to their own
// (positions n, n+1, ...). A plain sequence is a span without branches.
type seqSpan struct {
	off, n int
	br     []seqSpan
}

// span is a plain sequence's seqSpan.
func span(off, n int) seqSpan { return seqSpan{off: off, n: n} }

// vseq is one causal attention problem of a (span, kv head) work item: query rows [from, L) of
// a virtual sequence of L keys. Its row i is packed row q0+i of q, out, dq and dout (rows below
// from are not touched, and q0 may name rows of another sequence); its keys and values are
// rows [0, L) of k and v with row stride ld (the packed K/V of one kv head, or a branch's
// staged [prompt; branch] copy). A plain sequence is from = 0.
type vseq struct {
	q0, from, L int
	k, v        []float32
	ld          int
}

// stageBuf is a worker's buffers for a branch's [prompt; branch] keys, values and their
// gradients.
type stageBuf struct{ k, v, dk, dv []float32 }

// stage copies the kv-head-g rows of the prompt s and then of branch b from the packed k and v
// (row stride kvDim) into st, contiguous (row stride hd), and returns the branch's vseq.
func stage(st *stageBuf, s, b seqSpan, k, v []float32, g, hd, kvDim int) vseq {
	L := s.n + b.n
	st.k, st.v = grow(st.k, L*hd), grow(st.v, L*hd)
	for i := 0; i < L; i++ {
		r := s.off + i
		if i >= s.n {
			r = b.off + i - s.n
		}
		copy(st.k[i*hd:(i+1)*hd], k[r*kvDim+g*hd:r*kvDim+(g+1)*hd])
		copy(st.v[i*hd:(i+1)*hd], v[r*kvDim+g*hd:r*kvDim+(g+1)*hd])
	}
	return vseq{q0: b.off - s.n, from: s.n, L: L, k: st.k, v: st.v, ld: hd}
}

// plainVseq is span s's own causal attention over the packed K/V of kv head g.
func plainVseq(s seqSpan, k, v []float32, g, hd, kvDim int) vseq {
	return vseq{q0: s.off, L: s.n, k: k[s.off*kvDim+g*hd:], v: v[s.off*kvDim+g*hd:], ld: kvDim}
}

// eachVseq runs fn on every attention problem of the packed batch: work items are (span, kv
// head) pairs on up to m.threads goroutines (fn's worker index w picks its scratch); within an
// item, the span's own rows and then each branch in order. fn must write only the query rows
// of its vseq, so results do not depend on the thread count.
func (m *Model) eachVseq(k, v []float32, spans []seqSpan, fn func(w, g int, vs vseq)) {
	KV, hd := m.cfg.KVHeads, m.cfg.HeadDim
	kvDim := KV * hd
	st := make([]stageBuf, max(m.threads, 1))
	parallelForWorker(m.threads, len(spans)*KV, func(w, item int) {
		s, g := spans[item/KV], item%KV
		fn(w, g, plainVseq(s, k, v, g, hd, kvDim))
		for _, b := range s.br {
			fn(w, g, stage(&st[w], s, b, k, v, g, hd, kvDim))
		}
	})
}

// eachVseqBack is eachVseq for the backward: fn writes its vseq's dq rows and overwrites
// rows [0, L) of dk and dv (row stride ldd) with the gradients of its L keys and values. A
// span's own problem writes its rows of the packed dk, dv directly; a branch's writes a staged
// copy, whose first n rows (the prompt's keys) are then added into the prompt's rows and whose
// others are copied into the branch's. The prompt's dK, dV thus sum its own queries'
// contributions and every branch's, in a fixed order.
func (m *Model) eachVseqBack(k, v, dk, dv []float32, spans []seqSpan, fn func(w, g int, vs vseq, dk, dv []float32, ldd int)) {
	KV, hd := m.cfg.KVHeads, m.cfg.HeadDim
	kvDim := KV * hd
	st := make([]stageBuf, max(m.threads, 1))
	parallelForWorker(m.threads, len(spans)*KV, func(w, item int) {
		s, g := spans[item/KV], item%KV
		fn(w, g, plainVseq(s, k, v, g, hd, kvDim), dk[s.off*kvDim+g*hd:], dv[s.off*kvDim+g*hd:], kvDim)
		for _, b := range s.br {
			b0 := &st[w]
			vs := stage(b0, s, b, k, v, g, hd, kvDim)
			b0.dk, b0.dv = grow(b0.dk, vs.L*hd), grow(b0.dv, vs.L*hd)
			fn(w, g, vs, b0.dk, b0.dv, hd)
			for i := 0; i < vs.L; i++ {
				src := b0.dk[i*hd : (i+1)*hd]
				srcV := b0.dv[i*hd : (i+1)*hd]
				if i < s.n {
					r := (s.off+i)*kvDim + g*hd
					axpy(1, src, dk[r:r+hd])
					axpy(1, srcV, dv[r:r+hd])
					continue
				}
				r := (b.off+i-s.n)*kvDim + g*hd
				copy(dk[r:r+hd], src)
				copy(dv[r:r+hd], srcV)
			}
		}
	})
}

// eachVseqHead is eachVseq with a work item per (span, query head) instead of per (span, kv
// head): fn(w, h, vs) computes query head h only (on kv head h / (Heads/KVHeads)). Items are
// handed out in order to whichever worker is free, so a model with few kv heads (SmolLM2's 3
// under 9 query heads, gemma3's 1 under 4) still fills every thread; fn writes only head h's
// query rows, so results do not depend on the thread count or the order.
func (m *Model) eachVseqHead(k, v []float32, spans []seqSpan, fn func(w, h int, vs vseq)) {
	H, KV, hd := m.cfg.Heads, m.cfg.KVHeads, m.cfg.HeadDim
	rep, kvDim := H/KV, KV*hd
	st := make([]stageBuf, max(m.threads, 1))
	parallelDynamic(m.threads, len(spans)*H, func(w, item int) {
		s, h := spans[item/H], item%H
		g := h / rep
		fn(w, h, plainVseq(s, k, v, g, hd, kvDim))
		for _, b := range s.br {
			fn(w, h, stage(&st[w], s, b, k, v, g, hd, kvDim))
		}
	})
}

// eachVseqHeadBack is eachVseqBack with eachVseqHead's work items: fn(w, h, vs, dk, dv, ldd)
// overwrites rows [0, L) of dk and dv (row stride ldd) with query head h's contribution to the
// gradients of its L keys and values, in a buffer of the item's own. The contributions are then
// summed per kv head in head order into the packed dk, dv (a branch's first n rows into its
// prompt's rows, after the prompt's own problem and the branches before it), a fixed order
// whatever the thread count.
func (m *Model) eachVseqHeadBack(k, v, dk, dv []float32, spans []seqSpan, fn func(w, h int, vs vseq, dk, dv []float32, ldd int)) {
	H, KV, hd := m.cfg.Heads, m.cfg.KVHeads, m.cfg.HeadDim
	rep, kvDim := H/KV, KV*hd
	// off[si] is span si's first float in buf; a span holds, per head, its own problem's n rows
	// and then each branch's n + b.n rows, of hd floats, for dk and again for dv.
	off := make([]int, len(spans)+1)
	per := make([]int, len(spans)) // floats per head of span si (dk part)
	for si, s := range spans {
		rows := s.n
		for _, b := range s.br {
			rows += s.n + b.n
		}
		per[si] = rows * hd
		off[si+1] = off[si] + 2*H*per[si]
	}
	buf := make([]float32, off[len(spans)])
	st := make([]stageBuf, max(m.threads, 1))
	parallelDynamic(m.threads, len(spans)*H, func(w, item int) {
		si, h := item/H, item%H
		s, g := spans[si], h/rep
		dkh := buf[off[si]+2*h*per[si]:]
		dvh := dkh[per[si]:]
		fn(w, h, plainVseq(s, k, v, g, hd, kvDim), dkh, dvh, hd)
		o := s.n * hd
		for _, b := range s.br {
			fn(w, h, stage(&st[w], s, b, k, v, g, hd, kvDim), dkh[o:], dvh[o:], hd)
			o += (s.n + b.n) * hd
		}
	})
	parallelFor(m.threads, len(spans)*KV, func(item int) {
		si, g := item/KV, item%KV
		s := spans[si]
		for _, part := range [2]struct {
			dst   []float32
			shift int
		}{{dk, 0}, {dv, per[si]}} {
			head := func(h int) []float32 { return buf[off[si]+2*h*per[si]+part.shift:] }
			for i := 0; i < s.n; i++ { // the span's own rows
				dst := part.dst[(s.off+i)*kvDim+g*hd : (s.off+i)*kvDim+(g+1)*hd]
				copy(dst, head(g * rep)[i*hd:(i+1)*hd])
				for h := g*rep + 1; h < (g+1)*rep; h++ {
					axpy(1, head(h)[i*hd:(i+1)*hd], dst)
				}
			}
			o := s.n * hd
			for _, b := range s.br {
				for i := 0; i < s.n+b.n; i++ {
					r := s.off + i
					if i >= s.n {
						r = b.off + i - s.n
					}
					dst := part.dst[r*kvDim+g*hd : r*kvDim+(g+1)*hd]
					h0 := g * rep
					if i >= s.n { // a branch row: its gradient comes from this problem only
						copy(dst, head(h0)[o+i*hd:o+(i+1)*hd])
						h0++
					}
					for h := h0; h < (g+1)*rep; h++ {
						axpy(1, head(h)[o+i*hd:o+(i+1)*hd], dst)
					}
				}
				o += (s.n + b.n) * hd
			}
		}
	})
}

// sharing reports whether passes group sequences by prompt: on unless
// LoadOptions.UnsharedPrompts (or SetSharedPrompts(false)), and never with F16KV, whose
// re-enactment of Ollama's runner scores each sequence on its own.
func (m *Model) sharing() bool { return !m.opt.UnsharedPrompts && !m.opt.F16KV }

// promptLen is the length of s's prompt: the index of its first masked token, or -1 when it has
// none (such a sequence is never shared).
func promptLen(s Sequence) int {
	for i, b := range s.Mask {
		if b {
			return i
		}
	}
	return -1
}

// promptGroups returns, per sequence, the index of its group (sequences with the same prompt,
// numbered in order of first appearance) or -1 for one that shares its prompt with no other.
func promptGroups(seqs []Sequence) []int {
	gid := make([]int, len(seqs))
	byKey := map[string]int{}
	count := []int{}
	var key []byte
	for i, s := range seqs {
		gid[i] = -1
		P := promptLen(s)
		if P <= 0 {
			continue
		}
		key = key[:0]
		for _, t := range s.Tokens[:P] {
			key = binary.LittleEndian.AppendUint32(key, uint32(t))
		}
		g, ok := byKey[string(key)]
		if !ok {
			g = len(count)
			byKey[string(key)] = g
			count = append(count, 0)
		}
		gid[i] = g
		count[g]++
	}
	for i, g := range gid {
		if g >= 0 && count[g] < 2 {
			gid[i] = -1
		}
	}
	return gid
}

// placement maps a sequence's token index t to its packed row: pre+t for t < P (the shared
// prompt, or the whole sequence when it is not shared), else suf+t−P.
type placement struct{ pre, P, suf int }

func (pl placement) row(t int) int {
	if t < pl.P {
		return pl.pre + t
	}
	return pl.suf + t - pl.P
}

// pack lays the sequences out back to back and lists the rows that predict masked tokens, in
// LogProbs order. With share, sequences with the same prompt (promptGroups) are laid out as one
// group at the place of its first member: the prompt once, then each member's remaining tokens.
func (m *Model) pack(seqs []Sequence, share bool) (*Pass, error) {
	if len(seqs) == 0 {
		return nil, errors.New("no sequences")
	}
	for i, s := range seqs {
		if len(s.Tokens) == 0 {
			return nil, fmt.Errorf("sequence %d is empty", i)
		}
		if len(s.Mask) != len(s.Tokens) {
			return nil, fmt.Errorf("sequence %d: %d mask entries for %d tokens", i, len(s.Mask), len(s.Tokens))
		}
		for j, t := range s.Tokens {
			if t < 0 || int(t) >= m.cfg.Vocab {
				return nil, fmt.Errorf("sequence %d token %d: id %d out of range [0, %d)", i, j, t, m.cfg.Vocab)
			}
		}
		if s.Mask[0] {
			return nil, fmt.Errorf("sequence %d: the first token cannot be masked in (nothing predicts it)", i)
		}
	}
	p := &Pass{m: m}
	gid := make([]int, len(seqs))
	for i := range gid {
		gid[i] = -1
	}
	if share {
		gid = promptGroups(seqs)
	}
	emit := func(toks []int32, pos0 int) int {
		off := len(p.tokens)
		for j, t := range toks {
			p.tokens = append(p.tokens, t)
			p.pos = append(p.pos, int32(pos0+j))
		}
		return off
	}
	place := make([]placement, len(seqs))
	done := map[int]bool{}
	for i, s := range seqs {
		g := gid[i]
		if g < 0 {
			off := emit(s.Tokens, 0)
			place[i] = placement{off, len(s.Tokens), off}
			p.spans = append(p.spans, span(off, len(s.Tokens)))
			continue
		}
		if done[g] {
			continue
		}
		done[g] = true
		P := promptLen(s)
		sp := span(emit(s.Tokens[:P], 0), P)
		for j := i; j < len(seqs); j++ {
			if gid[j] != g {
				continue
			}
			b := span(emit(seqs[j].Tokens[P:], P), len(seqs[j].Tokens)-P)
			place[j] = placement{sp.off, P, b.off}
			sp.br = append(sp.br, b)
		}
		p.spans = append(p.spans, sp)
	}
	p.last = make([]int, len(seqs))
	for i, s := range seqs {
		pl := place[i]
		for j, b := range s.Mask {
			if b {
				p.rows = append(p.rows, pl.row(j-1))
				p.tgts = append(p.tgts, s.Tokens[j])
			}
		}
		p.last[i] = pl.row(len(s.Tokens) - 1)
	}
	p.T = len(p.tokens)
	return p, nil
}

// PackedRows is the number of rows a pass over seqs packs, with prompt sharing or without (the
// sum of their lengths): what sharing saves, for benchmarks and for checking that a caller's
// batches share.
func (m *Model) PackedRows(seqs []Sequence, share bool) (int, error) {
	p, err := m.pack(seqs, share && !m.opt.F16KV)
	if err != nil {
		return 0, fmt.Errorf("model: %w", err)
	}
	return p.T, nil
}
