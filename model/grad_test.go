package model

// Gradient checks. The float32 engine's analytic gradients are compared with central finite
// differences of an independent float64 reference forward (ref64 below, written plainly from
// the formulas), so both the forward math and every backward function are checked.

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ref64 is a float64 copy of a model's weights and a plain forward pass over it.
type ref64 struct {
	m *Model
	w map[*Param][]float64
	// hidden holds, after logprobs, each sequence's final-norm output [T·D] (reward_test.go).
	hidden [][]float64
}

func newRef64(m *Model) *ref64 {
	r := &ref64{m: m, w: map[*Param][]float64{}}
	add := func(p *Param) {
		if p == nil {
			return
		}
		d := make([]float64, len(p.Data))
		for i, v := range p.Data {
			d[i] = float64(v)
		}
		r.w[p] = d
	}
	for _, p := range m.allWeights() {
		add(p)
	}
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			if l.lora != nil {
				add(l.lora.a)
				add(l.lora.b)
			}
		}
	}
	return r
}

func (r *ref64) linear(l *linear, x []float64, T int) []float64 {
	y := make([]float64, T*l.out)
	W := r.w[l.w]
	for t := 0; t < T; t++ {
		for o := 0; o < l.out; o++ {
			var s float64
			for i := 0; i < l.in; i++ {
				s += x[t*l.in+i] * W[o*l.in+i]
			}
			if l.b != nil {
				s += r.w[l.b][o]
			}
			y[t*l.out+o] = s
		}
	}
	if l.lora != nil {
		A, B, rk := r.w[l.lora.a], r.w[l.lora.b], l.lora.rank
		for t := 0; t < T; t++ {
			u := make([]float64, rk)
			for j := 0; j < rk; j++ {
				for i := 0; i < l.in; i++ {
					u[j] += x[t*l.in+i] * A[j*l.in+i]
				}
			}
			for o := 0; o < l.out; o++ {
				var s float64
				for j := 0; j < rk; j++ {
					s += u[j] * B[o*rk+j]
				}
				y[t*l.out+o] += float64(l.lora.scale) * s
			}
		}
	}
	return y
}

func rmsnorm64(x, w []float64, T, D int, eps float64) []float64 {
	y := make([]float64, T*D)
	for t := 0; t < T; t++ {
		var ss float64
		for i := 0; i < D; i++ {
			ss += x[t*D+i] * x[t*D+i]
		}
		s := 1 / math.Sqrt(ss/float64(D)+eps)
		for i := 0; i < D; i++ {
			y[t*D+i] = x[t*D+i] * s * w[i]
		}
	}
	return y
}

func rope64(x []float64, pos []int32, H, hd int, c Config) {
	rd, neox := c.RopeDim, c.RopeNeoX
	for t := range pos {
		for h := 0; h < H; h++ {
			row := x[(t*H+h)*hd:]
			for i := 0; i < rd/2; i++ {
				ang := ropeAngle64(c, pos[t], i)
				i0, i1 := 2*i, 2*i+1
				if neox {
					i0, i1 = i, i+rd/2
				}
				a, b := row[i0], row[i1]
				ms := 1.0
				if c.RopeAttnFactor != 0 {
					ms = float64(c.RopeAttnFactor)
				}
				row[i0] = ms * (a*math.Cos(ang) - b*math.Sin(ang))
				row[i1] = ms * (a*math.Sin(ang) + b*math.Cos(ang))
			}
		}
	}
}

