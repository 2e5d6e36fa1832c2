package objectives

import (
	"math"
	"strings"
	"testing"
)

// Known values for the online objectives. Each expected loss, gradient and metric is computed
// here by a separate float64 transcription of the paper's formula (textbook sigmoid and
// log(sigmoid), one example at a time, the batch mean taken at the end), never by calling the
// code under test. The inputs are non-trivial: no two log-probs are equal, the anchors and the
// reference differ, the win rates differ, and every parameter is off its default, so that
// swapping two inputs, flipping a sign or dropping a coefficient changes some number.

func kSig(x float64) float64    { return 1 / (1 + math.Exp(-x)) }
func kLogSig(x float64) float64 { return math.Log(kSig(x)) }

// want is one objective's expected result on a batch: the loss, the gradient of every
// differentiated input (by name, one value per example or per array entry), and metrics.
type want struct {
	loss    float64
	scalar  map[string][]float64
	array   map[string][][]float64
	metrics map[string]float64
}

func checkKnown(t *testing.T, label string, obj Objective, in *Batch, w want) {
	t.Helper()
	grad := NewGrad(obj, in)
	res, err := obj.Loss(in, grad)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	const tol = 1e-11
	if !near(res.Loss, w.loss, tol) {
		t.Errorf("%s: loss %.15g, want %.15g", label, res.Loss, w.loss)
	}
	for name, col := range w.scalar {
		got := *grad.Scalar(name)
		for i := range col {
			if !near(got[i], col[i], tol) {
				t.Errorf("%s: dL/d%s[%d] = %.15g, want %.15g", label, name, i, got[i], col[i])
			}
		}
	}
	for name, col := range w.array {
		got := *grad.Array(name)
		for i := range col {
			for j := range col[i] {
				if !near(got[i][j], col[i][j], tol) {
					t.Errorf("%s: dL/d%s[%d][%d] = %.15g, want %.15g", label, name, i, j, got[i][j], col[i][j])
				}
			}
		}
	}
	for k, v := range w.metrics {
		got, ok := res.Metrics[k]
		if !ok {
			t.Errorf("%s: metric %s missing", label, k)
			continue
		}
		if !near(got, v, tol) {
			t.Errorf("%s: metric %s = %.15g, want %.15g", label, k, got, v)
		}
	}
	// The same loss without a gradient buffer.
	if res2, err := obj.Loss(in, nil); err != nil || !near(res2.Loss, w.loss, tol) {
		t.Errorf("%s: loss without gradients %v (%v), want %v", label, res2.Loss, err, w.loss)
	}
}

// trl metrics of a batch from per-example implicit rewards and summed log-probs.
func trlMetrics(rw, rl, pw, pl []float64) map[string]float64 {
	n := float64(len(rw))
	m := map[string]float64{}
	for i := range rw {
		m["rewards/chosen"] += rw[i] / n
		m["rewards/rejected"] += rl[i] / n
		m["rewards/margins"] += (rw[i] - rl[i]) / n
		if rw[i] > rl[i] {
			m["rewards/accuracies"] += 1 / n
		}
		m["logps/chosen"] += pw[i] / n
		m["logps/rejected"] += pl[i] / n
	}
	return m
}

// Three examples: the first two have the chosen ahead, the third behind, so that the strict
// reward accuracy is 2/3 or 1/3 rather than 0 or 1.
var (
	kPiW   = []float64{-11.5, -23.25, -8.0}
	kPiL   = []float64{-14.0, -21.75, -6.5}
	kRefW  = []float64{-12.75, -22.0, -9.5}
	kRefL  = []float64{-13.25, -24.5, -7.0}
	kPrevW = []float64{-12.0, -22.75, -7.25}
	kPrevL = []float64{-13.5, -23.0, -6.0}
)

