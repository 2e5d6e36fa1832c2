package objectives

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func pairBatchOf(piW, piL, refW, refL []float64) *Batch {
	n := len(piW)
	ones := make([]float64, n)
	for i := range ones {
		ones[i] = 10
	}
	return &Batch{PiW: piW, PiL: piL, RefW: refW, RefL: refL, LenW: ones, LenL: ones}
}

func randCol(r *rand.Rand, n int) []float64 {
	c := make([]float64, n)
	for i := range c {
		c[i] = -5 - 40*r.Float64()
	}
	return c
}

// DPO is symmetric under swapping chosen with rejected and negating the label: the loss of
// the swapped pair is the loss of the original pair under the flipped label, softplus(x), and
// the cDPO mixture satisfies L_eps(w,l) = (1-eps) L(w,l) + eps L(l,w). Gradients swap roles.
func TestDPOSwapSymmetry(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n = 16
	piW, piL, refW, refL := randCol(r, n), randCol(r, n), randCol(r, n), randCol(r, n)
	d := &DPO{Beta: 0.2, LossType: "sigmoid"}
	for i := 0; i < n; i++ {
		orig := pairBatchOf(piW[i:i+1], piL[i:i+1], refW[i:i+1], refL[i:i+1])
		swap := pairBatchOf(piL[i:i+1], piW[i:i+1], refL[i:i+1], refW[i:i+1])
		go1, gs := NewGrad(d, orig), NewGrad(d, swap)
		lo, err := d.Loss(orig, go1)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := d.Loss(swap, gs)
		if err != nil {
			t.Fatal(err)
		}
		x := 0.2 * ((piW[i] - refW[i]) - (piL[i] - refL[i]))
		if !near(ls.Loss, softplusRef(x), 1e-12) {
			t.Errorf("swapped loss %v, flipped-label loss softplus(x) %v", ls.Loss, softplusRef(x))
		}
		if !near(ls.Loss-lo.Loss, x, 1e-12) {
			t.Errorf("L(l,w) - L(w,l) = %v, want x = %v", ls.Loss-lo.Loss, x)
		}
		if !near(gs.PiW[0]+gs.PiL[0], 0, 1e-15) || !near(go1.PiW[0]-gs.PiL[0], -0.2, 1e-12) {
			t.Errorf("swapped grads %v %v vs %v %v", gs.PiW[0], gs.PiL[0], go1.PiW[0], go1.PiL[0])
		}
		c := &DPO{Beta: 0.2, LossType: "sigmoid", LabelSmoothing: 0.3}
		lc := lossOf(t, c, orig)
		if !near(lc, 0.7*lo.Loss+0.3*ls.Loss, 1e-12) {
			t.Errorf("cDPO %v, mixture %v", lc, 0.7*lo.Loss+0.3*ls.Loss)
		}
	}
}

// SimPO depends only on the average log-probs: scaling a sequence's sum and length together
// leaves the loss unchanged.
func TestSimPODependsOnlyOnAverages(t *testing.T) {
	s := &SimPO{Beta: 2, GammaBetaRatio: 0.5, LossType: "sigmoid"}
	in := &Batch{PiW: []float64{-12, -30}, PiL: []float64{-20, -18}, LenW: []float64{6, 10}, LenL: []float64{8, 9}}
	base := lossOf(t, s, in)
	for _, k := range []float64{2, 3.5, 10} {
		sc := &Batch{PiW: []float64{-12 * k, -30}, PiL: []float64{-20, -18 * k}, LenW: []float64{6 * k, 10}, LenL: []float64{8, 9 * k}}
		if l := lossOf(t, s, sc); !near(l, base, 1e-13) {
			t.Errorf("scale %v: loss %v, want %v", k, l, base)
		}
	}
	// It does not depend on a reference: SimPO takes none.
	for _, name := range s.Inputs() {
		if name == "ref_w" || name == "ref_l" {
			t.Errorf("simpo must not read %s", name)
		}
	}
}