// logprobs returns the masked tokens' log-probs of seqs, flattened.
func (r *ref64) logprobs(seqs []Sequence) []float64 {
	m, c := r.m, r.m.cfg
	D, H, KV, hd := c.Dim, c.Heads, c.KVHeads, c.HeadDim
	var out []float64
	r.hidden = r.hidden[:0]
	for _, s := range seqs {
		T := len(s.Tokens)
		pos := make([]int32, T)
		x := make([]float64, T*D)
		for t, id := range s.Tokens {
			pos[t] = int32(t)
			copy(x[t*D:], r.w[m.embed][int(id)*D:(int(id)+1)*D])
			if c.EmbedScale != 0 {
				for i := 0; i < D; i++ {
					x[t*D+i] *= math.Sqrt(float64(D)) // gemma: the scale is √dim
				}
			}
		}
		for l := range m.blocks {
			b := &m.blocks[l]
			xn := rmsnorm64(x, r.w[b.attnNorm], T, D, float64(c.Eps))
			q, k, v := r.linear(&b.q, xn, T), r.linear(&b.k, xn, T), r.linear(&b.v, xn, T)
			if c.QKNorm { // RMSNorm over each head's hd values
				q = rmsnorm64(q, r.w[b.qNorm], T*H, hd, float64(c.Eps))
				k = rmsnorm64(k, r.w[b.kNorm], T*KV, hd, float64(c.Eps))
			}
			lc := c // this layer's RoPE: gemma3's local layers have a base of their own, unscaled
			if l < len(c.RopeLocalLayers) && c.RopeLocalLayers[l] {
				lc.RopeTheta, lc.RopeScale = c.RopeLocalTheta, 0
			}
			rope64(q, pos, H, hd, lc)
			rope64(k, pos, KV, hd, lc)
			scale := 1 / math.Sqrt(float64(hd))
			if c.AttnScale != 0 {
				scale = float64(c.AttnScale)
			}
			lo := func(i int) int { return 0 }
			if c.Window > 0 && c.WindowLayers[l] {
				lo = func(i int) int { return max(0, i-c.Window+1) }
			}
			ao := make([]float64, T*H*hd)
			for h := 0; h < H; h++ {
				g := h / (H / KV)
				for i := 0; i < T; i++ {
					sc := make([]float64, i+1)
					mx := math.Inf(-1)
					for j := lo(i); j <= i; j++ {
						for d := 0; d < hd; d++ {
							sc[j] += q[(i*H+h)*hd+d] * k[(j*KV+g)*hd+d]
						}
						sc[j] *= scale
						if cp := float64(c.AttnSoftcap); cp != 0 {
							sc[j] = cp * math.Tanh(sc[j]/cp)
						}
						mx = math.Max(mx, sc[j])
					}
					var z float64
					for j := lo(i); j <= i; j++ {
						sc[j] = math.Exp(sc[j] - mx)
						z += sc[j]
					}
					for j := lo(i); j <= i; j++ {
						for d := 0; d < hd; d++ {
							ao[(i*H+h)*hd+d] += sc[j] / z * v[(j*KV+g)*hd+d]
						}
					}
				}
			}
			o := r.linear(&b.o, ao, T)
			if c.PostNorms {
				o = rmsnorm64(o, r.w[b.postAttnNorm], T, D, float64(c.Eps))
			}
			for i := range x {
				x[i] += o[i]
			}
			xn = rmsnorm64(x, r.w[b.ffnNorm], T, D, float64(c.Eps))
			gt, up := r.linear(&b.gate, xn, T), r.linear(&b.up, xn, T)
			for i := range gt {
				if c.GeGLU { // gelu_tanh
					u := math.Sqrt(2/math.Pi) * (gt[i] + 0.044715*gt[i]*gt[i]*gt[i])
					gt[i] = 0.5 * gt[i] * (1 + math.Tanh(u)) * up[i]
				} else {
					gt[i] = gt[i] / (1 + math.Exp(-gt[i])) * up[i]
				}
			}
			dn := r.linear(&b.down, gt, T)
			if c.PostNorms {
				dn = rmsnorm64(dn, r.w[b.postFFNNorm], T, D, float64(c.Eps))
			}
			for i := range x {
				x[i] += dn[i]
			}
		}
		xn := rmsnorm64(x, r.w[m.outNorm], T, D, float64(c.Eps))
		r.hidden = append(r.hidden, xn)
		W := r.w[m.lmHead()]
		for i := 1; i < T; i++ {
			if !s.Mask[i] {
				continue
			}
			logits := make([]float64, c.Vocab)
			mx := math.Inf(-1)
			for vv := range logits {
				for d := 0; d < D; d++ {
					logits[vv] += xn[(i-1)*D+d] * W[vv*D+d]
				}
				if cp := float64(c.FinalSoftcap); cp != 0 {
					logits[vv] = cp * math.Tanh(logits[vv]/cp)
				}
				mx = math.Max(mx, logits[vv])
			}
			var z float64
			for _, l := range logits {
				z += math.Exp(l - mx)
			}
			out = append(out, logits[s.Tokens[i]]-mx-math.Log(z))
		}
	}
	return out
}

