package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/alignkit/align/kernels"
)

// sharedSeqs is a batch whose prompts repeat: a pair (A), three completions of one prompt (B),
// a sequence sharing nothing, and one with no masked token, interleaved so that the members
// of a group are not adjacent. Completions are masked but for one token each in the longer
// ones; promptA and promptB set the prompts' lengths.
func sharedSeqs(rng *rand.Rand, V, promptA, promptB int) []Sequence {
	prompt := func(n int) []int32 {
		p := make([]int32, n)
		for i := range p {
			p[i] = int32(rng.IntN(V))
		}
		return p
	}
	seq := func(p []int32, n int) Sequence {
		s := Sequence{Tokens: append([]int32(nil), p...), Mask: make([]bool, len(p))}
		for i := 0; i < n; i++ {
			s.Tokens = append(s.Tokens, int32(rng.IntN(V)))
			s.Mask = append(s.Mask, !(n > 3 && i == n/2))
		}
		return s
	}
	pa, pb := prompt(promptA), prompt(promptB)
	lone := seq(prompt(5), 4)
	plain := Sequence{Tokens: prompt(6), Mask: make([]bool, 6)}
	return []Sequence{seq(pa, 6), seq(pb, 5), lone, seq(pa, 3), plain, seq(pb, 1), seq(pb, 7)}
}

// pairLoss is a DPO-shaped loss over a batch of sharedSeqs: −log σ(β·(S₀ − S₃)) for pair A,
// −log σ(β·(S₁ − mean(S₅, S₆))) for group B, and 0.1·S₂ (S the sequence's summed log-prob).
// It returns the loss and dLoss/dlogp (every token of a sequence gets dLoss/dS).
func pairLoss(lps [][]float32) (float64, [][]float32) {
	const beta = 0.5
	S := make([]float64, len(lps))
	for i, lp := range lps {
		for _, v := range lp {
			S[i] += float64(v)
		}
	}
	dS := make([]float64, len(lps))
	ls := func(z float64) (float64, float64) { // −log σ(z) and its derivative
		return math.Log1p(math.Exp(-z)), -1 / (1 + math.Exp(z))
	}
	la, da := ls(beta * (S[0] - S[3]))
	dS[0], dS[3] = beta*da, -beta*da
	lb, db := ls(beta * (S[1] - (S[5]+S[6])/2))
	dS[1], dS[5], dS[6] = beta*db, -beta*db/2, -beta*db/2
	dS[2] = 0.1
	d := make([][]float32, len(lps))
	for i, lp := range lps {
		d[i] = make([]float32, len(lp))
		for j := range d[i] {
			d[i][j] = float32(dS[i])
		}
	}
	return la + lb + 0.1*S[2], d
}

// sharedStep runs Forward and Backward of pairLoss with prompt sharing on or off and returns
// the loss, the log-probs, a copy of every gradient and the pass's packed row count.
func sharedStep(t *testing.T, m *Model, seqs []Sequence, share bool) (float64, [][]float32, [][]float32, int) {
	t.Helper()
	m.SetSharedPrompts(share)
	m.ZeroGrad()
	p, err := m.Forward(seqs)
	if err != nil {
		t.Fatal(err)
	}
	loss, d := pairLoss(p.LogProbs)
	if err := p.Backward(d); err != nil {
		t.Fatal(err)
	}
	var g [][]float32
	for _, prm := range m.Params() {
		g = append(g, append([]float32(nil), prm.Grad...))
	}
	return loss, p.LogProbs, g, p.T
}