// APO with alpha = 0 equals DPO with reference = the last iterate (hat), whatever hatm is.
func TestAPOAlphaZeroIsIterativeDPO(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = 32
	piW, piL, hatW, hatL := randCol(r, n), randCol(r, n), randCol(r, n), randCol(r, n)
	a := &APO{Alpha: 0, Beta: 0.1, Form: "dpo"}
	ain := &Batch{PiW: piW, PiL: piL, HatW: hatW, HatL: hatL, HatmW: randCol(r, n), HatmL: randCol(r, n)}
	d := &DPO{Beta: 0.1, LossType: "sigmoid"}
	din := pairBatchOf(piW, piL, hatW, hatL)
	ga, gd := NewGrad(a, ain), NewGrad(d, din)
	ra, err := a.Loss(ain, ga)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := d.Loss(din, gd)
	if err != nil {
		t.Fatal(err)
	}
	// Equal up to rounding: DPO's batch loop shares exp(-|x|) between loss and gradient.
	if !near(ra.Loss, rd.Loss, 1e-15) {
		t.Errorf("APO(alpha=0) %v != DPO(ref=hat) %v", ra.Loss, rd.Loss)
	}
	for i := range piW {
		if !near(ga.PiW[i], gd.PiW[i], 1e-15) || !near(ga.PiL[i], gd.PiL[i], 1e-15) {
			t.Fatalf("example %d: grads differ: %v %v vs %v %v", i, ga.PiW[i], ga.PiL[i], gd.PiW[i], gd.PiL[i])
		}
	}
	// With alpha > 0, the reference is (1+alpha) hat - alpha hatm.
	a.Alpha = 0.3
	ref := func(h, hm []float64) []float64 {
		o := make([]float64, n)
		for i := range o {
			o[i] = 1.3*h[i] - 0.3*hm[i]
		}
		return o
	}
	din = pairBatchOf(piW, piL, ref(hatW, ain.HatmW), ref(hatL, ain.HatmL))
	if la, ld := lossOf(t, a, ain), lossOf(t, d, din); !near(la, ld, 1e-13) {
		t.Errorf("APO(alpha=0.3) %v != DPO(extrapolated ref) %v", la, ld)
	}
}

// DNO-Prct equals DPO with reference = pi_t and beta = eta.
func TestDNOPrctIsDPOWithPrevReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const n = 32
	piW, piL, prevW, prevL := randCol(r, n), randCol(r, n), randCol(r, n), randCol(r, n)
	p := &DNOPrct{Eta: 0.05}
	pin := &Batch{PiW: piW, PiL: piL, PrevW: prevW, PrevL: prevL}
	d := &DPO{Beta: 0.05, LossType: "sigmoid"}
	din := pairBatchOf(piW, piL, prevW, prevL)
	gp, gd := NewGrad(p, pin), NewGrad(d, din)
	rp, err := p.Loss(pin, gp)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := d.Loss(din, gd)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Loss != rd.Loss {
		t.Errorf("DNO-Prct %v != DPO %v", rp.Loss, rd.Loss)
	}
	for i := range piW {
		if gp.PiW[i] != gd.PiW[i] || gp.PiL[i] != gd.PiL[i] {
			t.Fatalf("example %d: grads differ", i)
		}
	}
	for k, v := range rd.Metrics {
		if rp.Metrics[k] != v {
			t.Errorf("metric %s: %v vs %v", k, rp.Metrics[k], v)
		}
	}
}

// f-DPO with reverse KL is DPO, for every loss type.
func TestFDPOReverseKLIsDPO(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	in := pairBatchOf(randCol(r, 8), randCol(r, 8), randCol(r, 8), randCol(r, 8))
	for _, lt := range DPOLossTypes() {
		d := &DPO{Beta: 0.1, LossType: lt, LabelSmoothing: 0.01}
		f := DefaultFDPO()
		f.DPO = *d
		if ld, lf := lossOf(t, d, in), lossOf(t, &f, in); ld != lf {
			t.Errorf("%s: DPO %v, f-DPO reverse_kl %v", lt, ld, lf)
		}
	}
}