func tinyConfig(arch string) Config {
	c := Config{Arch: arch, Layers: 2, Dim: 16, FFN: 24, Heads: 4, KVHeads: 2, HeadDim: 4, RopeDim: 4, Vocab: 37, Eps: 1e-5, RopeTheta: 10000}
	switch arch {
	case "qwen2":
		c.RopeNeoX, c.QKVBias, c.Tied = true, true, true
	case "qwen3":
		// QK-norm, and heads wider than Dim/Heads (as qwen3-0.6B: 16×128 on 1024).
		c.RopeNeoX, c.QKNorm, c.HeadDim, c.RopeDim = true, true, 6, 6
	case "phi3":
		// Fused projections (split at load), and longrope's factors and attn_factor.
		c.RopeNeoX, c.RopeFreqs, c.RopeAttnFactor = true, []float32{1, 2.5}, 1.19
	}
	return c
}

func tinySeqs(rng *rand.Rand, V int) []Sequence {
	var seqs []Sequence
	for _, n := range []int{7, 1, 5} {
		s := Sequence{Tokens: make([]int32, n), Mask: make([]bool, n)}
		for i := range s.Tokens {
			s.Tokens[i] = int32(rng.IntN(V))
			s.Mask[i] = i > 0 && rng.IntN(4) != 0
		}
		seqs = append(seqs, s)
	}
	return seqs
}

// checkGrads compares every trainable parameter's analytic gradient with float64 central
// differences at a few random elements per tensor.
func checkGrads(t *testing.T, m *Model, seqs []Sequence, rng *rand.Rand) {
	t.Helper()
	// Randomise LoRA B (it starts at zero, which would make A's gradient vanish).
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			if l.lora != nil {
				for j := range l.lora.b.Data {
					l.lora.b.Data[j] = float32(0.3 * rng.NormFloat64())
				}
			}
		}
	}
	// The loss is Σ c_i·logp_i with random c, so dlogp = c.
	pass, err := m.Forward(seqs)
	if err != nil {
		t.Fatal(err)
	}
	ref := newRef64(m)
	lp64 := ref.logprobs(seqs)
	var coef []float64
	dlogp := make([][]float32, len(seqs))
	k := 0
	for i, lp := range pass.LogProbs {
		for j := range lp {
			if d := math.Abs(float64(lp[j]) - lp64[k]); d > 1e-4 {
				t.Fatalf("forward: seq %d token %d: float32 %g, float64 reference %g", i, j, lp[j], lp64[k])
			}
			c := rng.NormFloat64()
			coef = append(coef, c)
			dlogp[i] = append(dlogp[i], float32(c))
			k++
		}
	}
	m.ZeroGrad()
	if err := pass.Backward(dlogp); err != nil {
		t.Fatal(err)
	}
	loss := func() float64 {
		var s float64
		for i, v := range ref.logprobs(seqs) {
			s += coef[i] * v
		}
		return s
	}
	const h = 1e-5
	checked := 0
	for _, p := range m.Params() {
		w := ref.w[p]
		var gots, fds []float64
		for n := 0; n < 6; n++ {
			i := rng.IntN(len(w))
			old := w[i]
			w[i] = old + h
			lp := loss()
			w[i] = old - h
			lm := loss()
			w[i] = old
			fds = append(fds, (lp-lm)/(2*h))
			gots = append(gots, float64(p.Grad[i]))
		}
		// Tolerance relative to the tensor's sampled gradient scale, so that small gradients
		// are checked as strictly as large ones.
		scale := 0.0
		for _, v := range fds {
			scale = max(scale, math.Abs(v))
		}
		for k := range fds {
			if math.Abs(gots[k]-fds[k]) > 1e-6+1e-2*scale {
				t.Errorf("%s: analytic %.6g, finite difference %.6g (tensor scale %.3g)", p.Name, gots[k], fds[k], scale)
			}
		}
		if scale > 1e-7 {
			checked++
		}
	}
	if checked < len(m.Params())*3/4 {
		t.Fatalf("only %d of %d tensors had non-vanishing sampled gradients", checked, len(m.Params()))
	}
}

