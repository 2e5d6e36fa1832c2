package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRewardHeadGradients checks the reward head against the float64 reference forward
// (ref64, grad_test.go): the pooled hidden states and rewards, the head's gradient and the
// pooled hidden state's gradient by float64 central differences, and every trainable
// parameter's gradient through the whole model, for L = Σ c_i·r_i + ½·Σ r_i² (so that
// dL/dr_i = c_i + r_i depends on the forward).
func TestRewardHeadGradients(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		rng := rand.New(rand.NewPCG(11, 12))
		m, err := NewRandom(tinyConfig(arch), 13, LoadOptions{Threads: 2, LoRA: &LoRAConfig{Rank: 3, Alpha: 6, Seed: 4}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range m.blocks {
			for _, l := range m.blocks[i].linears() {
				if l.lora != nil {
					for j := range l.lora.b.Data {
						l.lora.b.Data[j] = float32(0.3 * rng.NormFloat64())
					}
				}
			}
		}
		D := m.cfg.Dim
		head := NewRewardHead(D, 5)
		for i := range head.W.Data {
			head.W.Data[i] = float32(rng.NormFloat64()) // larger than the 0.02 init: more signal
		}
		seqs := tinySeqs(rng, m.cfg.Vocab)
		rp, err := m.RewardForward(seqs, head)
		if err != nil {
			t.Fatal(err)
		}
		ref := newRef64(m)
		w64 := make([]float64, D)
		for i, v := range head.W.Data {
			w64[i] = float64(v)
		}
		noMask := rewardSeqs(seqs)
		// pooled returns each sequence's last-token hidden state in float64.
		pooled := func() [][]float64 {
			ref.logprobs(noMask)
			out := make([][]float64, len(seqs))
			for i, s := range seqs {
				n := len(s.Tokens)
				out[i] = ref.hidden[i][(n-1)*D : n*D]
			}
			return out
		}
		coef := make([]float64, len(seqs))
		for i := range coef {
			coef[i] = rng.NormFloat64()
		}
		lossOfH := func(hs [][]float64, w []float64) float64 {
			var l float64
			for i, h := range hs {
				var r float64
				for j := range h {
					r += w[j] * h[j]
				}
				l += coef[i]*r + 0.5*r*r
			}
			return l
		}
		loss := func() float64 { return lossOfH(pooled(), w64) }

		hs := pooled()
		dr := make([]float32, len(seqs))
		for i := range seqs {
			var r float64
			for j := 0; j < D; j++ {
				if d := math.Abs(float64(rp.Hidden[i][j]) - hs[i][j]); d > 1e-4 {
					t.Fatalf("%s: seq %d hidden[%d]: float32 %g, float64 %g", arch, i, j, rp.Hidden[i][j], hs[i][j])
				}
				r += w64[j] * hs[i][j]
			}
			if math.Abs(float64(rp.Rewards[i])-r) > 1e-4*(1+math.Abs(r)) {
				t.Fatalf("%s: seq %d reward %g, float64 reference %g", arch, i, rp.Rewards[i], r)
			}
			dr[i] = float32(coef[i] + r)
		}
		m.ZeroGrad()
		clear(head.W.Grad)
		if err := rp.Backward(dr); err != nil {
			t.Fatal(err)
		}
		const h = 1e-5
		// The head: dL/dw_j against finite differences of the float64 loss.
		for j := 0; j < D; j++ {
			old := w64[j]
			w64[j] = old + h
			up := lossOfH(hs, w64)
			w64[j] = old - h
			down := lossOfH(hs, w64)
			w64[j] = old
			if fd := (up - down) / (2 * h); math.Abs(float64(head.W.Grad[j])-fd) > 1e-4*(1+math.Abs(fd)) {
				t.Errorf("%s: head grad[%d] = %g, finite difference %g", arch, j, head.W.Grad[j], fd)
			}
		}
		// The pooled hidden state: dL/dh_i = dr_i·w, the vector Backward feeds into the model,
		// against finite differences in h.
		for i := range hs {
			for j := 0; j < D; j++ {
				old := hs[i][j]
				hs[i][j] = old + h
				up := lossOfH(hs, w64)
				hs[i][j] = old - h
				down := lossOfH(hs, w64)
				hs[i][j] = old
				fd := (up - down) / (2 * h)
				if got := float64(dr[i]) * float64(head.W.Data[j]); math.Abs(got-fd) > 1e-4*(1+math.Abs(fd)) {
					t.Errorf("%s: dL/dh[%d][%d] = %g, finite difference %g", arch, i, j, got, fd)
				}
			}
		}
		// Every trainable tensor through the model.
		checked := 0
		for _, p := range m.Params() {
			w := ref.w[p]
			var gots, fds []float64
			for n := 0; n < 6; n++ {
				i := rng.IntN(len(w))
				old := w[i]
				w[i] = old + h
				up := loss()
				w[i] = old - h
				down := loss()
				w[i] = old
				fds = append(fds, (up-down)/(2*h))
				gots = append(gots, float64(p.Grad[i]))
			}
			scale := 0.0
			for _, v := range fds {
				scale = max(scale, math.Abs(v))
			}
			for k := range fds {
				if math.Abs(gots[k]-fds[k]) > 1e-6+1e-2*scale {
					t.Errorf("%s: %s: analytic %.6g, finite difference %.6g (tensor scale %.3g)", arch, p.Name, gots[k], fds[k], scale)
				}
			}
			if scale > 1e-7 {
				checked++
			}
		}
		if checked < len(m.Params())*3/4 {
			t.Fatalf("%s: only %d of %d tensors had non-vanishing sampled gradients", arch, checked, len(m.Params()))
		}
	}
}

func TestRewardHeadErrors(t *testing.T) {
	m, err := NewRandom(tinyConfig("llama"), 3, LoadOptions{LoRA: &LoRAConfig{Rank: 2, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	seqs := []Sequence{{Tokens: []int32{1, 2, 3}, Mask: []bool{false, true, true}}}
	if _, err := m.Rewards(seqs, NewRewardHead(m.cfg.Dim+1, 1)); err == nil {
		t.Fatal("a head of the wrong size accepted")
	}
	head := NewRewardHead(m.cfg.Dim, 1)
	r1, err := m.Rewards(seqs, head)
	if err != nil {
		t.Fatal(err)
	}
	// The reward reads the last token only: appending a token changes it, masks do not.
	seqs2 := []Sequence{{Tokens: []int32{1, 2, 3}, Mask: []bool{false, false, false}}}
	r2, _ := m.Rewards(seqs2, head)
	r3, _ := m.Rewards([]Sequence{{Tokens: []int32{1, 2, 3, 4}, Mask: make([]bool, 4)}}, head)
	if r1[0] != r2[0] || r1[0] == r3[0] {
		t.Fatalf("rewards %v %v %v", r1, r2, r3)
	}
	rp, err := m.RewardForward(seqs, head)
	if err != nil {
		t.Fatal(err)
	}
	if err := rp.Backward([]float32{1, 2}); err == nil {
		t.Fatal("two gradients for one sequence accepted")
	}
	if err := rp.Backward([]float32{1}); err != nil {
		t.Fatal(err)
	}
	if err := rp.Backward([]float32{1}); err == nil {
		t.Fatal("second Backward accepted")
	}
}