// checkShared compares the shared pass with the unshared one on seqs: the loss within 1e-5
// relative, every log-prob within 1e-5 (absolute, on values of order 1–10), every gradient
// element within 1e-5 of its tensor's largest gradient (float32 rounding of sums taken in
// another order), the frozen reference's LogProbs likewise; and that sharing packed fewer rows.
func checkShared(t *testing.T, name string, m *Model, seqs []Sequence) {
	t.Helper()
	lu, lpu, gu, Tu := sharedStep(t, m, seqs, false)
	ls, lps, gs, Ts := sharedStep(t, m, seqs, true)
	if Ts >= Tu {
		t.Fatalf("%s: shared pass packs %d rows, unshared %d: nothing was shared", name, Ts, Tu)
	}
	if math.Abs(ls-lu) > 1e-5*math.Abs(lu) {
		t.Errorf("%s: loss shared %.9g, unshared %.9g", name, ls, lu)
	}
	for i := range lpu {
		for j := range lpu[i] {
			if d := math.Abs(float64(lps[i][j] - lpu[i][j])); d > 1e-5 {
				t.Errorf("%s: seq %d token %d: log-prob shared %g, unshared %g", name, i, j, lps[i][j], lpu[i][j])
			}
		}
	}
	worstRel := 0.0
	for k, prm := range m.Params() {
		scale := 0.0
		for _, v := range gu[k] {
			scale = max(scale, math.Abs(float64(v)))
		}
		if scale == 0 {
			t.Errorf("%s: %s: zero gradient in the unshared pass", name, prm.Name)
			continue
		}
		worst := 0.0
		for i := range gu[k] {
			worst = max(worst, math.Abs(float64(gs[k][i]-gu[k][i])))
		}
		if worst > 1e-5*scale {
			t.Errorf("%s: %s: gradients differ by %.3g (largest %.3g)", name, prm.Name, worst, scale)
		}
		worstRel = max(worstRel, worst/scale)
	}
	t.Logf("%s: %d rows shared of %d; loss %.9g vs %.9g; largest gradient difference %.2g of its tensor's largest", name, Tu-Ts, Tu, ls, lu, worstRel)
	m.SetSharedPrompts(false)
	ru, err := m.LogProbs(seqs)
	if err != nil {
		t.Fatal(err)
	}
	m.SetSharedPrompts(true)
	rs, err := m.LogProbs(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ru {
		for j := range ru[i] {
			if d := math.Abs(float64(rs[i][j] - ru[i][j])); d > 1e-5 {
				t.Errorf("%s: LogProbs seq %d token %d: shared %g, unshared %g", name, i, j, rs[i][j], ru[i][j])
			}
		}
	}
}

// randomizeLoRA gives every LoRA B random values (B = 0 at init would zero A's gradient).
func randomizeLoRA(m *Model, rng *rand.Rand) {
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			if l.lora != nil {
				for j := range l.lora.b.Data {
					l.lora.b.Data[j] = float32(0.3 * rng.NormFloat64())
				}
			}
		}
	}
}

// TestSharedPromptsMatchUnshared: the shared pass gives the unshared pass's loss, log-probs and
// gradients on stories260K (the row kernels on AVX-512, else the fused loops) and on random
// models of every architecture (qwen3's QK-norm; gemma2's window of 3 keys, which the branches'
// rows past the prompt see only the prompt's tail of, soft-caps and post-norms; gemma3's local
// RoPE; phi3's longrope; a head dim of 40, which takes the row-block SGEMMs), with LoRA and full
// fine-tuning, with and without recomputation.
func TestSharedPromptsMatchUnshared(t *testing.T) {
	wide := tinyConfig("llama")
	wide.HeadDim, wide.RopeDim = 40, 40
	cfgs := []struct {
		name string
		cfg  Config
	}{
		{"qwen3", tinyConfig("qwen3")}, {"qwen2", tinyConfig("qwen2")}, {"gemma2", tinyGemma2()},
		{"gemma3", tinyGemma3()}, {"phi3", tinyConfig("phi3")}, {"llama-hd40", wide},
	}
	for _, recompute := range []bool{false, true} {
		lora := &LoRAConfig{Rank: 4, Alpha: 8, Seed: 5}
		for _, full := range []bool{false, true} {
			opt := LoadOptions{Threads: 2, Recompute: recompute, Full: full}
			if !full {
				opt.LoRA = lora
			}
			rng := rand.New(rand.NewPCG(11, 12))
			name := fmt.Sprintf("stories260K full=%v recompute=%v", full, recompute)
			m := loadT(t, storiesPath, opt)
			randomizeLoRA(m, rng)
			checkShared(t, name, m, sharedSeqs(rng, m.cfg.Vocab, 70, 9))
			for _, c := range cfgs {
				m, err := NewRandom(c.cfg, 13, opt)
				if err != nil {
					t.Fatal(err)
				}
				randomizeLoRA(m, rng)
				checkShared(t, fmt.Sprintf("%s full=%v recompute=%v", c.name, full, recompute), m, sharedSeqs(rng, m.cfg.Vocab, 11, 8))
			}
		}
	}
}