func TestGradientsLoRA(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		for _, recompute := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(1, 2))
			m, err := NewRandom(tinyConfig(arch), 3, LoadOptions{Threads: 2, Recompute: recompute,
				LoRA: &LoRAConfig{Rank: 3, Alpha: 6, Seed: 4}})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Params()) != 2*7*2 {
				t.Fatalf("%d LoRA params, want 28", len(m.Params()))
			}
			checkGrads(t, m, tinySeqs(rng, m.cfg.Vocab), rng)
		}
	}
}

func TestGradientsFull(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		rng := rand.New(rand.NewPCG(5, 6))
		m, err := NewRandom(tinyConfig(arch), 7, LoadOptions{Threads: 2, Full: true})
		if err != nil {
			t.Fatal(err)
		}
		// Larger weights so that every path carries signal.
		for _, p := range m.Params() {
			for i := range p.Data {
				if len(p.Shape) == 2 {
					p.Data[i] *= 10
				}
			}
		}
		checkGrads(t, m, tinySeqs(rng, m.cfg.Vocab), rng)
	}
}

// TestDeterministic: reruns and thread counts give bit-identical log-probs and gradients.
func TestDeterministic(t *testing.T) {
	run := func(threads int) ([][]float32, []float32) {
		m, err := NewRandom(tinyConfig("llama"), 3, LoadOptions{Threads: threads, LoRA: &LoRAConfig{Rank: 3, Dropout: 0.1, Seed: 4}})
		if err != nil {
			t.Fatal(err)
		}
		m.SetTraining(true)
		seqs := tinySeqs(rand.New(rand.NewPCG(1, 2)), m.cfg.Vocab)
		p, err := m.Forward(seqs)
		if err != nil {
			t.Fatal(err)
		}
		d := make([][]float32, len(p.LogProbs))
		for i, lp := range p.LogProbs {
			d[i] = make([]float32, len(lp))
			for j := range d[i] {
				d[i][j] = 1
			}
		}
		if err := p.Backward(d); err != nil {
			t.Fatal(err)
		}
		var g []float32
		for _, q := range m.Params() {
			g = append(g, q.Grad...)
		}
		return p.LogProbs, g
	}
	lp1, g1 := run(1)
	for _, th := range []int{1, 2, 3} {
		lp, g := run(th)
		for i := range lp {
			for j := range lp[i] {
				if lp[i][j] != lp1[i][j] {
					t.Fatalf("threads %d: log-prob differs", th)
				}
			}
		}
		for i := range g {
			if g[i] != g1[i] {
				t.Fatalf("threads %d: gradient %d differs: %g vs %g", th, i, g[i], g1[i])
			}
		}
	}
}

// TestGradientsLongSequence covers attention over several row blocks (attnBlock = 64).
func TestGradientsLongSequence(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	cfg := tinyConfig("llama")
	cfg.Layers = 1
	m, err := NewRandom(cfg, 3, LoadOptions{Threads: 2, LoRA: &LoRAConfig{Rank: 2, Alpha: 2, Seed: 4, Targets: []string{"q", "k", "v"}}})
	if err != nil {
		t.Fatal(err)
	}
	n := 2*attnBlock + 9
	s := Sequence{Tokens: make([]int32, n), Mask: make([]bool, n)}
	for i := range s.Tokens {
		s.Tokens[i] = int32(rng.IntN(cfg.Vocab))
		s.Mask[i] = i > attnBlock/2
	}
	checkGrads(t, m, []Sequence{s, {Tokens: []int32{1, 2, 3}, Mask: []bool{false, true, true}}}, rng)
}