func TestINPOKnownValues(t *testing.T) {
	const eta, tau = 0.02, 0.007 // tau/eta = 0.35, so ref and prev weigh differently
	o := &INPO{Eta: eta, Tau: tau}
	in := &Batch{PiW: kPiW, PiL: kPiL, RefW: kRefW, RefL: kRefL, PrevW: kPrevW, PrevL: kPrevL}
	n := float64(len(kPiW))
	w := want{scalar: map[string][]float64{"pi_w": make([]float64, 3), "pi_l": make([]float64, 3)}}
	var rw, rl []float64
	sumH := 0.0
	for i := range kPiW {
		// Zhang et al. 2025, Eq. 8: h = log pi(y_w)/pi(y_l) - (tau/eta) log ref(y_w)/ref(y_l)
		//   - (1 - tau/eta) log pi_t(y_w)/pi_t(y_l);  L = (h - 1/(2 eta))^2.
		h := (kPiW[i] - kPiL[i]) - tau/eta*(kRefW[i]-kRefL[i]) - (1-tau/eta)*(kPrevW[i]-kPrevL[i])
		w.loss += math.Pow(h-1/(2*eta), 2) / n
		w.scalar["pi_w"][i] = 2 * (h - 1/(2*eta)) / n
		w.scalar["pi_l"][i] = -2 * (h - 1/(2*eta)) / n
		sumH += h
		anchorW := tau/eta*kRefW[i] + (1-tau/eta)*kPrevW[i]
		anchorL := tau/eta*kRefL[i] + (1-tau/eta)*kPrevL[i]
		rw = append(rw, eta*(kPiW[i]-anchorW))
		rl = append(rl, eta*(kPiL[i]-anchorL))
	}
	w.metrics = trlMetrics(rw, rl, kPiW, kPiL)
	w.metrics["h"] = sumH / n
	checkKnown(t, "inpo", o, in, w)
	// Through the registry, tau left to its default eta/3.
	obj, err := New("inpo", map[string]string{"eta": "0.03"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := obj.Loss(&Batch{PiW: kPiW[:1], PiL: kPiL[:1], RefW: kRefW[:1], RefL: kRefL[:1], PrevW: kPrevW[:1], PrevL: kPrevL[:1]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := (kPiW[0] - kPiL[0]) - (kRefW[0]-kRefL[0])/3 - (2.0/3)*(kPrevW[0]-kPrevL[0])
	if want := math.Pow(h-1/(2*0.03), 2); !near(res.Loss, want, 1e-12) {
		t.Errorf("inpo eta=0.03 default tau: loss %v, want %v", res.Loss, want)
	}
}

func TestDNOKnownValues(t *testing.T) {
	// Rosset et al. 2024, Alg. 1 / Eq. 8: with z = eta log(pi(y1)/pi_t(y1)) - eta log(pi(y2)/pi_t(y2))
	// and q = sigmoid(r_1 - r_2), maximise q log sigmoid(z) + (1 - q) log sigmoid(-z).
	const eta = 0.35
	pi1 := []float64{-11.5, -23.25, -8.0}
	pi2 := []float64{-14.0, -21.75, -6.5}
	prev1 := []float64{-12.0, -22.75, -7.25}
	prev2 := []float64{-13.5, -23.0, -6.0}
	r1 := []float64{0.8, 0.25, 0.6}
	r2 := []float64{0.3, 0.55, 0.45}
	d := &DNO{Eta: eta}
	in := &Batch{Pi1: pi1, Pi2: pi2, Prev1: prev1, Prev2: prev2, R1: r1, R2: r2}
	n := 3.0
	w := want{scalar: map[string][]float64{"pi_1": make([]float64, 3), "pi_2": make([]float64, 3)}, metrics: map[string]float64{}}
	for i := range pi1 {
		z := eta*(pi1[i]-prev1[i]) - eta*(pi2[i]-prev2[i])
		q := kSig(r1[i] - r2[i])
		w.loss += -(q*kLogSig(z) + (1-q)*kLogSig(-z)) / n
		// d/dz of the negated objective: -(q (1 - sigmoid(z)) - (1 - q) sigmoid(z)) = sigmoid(z) - q.
		w.scalar["pi_1"][i] = eta * (kSig(z) - q) / n
		w.scalar["pi_2"][i] = -eta * (kSig(z) - q) / n
		w.metrics["z"] += z / n
		w.metrics["q"] += q / n
	}
	checkKnown(t, "dno", d, in, w)
}

func TestDNOPrctKnownValues(t *testing.T) {
	// Rosset et al. 2024, Alg. 2 / Eq. 13: -log sigmoid(eta log(pi(y_w)/pi_t(y_w)) - eta log(pi(y_l)/pi_t(y_l))).
	const eta = 0.35
	d := &DNOPrct{Eta: eta}
	in := &Batch{PiW: kPiW, PiL: kPiL, PrevW: kPrevW, PrevL: kPrevL}
	n := 3.0
	w := want{scalar: map[string][]float64{"pi_w": make([]float64, 3), "pi_l": make([]float64, 3)}}
	var rw, rl []float64
	for i := range kPiW {
		x := eta*(kPiW[i]-kPrevW[i]) - eta*(kPiL[i]-kPrevL[i])
		w.loss += -kLogSig(x) / n
		w.scalar["pi_w"][i] = -eta * (1 - kSig(x)) / n
		w.scalar["pi_l"][i] = eta * (1 - kSig(x)) / n
		rw = append(rw, eta*(kPiW[i]-kPrevW[i]))
		rl = append(rl, eta*(kPiL[i]-kPrevL[i]))
	}
	w.metrics = trlMetrics(rw, rl, kPiW, kPiL)
	checkKnown(t, "dno_prct", d, in, w)
}

func TestSRPOKnownValues(t *testing.T) {
	impW := []float64{-9.5, -18.0, -7.75}
	impL := []float64{-15.25, -20.5, -5.5}
	rimpW := []float64{-10.0, -19.25, -8.5}
	rimpL := []float64{-14.0, -21.0, -6.25}
	selfL := []float64{-13.0, -19.5, -5.0}
	rselfL := []float64{-12.5, -20.25, -6.75}
	for _, c := range []struct{ beta, alpha, p float64 }{{0.3, 0.6, 0.8}, {0.15, 1, 1}, {0.4, 0, 0.9}} {
		s := &SRPO{Beta: c.beta, Alpha: c.alpha, P: c.p}
		in := &Batch{PiW: kPiW, PiL: kPiL, RefW: kRefW, RefL: kRefL, ImpW: impW, ImpL: impL, RimpW: rimpW, RimpL: rimpL}
		self := c.alpha < 1
		if self {
			in.SelfL, in.RselfL = selfL, rselfL
		}
		n := 3.0
		w := want{scalar: map[string][]float64{"pi_w": make([]float64, 3), "pi_l": make([]float64, 3), "imp_w": make([]float64, 3), "imp_l": make([]float64, 3)}}
		if self {
			w.scalar["self_l"] = make([]float64, 3)
		}
		var rw, rl []float64
		sumGen, sumImp := 0.0, 0.0
		for i := range kPiW {
			// The derived SRPO loss (docs/objectives.md, srpo): joint term on the generative and
			// self-improvement log-ratio margins, self-only term on improving y_l into y_w.
			hGen := (kPiW[i] - kRefW[i]) - (kPiL[i] - kRefL[i])
			hImp := (impW[i] - rimpW[i]) - (impL[i] - rimpL[i])
			ej := c.beta*(hImp+hGen) - (2*c.p - 1)
			es := c.beta*((impW[i]-rimpW[i])-(selfL[i]-rselfL[i])) - 0.5
			l := c.alpha * ej * ej
			if self {
				l += (1 - c.alpha) * es * es
			}
			w.loss += l / n
			gj := c.alpha * 2 * c.beta * ej / n
			gs := (1 - c.alpha) * 2 * c.beta * es / n
			w.scalar["pi_w"][i] = gj
			w.scalar["pi_l"][i] = -gj
			w.scalar["imp_l"][i] = -gj
			if self {
				w.scalar["imp_w"][i] = gj + gs
				w.scalar["self_l"][i] = -gs
			} else {
				w.scalar["imp_w"][i] = gj
			}
			sumGen += hGen
			sumImp += hImp
			rw = append(rw, c.beta*(kPiW[i]-kRefW[i]))
			rl = append(rl, c.beta*(kPiL[i]-kRefL[i]))
		}
		w.metrics = trlMetrics(rw, rl, kPiW, kPiL)
		w.metrics["h_gen"] = sumGen / n
		w.metrics["h_imp"] = sumImp / n
		checkKnown(t, "srpo "+fmtNum(c.alpha), s, in, w)
	}
}

func TestAPOKnownValues(t *testing.T) {
	hatW := []float64{-12.25, -22.5, -7.75}
	hatL := []float64{-13.75, -23.5, -6.25}
	hatmW := []float64{-12.75, -22.0, -8.25}
	hatmL := []float64{-13.0, -24.25, -6.75}
	for _, form := range []string{"dpo", "sppo"} {
		const alpha, beta = 0.45, 0.25
		a := &APO{Alpha: alpha, Beta: beta, Form: form}
		in := &Batch{PiW: kPiW, PiL: kPiL, HatW: hatW, HatL: hatL, HatmW: hatmW, HatmL: hatmL}
		n := 3.0
		w := want{scalar: map[string][]float64{"pi_w": make([]float64, 3), "pi_l": make([]float64, 3)}}
		var rw, rl []float64
		for i := range kPiW {
			// He, Yuan, Gu 2024: pi_{t+1} ∝ hat_{t+1} (hat_{t+1}/hat_t)^alpha, so in log space the
			// reference is hat + alpha (hat - hatm).
			refW := hatW[i] + alpha*(hatW[i]-hatmW[i])
			refL := hatL[i] + alpha*(hatL[i]-hatmL[i])
			uw, ul := kPiW[i]-refW, kPiL[i]-refL
			if form == "dpo" {
				x := beta * (uw - ul)
				w.loss += -kLogSig(x) / n
				w.scalar["pi_w"][i] = -beta * kSig(-x) / n
				w.scalar["pi_l"][i] = beta * kSig(-x) / n
			} else {
				w.loss += (math.Pow(uw-1/(2*beta), 2) + math.Pow(ul+1/(2*beta), 2)) / n
				w.scalar["pi_w"][i] = 2 * (uw - 1/(2*beta)) / n
				w.scalar["pi_l"][i] = 2 * (ul + 1/(2*beta)) / n
			}
			rw = append(rw, beta*uw)
			rl = append(rl, beta*ul)
		}
		w.metrics = trlMetrics(rw, rl, kPiW, kPiL)
		checkKnown(t, "apo "+form, a, in, w)
	}
}

func TestHyPOKnownValues(t *testing.T) {
	onPi := [][]float64{{-10.5, -12.0, -9.25, -14.0}, {-20.0}, {-5.5, -7.25, -6.0}}
	onRef := [][]float64{{-11.0, -11.5, -10.0, -12.75}, {-19.25}, {-6.0, -6.5, -7.5}}
	for _, est := range []string{"rloo", "reinforce", "k2"} {
		const beta, lam = 0.3, 0.2
		h := &HyPO{Beta: beta, Lam: lam, KLEstimator: est}
		in := &Batch{PiW: kPiW, PiL: kPiL, RefW: kRefW, RefL: kRefL, OnPi: onPi, OnRef: onRef}
		n := 3.0
		w := want{scalar: map[string][]float64{"pi_w": make([]float64, 3), "pi_l": make([]float64, 3)}, array: map[string][][]float64{}}
		var rw, rl []float64
		dpo, kl := 0.0, 0.0
		for i := range kPiW {
			x := beta * ((kPiW[i] - kRefW[i]) - (kPiL[i] - kRefL[i]))
			dpo += -kLogSig(x) / n
			w.scalar["pi_w"][i] = -beta * kSig(-x) / n
			w.scalar["pi_l"][i] = beta * kSig(-x) / n
			rw = append(rw, beta*(kPiW[i]-kRefW[i]))
			rl = append(rl, beta*(kPiL[i]-kRefL[i]))
			k := float64(len(onPi[i]))
			g := make([]float64, len(onPi[i]))
			ex := 0.0
			for j := range onPi[i] {
				lr := onPi[i][j] - onRef[i][j]
				switch est {
				case "k2":
					ex += lr * lr / 2 / k
					g[j] = lam * lr / k / n
				case "reinforce":
					ex += lr / k
					g[j] = lam * lr / k / n
				case "rloo":
					ex += lr / k
					// Leave-one-out baseline: the mean of the other samples' log-ratios.
					b, m := 0.0, 0.0
					for jj := range onPi[i] {
						if jj != j {
							b += onPi[i][jj] - onRef[i][jj]
							m++
						}
					}
					if m > 0 {
						b /= m
					}
					g[j] = lam * (lr - b) / k / n
				}
			}
			kl += ex / n
			w.array["on_pi"] = append(w.array["on_pi"], g)
		}
		w.loss = dpo + lam*kl
		w.metrics = trlMetrics(rw, rl, kPiW, kPiL)
		w.metrics["dpo_loss"] = dpo
		w.metrics["kl_estimate"] = kl
		checkKnown(t, "hypo "+est, h, in, w)
	}
}

func TestCPLKnownValues(t *testing.T) {
	// Hejna et al. 2023, Eq. 5 with the code's contrastive bias and BC term; the reference form
	// is cpl_kl.py's adv = alpha*(lp - ref_lp). Two examples of unequal lengths.
	tokW := [][]float64{{-0.5, -1.25, -2.0}, {-0.75, -0.25}}
	tokL := [][]float64{{-1.5, -0.5}, {-2.25, -1.0, -0.5, -1.75}}
	trefW := [][]float64{{-0.75, -1.0, -1.5}, {-1.25, -0.5}}
	trefL := [][]float64{{-1.0, -0.75}, {-2.0, -1.5, -0.25, -1.25}}
	cases := []CPL{
		{Alpha: 0.7, Lam: 0.6, Gamma: 0.8, BCCoeff: 0.3, BCData: "all"},
		{Alpha: 1.3, Lam: 0.9, Gamma: 0.95, BCCoeff: 0.4, BCData: "pos", Reference: true},
		{Alpha: 0.5, Lam: 1, Gamma: 1, BCCoeff: 0, BCData: "all", Reference: true},
		{Alpha: 0.7, Lam: 0.6, Gamma: 0.8, BCCoeff: 0.3, BCData: "all", BCOnly: true},
		{Alpha: 0.7, Lam: 0.6, Gamma: 0.8, BCCoeff: 0.3, BCData: "pos", BCOnly: true, Reference: true},
	}
	for ci, c := range cases {
		in := &Batch{TokW: tokW, TokL: tokL}
		if c.Reference {
			in.TrefW, in.TrefL = trefW, trefL
		}
		n := 2.0
		// BC: -(mean over the batch's tokens of the BC data).
		bcNum, bcDen := 0.0, 0.0
		for i := range tokW {
			for _, v := range tokW[i] {
				bcNum += v
				bcDen++
			}
			if c.BCData == "all" {
				for _, v := range tokL[i] {
					bcNum += v
					bcDen++
				}
			}
		}
		bc := -bcNum / bcDen
		w := want{array: map[string][][]float64{}, metrics: map[string]float64{"bc_loss": bc}}
		var rw, rl, pw, pl []float64
		cplLoss := 0.0
		for i := range tokW {
			adv := func(tok, ref []float64) float64 {
				a := 0.0
				for tt := range tok {
					r := 0.0
					if c.Reference {
						r = ref[tt]
					}
					a += math.Pow(c.Gamma, float64(tt)) * (tok[tt] - r)
				}
				return c.Alpha * a
			}
			aw, al := adv(tokW[i], trefW[i]), adv(tokL[i], trefL[i])
			// -log(exp(aw) / (exp(aw) + exp(lam al)))
			cplLoss += -math.Log(math.Exp(aw)/(math.Exp(aw)+math.Exp(c.Lam*al))) / n
			s := math.Exp(c.Lam*al) / (math.Exp(aw) + math.Exp(c.Lam*al)) // sigmoid(-m)
			cw, bcW := 1.0, c.BCCoeff
			if c.BCOnly {
				cw, bcW = 0, 1
			}
			gw := make([]float64, len(tokW[i]))
			for tt := range gw {
				gw[tt] = -cw*s*c.Alpha*math.Pow(c.Gamma, float64(tt))/n - bcW/bcDen
			}
			gl := make([]float64, len(tokL[i]))
			for tt := range gl {
				gl[tt] = cw * s * c.Lam * c.Alpha * math.Pow(c.Gamma, float64(tt)) / n
				if c.BCData == "all" {
					gl[tt] -= bcW / bcDen
				}
			}
			w.array["tok_w"] = append(w.array["tok_w"], gw)
			w.array["tok_l"] = append(w.array["tok_l"], gl)
			rw, rl = append(rw, aw), append(rl, al)
			sw, sl := 0.0, 0.0
			for _, v := range tokW[i] {
				sw += v
			}
			for _, v := range tokL[i] {
				sl += v
			}
			pw, pl = append(pw, sw), append(pl, sl)
			w.metrics["adv_w"] += aw / n
			w.metrics["adv_l"] += al / n
		}
		if c.BCOnly {
			w.loss = bc
		} else {
			w.loss = cplLoss + c.BCCoeff*bc
		}
		for k, v := range trlMetrics(rw, rl, pw, pl) {
			w.metrics[k] = v
		}
		checkKnown(t, "cpl case "+fmtNum(float64(ci)), &c, in, w)
	}
}

func TestCPLRankedKnownValues(t *testing.T) {
	// biased_bce_with_scores: sort ascending by score; each i < j gives softplus(-(adv_j - lam adv_i)).
	toks := [][][]float64{
		{{-1.0, -0.5}, {-0.25, -2.0, -0.75}, {-1.5}, {-0.5, -0.5}},
		{{-2.0}, {-0.25, -0.5}},
	}
	scores := [][]float64{{3, 1, 4, 2}, {1, 7}}
	const alpha, lam, gamma = 0.8, 0.7, 0.9
	c := &CPLRanked{Alpha: alpha, Lam: lam, Gamma: gamma}
	in := &Batch{Toks: toks, Scores: scores}
	w := want{metrics: map[string]float64{}}
	gradToks := make([][][]float64, len(toks))
	acc, pairs := 0.0, 0.0
	for b := range toks {
		k := len(toks[b])
		adv := make([]float64, k)
		for j := range toks[b] {
			for tt, v := range toks[b][j] {
				adv[j] += alpha * math.Pow(gamma, float64(tt)) * v
			}
		}
		gadv := make([]float64, k)
		np := float64(k * (k - 1) / 2)
		ex := 0.0
		for lo := 0; lo < k; lo++ {
			for hi := 0; hi < k; hi++ {
				if scores[b][hi] <= scores[b][lo] {
					continue // distinct scores here: hi is preferred to lo
				}
				mg := adv[hi] - lam*adv[lo]
				ex += math.Log(1 + math.Exp(-mg))
				s := kSig(-mg) / np
				gadv[hi] -= s
				gadv[lo] += lam * s
				if adv[hi] > adv[lo] {
					acc++
				}
				pairs++
			}
		}
		w.loss += ex / np / float64(len(toks))
		gradToks[b] = make([][]float64, k)
		for j := range toks[b] {
			gradToks[b][j] = make([]float64, len(toks[b][j]))
			for tt := range toks[b][j] {
				gradToks[b][j][tt] = gadv[j] * alpha * math.Pow(gamma, float64(tt)) / float64(len(toks))
			}
		}
	}
	w.metrics["rewards/accuracies"] = acc / pairs
	checkKnown(t, "cpl_ranked", c, in, w)
	grad := NewGrad(c, in)
	if _, err := c.Loss(in, grad); err != nil {
		t.Fatal(err)
	}
	for b := range toks {
		for j := range toks[b] {
			for tt := range toks[b][j] {
				if !near(grad.Toks[b][j][tt], gradToks[b][j][tt], 1e-11) {
					t.Errorf("cpl_ranked: dL/dtoks[%d][%d][%d] = %v, want %v", b, j, tt, grad.Toks[b][j][tt], gradToks[b][j][tt])
				}
			}
		}
	}
}

func TestDNOWinRatesMustBeProbabilities(t *testing.T) {
	d := &DNO{Eta: 0.1}
	for _, r := range []float64{-0.01, 1.01, math.NaN()} {
		for k := 0; k < 2; k++ {
			in := &Batch{Pi1: []float64{-3, -4}, Pi2: []float64{-5, -6}, Prev1: []float64{-3, -4}, Prev2: []float64{-5, -6},
				R1: []float64{0.5, 0.5}, R2: []float64{0.5, 0.5}}
			name := "r_1"
			if k == 0 {
				in.R1[1] = r
			} else {
				in.R2[1], name = r, "r_2"
			}
			_, err := d.Loss(in, nil)
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "example 1") {
				t.Errorf("%s = %v: error %v, want one naming %s and example 1", name, r, err, name)
			}
		}
	}
	for _, r := range []float64{0, 1} {
		in := &Batch{Pi1: []float64{-3}, Pi2: []float64{-5}, Prev1: []float64{-3}, Prev2: []float64{-5}, R1: []float64{r}, R2: []float64{1 - r}}
		if _, err := d.Loss(in, nil); err != nil {
			t.Errorf("r = %v: %v", r, err)
		}
	}
}

func TestCPLReferenceShapes(t *testing.T) {
	c := &CPL{Alpha: 1, Lam: 1, Gamma: 1, BCData: "all", Reference: true}
	for _, side := range []string{"tref_w", "tref_l"} {
		in := &Batch{TokW: [][]float64{{-1, -2}, {-1}}, TokL: [][]float64{{-3}, {-1, -1}},
			TrefW: [][]float64{{-1, -2}, {-1}}, TrefL: [][]float64{{-3}, {-1, -1}}}
		if side == "tref_w" {
			in.TrefW[1] = []float64{-1, -1}
		} else {
			in.TrefL[1] = []float64{-1}
		}
		_, err := c.Loss(in, nil)
		if err == nil || !strings.Contains(err.Error(), side) || !strings.Contains(err.Error(), "example 1") {
			t.Errorf("%s of the wrong length: error %v", side, err)
		}
	}
}