// CPL with gamma = 1 and lam = 1 is DPO without reference with beta = alpha on the sums.
func TestCPLIsReferenceFreeDPO(t *testing.T) {
	c := &CPL{Alpha: 0.3, Lam: 1, Gamma: 1, BCData: "all"}
	in := &Batch{TokW: [][]float64{{-1, -2}, {-0.5}}, TokL: [][]float64{{-3}, {-0.1, -0.2, -0.3}}}
	d := &DPO{Beta: 0.3, LossType: "sigmoid", ReferenceFree: true}
	din := &Batch{PiW: []float64{-3, -0.5}, PiL: []float64{-3, -0.6}, LenW: []float64{2, 1}, LenL: []float64{1, 3}}
	if lc, ld := lossOf(t, c, in), lossOf(t, d, din); !near(lc, ld, 1e-14) {
		t.Errorf("CPL %v, reference-free DPO %v", lc, ld)
	}
}

// HyPO's on_pi gradient follows the score-function formulas (not the derivative of the
// reported KL estimate): rloo lam (lr_j - b_j)/k with leave-one-out b_j, reinforce lam lr_j/k.
func TestHyPOScoreFunctionGradient(t *testing.T) {
	in := &Batch{PiW: []float64{-10}, PiL: []float64{-12}, RefW: []float64{-11}, RefL: []float64{-11},
		OnPi: [][]float64{{-5, -9, -7, -3}}, OnRef: [][]float64{{-6, -6, -6, -6}}}
	lr := []float64{1, -3, -1, 3}
	for _, est := range []string{"rloo", "reinforce", "k2"} {
		h := &HyPO{Beta: 0.1, Lam: 0.05, KLEstimator: est}
		g := NewGrad(h, in)
		res, err := h.Loss(in, g)
		if err != nil {
			t.Fatal(err)
		}
		sumLR := 0.0
		for _, v := range lr {
			sumLR += v
		}
		for j, v := range lr {
			want := 0.05 * v / 4
			if est == "rloo" {
				want = 0.05 * (v - (sumLR-v)/3) / 4
			}
			if !near(g.OnPi[0][j], want, 1e-14) {
				t.Errorf("%s: d/don_pi[%d] = %v, want %v", est, j, g.OnPi[0][j], want)
			}
		}
		wantKL := sumLR / 4
		if est == "k2" {
			wantKL = (1 + 9 + 1 + 9) / 2.0 / 4
		}
		dpo := softplusRef(-0.1 * ((-10 + 11) - (-12 + 11)))
		if !near(res.Metrics["kl_estimate"], wantKL, 1e-14) || !near(res.Loss, dpo+0.05*wantKL, 1e-14) {
			t.Errorf("%s: kl %v loss %v, want %v %v", est, res.Metrics["kl_estimate"], res.Loss, wantKL, dpo+0.05*wantKL)
		}
	}
	// One sample: the RLOO baseline is 0.
	one := &Batch{PiW: []float64{-10}, PiL: []float64{-12}, RefW: []float64{-11}, RefL: []float64{-11},
		OnPi: [][]float64{{-5}}, OnRef: [][]float64{{-6}}}
	h := &HyPO{Beta: 0.1, Lam: 0.05, KLEstimator: "rloo"}
	g := NewGrad(h, one)
	if _, err := h.Loss(one, g); err != nil {
		t.Fatal(err)
	}
	if !near(g.OnPi[0][0], 0.05, 1e-15) {
		t.Errorf("k = 1: grad %v, want lam*lr = 0.05", g.OnPi[0][0])
	}
}

// SimPO's SFT term is token-weighted across the batch.
func TestSimPOSFTIsTokenWeighted(t *testing.T) {
	s := &SimPO{Beta: 2, GammaBetaRatio: 0.25, SFTWeight: 1, LossType: "sigmoid"}
	in := &Batch{PiW: []float64{-10, -40}, PiL: []float64{-20, -20}, LenW: []float64{5, 20}, LenL: []float64{5, 5}}
	res, err := s.Loss(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := 50.0 / 25; res.Metrics["nll_loss"] != want {
		t.Errorf("nll_loss %v, want %v (token-weighted)", res.Metrics["nll_loss"], want)
	}
	s.SFTWeight = 0
	pair := lossOf(t, s, in)
	if !near(res.Loss, pair+2, 1e-14) {
		t.Errorf("loss %v, want pair loss %v + 2", res.Loss, pair)
	}
}