// TestSharedPromptsGradients checks the shared pass's gradients by float64 finite differences of
// an independent reference that scores every sequence on its own (checkGrads), and its log-probs
// against that reference.
func TestSharedPromptsGradients(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		full bool
	}{{"llama", tinyConfig("llama"), false}, {"qwen3", tinyConfig("qwen3"), false}, {"qwen2", tinyConfig("qwen2"), true}} {
		rng := rand.New(rand.NewPCG(21, 22))
		opt := LoadOptions{Threads: 2, Full: c.full}
		if !c.full {
			opt.LoRA = &LoRAConfig{Rank: 3, Alpha: 6, Seed: 4}
		}
		m, err := NewRandom(c.cfg, 23, opt)
		if err != nil {
			t.Fatal(err)
		}
		if c.full {
			for _, p := range m.Params() {
				if len(p.Shape) == 2 {
					for i := range p.Data {
						p.Data[i] *= 10
					}
				}
			}
		}
		seqs := sharedSeqs(rng, m.cfg.Vocab, 6, 4)
		p, err := m.pack(seqs, true)
		if err != nil || len(p.spans) != 4 || len(p.spans[0].br) != 2 || len(p.spans[1].br) != 3 {
			t.Fatalf("%s: pack: %v, spans %+v: want groups of 2 and 3 and two plain sequences", c.name, err, p.spans)
		}
		checkGrads(t, m, seqs, rng)
	}
}

// TestSharedAttentionPaths compares every attention path's shared layout with the unshared one
// directly: a prompt of 70 rows (two row blocks) and branches of 1, 9 and 66 rows. The unshared
// layout repeats the prompt per branch; its copies' output gradients split the shared prompt's
// at random, so that by linearity the shared prompt's dK, dV (and dQ) are their copies' sums.
func TestSharedAttentionPaths(t *testing.T) {
	type path struct {
		name string
		hd   int
		l    int // layer (attentionLayer; 0 is windowed in the ext config)
		cfg  func(c *Config)
	}
	paths := []path{{"fused", 8, -1, nil}, {"gemm", 40, -1, nil},
		{"ext", 8, 0, func(c *Config) { c.Window, c.WindowLayers, c.AttnSoftcap = 37, []bool{true}, 3 }}}
	if kernels.AttnRowsSIMD(16) {
		paths = append(paths, path{"rows", 16, -1, nil})
	}
	for _, pt := range paths {
		c := Config{Heads: 9, KVHeads: 3, HeadDim: pt.hd}
		if pt.cfg != nil {
			pt.cfg(&c)
		}
		m := &Model{cfg: c, threads: 2}
		qDim, kvDim := c.Heads*pt.hd, c.KVHeads*pt.hd
		P, br := 70, []int{1, 9, 66}
		// shared layout: a lone sequence of 12, then the group: prompt, branches.
		sh := []seqSpan{span(0, 12), span(12, P)}
		T := 12 + P
		for _, n := range br {
			sh[1].br = append(sh[1].br, span(T, n))
			T += n
		}
		rng := rand.New(rand.NewPCG(uint64(pt.hd), 3))
		fill := func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			return x
		}
		q, k, v, dout := fill(T*qDim), fill(T*kvDim), fill(T*kvDim), fill(T*qDim)
		// unshared: the lone one, then prompt+branch per branch; src maps rows to shared rows.
		var src []int
		un := []seqSpan{span(0, 12)}
		for i := 0; i < 12; i++ {
			src = append(src, i)
		}
		for _, b := range sh[1].br {
			un = append(un, span(len(src), P+b.n))
			for i := 0; i < P; i++ {
				src = append(src, 12+i)
			}
			for i := 0; i < b.n; i++ {
				src = append(src, b.off+i)
			}
		}
		Tu := len(src)
		gather := func(x []float32, w int) []float32 {
			y := make([]float32, Tu*w)
			for r, s := range src {
				copy(y[r*w:(r+1)*w], x[s*w:(s+1)*w])
			}
			return y
		}
		qu, ku, vu, doutu := gather(q, qDim), gather(k, kvDim), gather(v, kvDim), gather(dout, qDim)
		// split the prompt rows' dout across the copies: random weights summing to 1.
		wts := make([][]float32, P)
		for i := range wts {
			a, b := rng.Float32(), rng.Float32()
			wts[i] = []float32{a, b, 1 - a - b}
		}
		for c := 0; c < 3; c++ {
			for i := 0; i < P; i++ {
				r := un[1+c].off + i
				for j := 0; j < qDim; j++ {
					doutu[r*qDim+j] *= wts[i][c]
				}
			}
		}
		run := func(spans []seqSpan, q, k, v, dout []float32, n int) (out, dq, dk, dv []float32) {
			out, dq, dk, dv = make([]float32, n*qDim), make([]float32, n*qDim), make([]float32, n*kvDim), make([]float32, n*kvDim)
			switch pt.name {
			case "fused":
				m.attentionForwardFused(out, q, k, v, spans)
				m.attentionBackwardFused(dq, dk, dv, dout, q, k, v, spans)
			case "gemm":
				m.attentionForwardGemm(out, q, k, v, spans)
				m.attentionBackwardGemm(dq, dk, dv, dout, q, k, v, spans)
			case "ext":
				m.attentionForwardExt(pt.l, out, q, k, v, spans)
				m.attentionBackwardExt(pt.l, dq, dk, dv, dout, q, k, v, spans)
			case "rows":
				m.attentionForwardRows(out, q, k, v, spans)
				m.attentionBackwardRows(dq, dk, dv, dout, q, k, v, spans)
			}
			return
		}
		os, dqs, dks, dvs := run(sh, q, k, v, dout, T)
		// Bit-identical whatever the thread count (work items and the order of every sum are
		// fixed; 9 of them per span here, one per query head, on the gemm and ext paths).
		for _, th := range []int{1, 3} {
			m.threads = th
			o, dq, dk, dv := run(sh, q, k, v, dout, T)
			for j, x := range [][2][]float32{{o, os}, {dq, dqs}, {dk, dks}, {dv, dvs}} {
				for i := range x[1] {
					if math.Float32bits(x[0][i]) != math.Float32bits(x[1][i]) {
						t.Fatalf("%s: output %d element %d: %d threads %g, 2 threads %g", pt.name, j, i, th, x[0][i], x[1][i])
					}
				}
			}
		}
		m.threads = 2
		ou, dqu, dku, dvu := run(un, qu, ku, vu, doutu, Tu)
		// fold the unshared results onto the shared rows: outputs are equal per copy; gradients sum.
		fold := func(x []float32, w int, sum bool) []float32 {
			y := make([]float32, T*w)
			for r, s := range src {
				for j := 0; j < w; j++ {
					if sum {
						y[s*w+j] += x[r*w+j]
					} else {
						y[s*w+j] = x[r*w+j]
					}
				}
			}
			return y
		}
		for _, cmp := range []struct {
			what      string
			got, want []float32
		}{{"out", os, fold(ou, qDim, false)}, {"dq", dqs, fold(dqu, qDim, true)}, {"dk", dks, fold(dku, kvDim, true)}, {"dv", dvs, fold(dvu, kvDim, true)}} {
			for i := range cmp.want {
				if d := math.Abs(float64(cmp.got[i] - cmp.want[i])); d > 1e-5*(1+math.Abs(float64(cmp.want[i]))) {
					t.Fatalf("%s: %s[%d] : shared %g, unshared %g", pt.name, cmp.what, i, cmp.got[i], cmp.want[i])
				}
			}
		}
	}
}

// TestSharedPromptsDeterministic: the shared pass, like the unshared one, gives bit-identical
// log-probs and gradients whatever the thread count (a group is one work item per kv head, and
// its branches add into the prompt's dK, dV in a fixed order).
func TestSharedPromptsDeterministic(t *testing.T) {
	for _, c := range []Config{tinyGemma2(), tinyConfig("qwen3")} {
		var ref [][]float32
		var refLP [][]float32
		for _, threads := range []int{1, 2, 3} {
			rng := rand.New(rand.NewPCG(31, 32))
			m, err := NewRandom(c, 33, LoadOptions{Threads: threads, LoRA: &LoRAConfig{Rank: 3, Alpha: 6, Seed: 4}})
			if err != nil {
				t.Fatal(err)
			}
			randomizeLoRA(m, rng)
			_, lp, g, _ := sharedStep(t, m, sharedSeqs(rng, m.cfg.Vocab, 13, 9), true)
			if ref == nil {
				ref, refLP = g, lp
				continue
			}
			for i := range lp {
				for j := range lp[i] {
					if lp[i][j] != refLP[i][j] {
						t.Fatalf("%s threads %d: seq %d token %d: log-prob %g, 1 thread %g", c.Arch, threads, i, j, lp[i][j], refLP[i][j])
					}
				}
			}
			for k := range g {
				for i := range g[k] {
					if g[k][i] != ref[k][i] {
						t.Fatalf("%s threads %d: %s[%d]: gradient %g, 1 thread %g", c.Arch, threads, m.Params()[k].Name, i, g[k][i], ref[k][i])
					}
				}
			}
		}
	}
}
