package objectives

import (
	"fmt"
	"math"
)

// DPO is Direct Preference Optimization (Rafailov et al. 2023, arXiv 2305.18290, Eq. 7) with
// every per-example loss_type of TRL's DPOTrainer ([code] trl
// trl/trainer/dpo_trainer.py loss branches and trl/trainer/dpo_config.py). With
// u = pi - ref (the log-ratio), d = u_w - u_l and x = beta*d:
//
//	sigmoid       -logsig(x); with label_smoothing eps > 0 it is cDPO (Mitchell 2023):
//	              -(1-eps)logsig(x) - eps*logsig(-x). TRL <= 0.2x and CPOTrainer do this;
//	              TRL HEAD's sigmoid branch ignores eps.
//	robust        rDPO (Chowdhury et al. 2024, arXiv 2403.00409):
//	              (-(1-eps)logsig(x) + eps*logsig(-x))/(1-2eps)
//	hinge         SLiC (Zhao et al. 2023): max(0, 1-x); gradient 0 at the kink, as torch.relu
//	ipo           IPO (Azar et al. 2023, Eq. 17) length-normalised as TRL does:
//	              (dd - 1/(2 beta))^2, dd = u_w/n_w - u_l/n_l, n = max(len, 1)
//	sigmoid_norm  -logsig(beta*dd) with the same dd
//	exo_pair      EXO (Ji et al. 2024, arXiv 2402.00856, Eq. 16), eps = label_smoothing > 0
//	              (paper: 1e-3): q_w(logsig(x)-log(1-eps)) + q_l(logsig(-x)-log eps)
//	nca_pair      NCA (Chen et al. 2024, arXiv 2402.05369), r = beta*u:
//	              -logsig(r_w) - 0.5 logsig(-r_w) - 0.5 logsig(-r_l)
//	bco_pair      BCO (Jung et al. 2024) as in TRL HEAD (no running reward mean):
//	              -logsig(r_w) - logsig(-r_l)
//	sppo_hard     SPPO hard labels (Wu et al. 2024, arXiv 2405.00675):
//	              (u_w - 1/(2beta))^2 + (u_l + 1/(2beta))^2
//	apo_zero      Anchored PO (D'Oosterlinck et al. 2024, arXiv 2408.06266, Eq. 7):
//	              1 - sigmoid(beta u_w) + sigmoid(beta u_l)
//	apo_down      Anchored PO Eq. 8: sigmoid(beta u_w) + 1 - sigmoid(x)
//
// reference_free sets ref = 0 (the ref_* inputs are then not read). Defaults (DPOConfig):
// beta 0.1, loss_type sigmoid, label_smoothing 0, reference_free false. The batch loss is the
// mean over examples. Metrics: TRL's rewards/chosen = beta*u_w, rewards/rejected = beta*u_l,
// rewards/accuracies (strict >), rewards/margins, logps/chosen = mean pi_w, logps/rejected.
type DPO struct {
	Beta           float64
	LossType       string
	LabelSmoothing float64
	ReferenceFree  bool
}

// DefaultDPO returns DPO with TRL's defaults.
func DefaultDPO() DPO { return DPO{Beta: 0.1, LossType: "sigmoid"} }

// DPOLossTypes lists the loss_type values DPO accepts, in TRL's order.
func DPOLossTypes() []string {
	return []string{"sigmoid", "robust", "hinge", "ipo", "sigmoid_norm", "exo_pair", "nca_pair",
		"bco_pair", "sppo_hard", "apo_zero", "apo_down"}
}

type lossKind uint8

const (
	lossSigmoid lossKind = iota
	lossRobust
	lossHinge
	lossIPO
	lossSigmoidNorm
	lossExo
	lossNCA
	lossBCO
	lossSPPO
	lossAPOZero
	lossAPODown
)

// pairConst holds one loss type's constants, computed once per batch.
type pairConst struct {
	kind     lossKind
	beta     float64
	eps      float64
	half     float64 // 1/(2 beta)
	robustK  float64 // 1/(1-2eps)
	exoShift float64 // log((1-eps)/eps)
	exoLogW  float64 // log(1-eps)
	exoLogL  float64 // log(eps)
}

func newPairConst(obj, lossType string, beta, eps float64) (pairConst, error) {
	if err := positive(obj, "beta", beta); err != nil {
		return pairConst{}, err
	}
	if err := inRange(obj, "label_smoothing", eps, 0, 0.5, false, true); err != nil {
		return pairConst{}, err
	}
	c := pairConst{beta: beta, eps: eps, half: 1 / (2 * beta)}
	found := false
	for i, name := range DPOLossTypes() {
		if name == lossType {
			c.kind, found = lossKind(i), true
		}
	}
	if !found {
		return pairConst{}, oneOf(obj, "loss_type", lossType, DPOLossTypes()...)
	}
	switch c.kind {
	case lossRobust:
		c.robustK = 1 / (1 - 2*eps)
	case lossExo:
		if eps <= 0 {
			return pairConst{}, fmt.Errorf("objectives: %s: loss_type exo_pair needs label_smoothing > 0 (the EXO paper uses 1e-3)", obj)
		}
		c.exoShift = math.Log((1 - eps) / eps)
		c.exoLogW = math.Log1p(-eps)
		c.exoLogL = math.Log(eps)
	}
	return c, nil
}

// loss returns one example's loss and its partial derivatives: gsw, gsl w.r.t. the scores
// s_w, s_l (s = psi(u); psi is the identity for DPO), and guw, gul w.r.t. the raw log-ratios
// u_w, u_l (only apo_zero and apo_down use u directly, as TRL HEAD does). nw, nl are the
// guarded lengths.
func (c *pairConst) loss(sw, sl, uw, ul, nw, nl float64) (loss, gsw, gsl, guw, gul float64) {
	b := c.beta
	switch c.kind {
	case lossSigmoid:
		x := b * (sw - sl)
		if c.eps == 0 {
			l, s := softplusSigmoidNeg(x)
			return l, -b * s, b * s, 0, 0
		}
		loss = (1-c.eps)*softplus(-x) + c.eps*softplus(x)
		g := b * (sigmoid(x) - (1 - c.eps))
		return loss, g, -g, 0, 0
	case lossRobust:
		x := b * (sw - sl)
		loss = ((1-c.eps)*softplus(-x) - c.eps*softplus(x)) * c.robustK
		g := b * ((1-2*c.eps)*sigmoid(x) - (1 - c.eps)) * c.robustK
		return loss, g, -g, 0, 0
	case lossHinge:
		x := b * (sw - sl)
		if x < 1 {
			return 1 - x, -b, b, 0, 0
		}
		return 0, 0, 0, 0, 0
	case lossIPO:
		dd := sw/nw - sl/nl
		e := dd - c.half
		return e * e, 2 * e / nw, -2 * e / nl, 0, 0
	case lossSigmoidNorm:
		z := b * (sw/nw - sl/nl)
		s := sigmoid(-z)
		return softplus(-z), -b * s / nw, b * s / nl, 0, 0
	case lossExo:
		x := b * (sw - sl)
		qw, ql := sigmoid(x), sigmoid(-x)
		loss = qw*(-softplus(-x)-c.exoLogW) + ql*(-softplus(x)-c.exoLogL)
		g := b * qw * ql * (x - c.exoShift)
		return loss, g, -g, 0, 0
	case lossNCA:
		rw, rl := b*sw, b*sl
		loss = softplus(-rw) + 0.5*softplus(rw) + 0.5*softplus(rl)
		return loss, b * (-sigmoid(-rw) + 0.5*sigmoid(rw)), 0.5 * b * sigmoid(rl), 0, 0
	case lossBCO:
		rw, rl := b*sw, b*sl
		return softplus(-rw) + softplus(rl), -b * sigmoid(-rw), b * sigmoid(rl), 0, 0
	case lossSPPO:
		ew, el := sw-c.half, sl+c.half
		return ew*ew + el*el, 2 * ew, 2 * el, 0, 0
	case lossAPOZero:
		pw, pl := sigmoid(b*uw), sigmoid(b*ul)
		// 1 - sigmoid(z) is written sigmoid(-z) to keep precision.
		loss = sigmoid(-b*uw) + pl
		return loss, 0, 0, -b * pw * (1 - pw), b * pl * (1 - pl)
	case lossAPODown:
		pw := sigmoid(b * uw)
		x := b * (sw - sl)
		px, qx := sigmoid(x), sigmoid(-x)
		loss = pw + qx
		g := -b * px * qx
		return loss, g, -g, b * pw * (1 - pw), 0
	}
	return 0, 0, 0, 0, 0
}

// psi is the f-DPO score map (Wang et al. 2023, arXiv 2309.16240; docs/objectives.md, "f_dpo"); psiIdentity is plain DPO.
type psi struct {
	kind  uint8 // psiIdentity, psiForwardKL, psiJS, psiAlphaTRL, psiAlphaPaper
	a     float64
	coef  float64 // 1/(a-1) for the trl form, -1/a for the paper form, -1 for forward KL
	mul   float64 // exponent multiplier: a-1 (trl) or -a (paper) or -1 (forward KL)
	clamp float64 // largest exponent computed exactly; the score is linear in t beyond it
}

const (
	psiIdentity uint8 = iota
	psiForwardKL
	psiJS
	psiAlphaTRL
	psiAlphaPaper
)

// apply returns psi(u) and psi'(u). For the exponential scores (forward KL and both alpha
// forms) psi(u) = coef*E(t) and psi'(u) = E'(t)*coef*mul = E'(t), with t = mul*u and E = exp up
// to t = p.clamp; beyond it E continues along its tangent, E(t) = e^c (1 + t - c), so that the
// score stays finite and its derivative keeps its sign and stays at its largest value e^c
// instead of dropping to 0 (docs/objectives.md, "f_dpo": the exponent clamp).
func (p *psi) apply(u float64) (s, ds float64) {
	switch p.kind {
	case psiForwardKL, psiAlphaTRL, psiAlphaPaper:
		t := p.mul * u
		if t > p.clamp {
			e := math.Exp(p.clamp)
			return e * (1 + t - p.clamp) * p.coef, e
		}
		e := math.Exp(t)
		return e * p.coef, e
	case psiJS:
		return logsig(u), sigmoid(-u)
	}
	return u, 1
}

// pairBatch runs the pairwise loss over a batch. ref columns may be nil (reference-free), len
// columns may be nil (treated as 1). It writes the mean-reduced gradients w.r.t. pi_w/pi_l into
// gw, gl when they are not nil, and returns the summed loss. rewardScale multiplies the raw
// log-ratios for the rewards/* metrics (beta for DPO).
func pairBatch(c *pairConst, f *psi, piW, piL, refW, refL, lenW, lenL, gw, gl []float64, n int, m *pairMetrics) float64 {
	if c.kind == lossSigmoid && c.eps == 0 && f.kind == psiIdentity {
		return sigmoidBatch(c.beta, piW, piL, refW, refL, gw, gl, n, m)
	}
	inv := 1 / float64(max(n, 1))
	sum := 0.0
	for i := 0; i < n; i++ {
		uw, ul := piW[i], piL[i]
		if refW != nil {
			uw -= refW[i]
			ul -= refL[i]
		}
		nw, nl := 1.0, 1.0
		if lenW != nil {
			nw, nl = nlen(lenW[i]), nlen(lenL[i])
		}
		sw, dw, sl, dl := uw, 1.0, ul, 1.0
		if f.kind != psiIdentity {
			sw, dw = f.apply(uw)
			sl, dl = f.apply(ul)
		}
		l, gsw, gsl, guw, gul := c.loss(sw, sl, uw, ul, nw, nl)
		sum += l
		if gw != nil {
			gw[i] = (gsw*dw + guw) * inv
			gl[i] = (gsl*dl + gul) * inv
		}
		m.add(c.beta*uw, c.beta*ul, piW[i], piL[i])
	}
	return sum
}

// Name implements Objective.
func (d *DPO) Name() string { return "dpo" }

// Inputs implements Objective. With reference_free the ref_* inputs are not read.
func (d *DPO) Inputs() []string {
	if d.ReferenceFree {
		return []string{"pi_w", "pi_l", "len_w", "len_l"}
	}
	return []string{"pi_w", "pi_l", "ref_w", "ref_l", "len_w", "len_l"}
}

// Differentiated implements Objective.
func (d *DPO) Differentiated() []string { return []string{"pi_w", "pi_l"} }

// Validate checks the parameters.
func (d *DPO) Validate() error {
	_, err := newPairConst(d.Name(), d.LossType, d.Beta, d.LabelSmoothing)
	return err
}

// Loss implements Objective.
func (d *DPO) Loss(in, grad *Batch) (Result, error) {
	c, err := newPairConst(d.Name(), d.LossType, d.Beta, d.LabelSmoothing)
	if err != nil {
		return Result{}, err
	}
	return dpoLoss(d, &c, &psi{}, d.ReferenceFree, in, grad)
}

func dpoLoss(obj Objective, c *pairConst, f *psi, refFree bool, in, grad *Batch) (Result, error) {
	n, err := prepare(obj, in, grad)
	if err != nil {
		return Result{}, err
	}
	refW, refL := in.RefW, in.RefL
	if refFree {
		refW, refL = nil, nil
	}
	var gw, gl []float64
	if grad != nil {
		gw, gl = grad.PiW, grad.PiL
	}
	var m pairMetrics
	sum := pairBatch(c, f, in.PiW, in.PiL, refW, refL, in.LenW, in.LenL, gw, gl, n, &m)
	out := map[string]float64{}
	m.put(out, n)
	return Result{Loss: sum / float64(max(n, 1)), Metrics: out}, nil
}

func dpoParams() []Param {
	return []Param{
		{Name: "beta", Type: "float", Default: "0.1", Range: "(0, inf)", Doc: "inverse temperature; for ipo it is the regulariser tau"},
		{Name: "loss_type", Type: "string", Default: "sigmoid", Range: "sigmoid|robust|hinge|ipo|sigmoid_norm|exo_pair|nca_pair|bco_pair|sppo_hard|apo_zero|apo_down", Doc: "TRL DPOTrainer loss branch"},
		{Name: "label_smoothing", Type: "float", Default: "0", Range: "[0, 0.5)", Doc: "cDPO/robust label-noise eps; EXO's eps for exo_pair (must be > 0, paper 1e-3)"},
		{Name: "reference_free", Type: "bool", Default: "false", Range: "true|false", Doc: "use ref = 0 (the ref_* inputs are then not read)"},
	}
}

func dpoInfo() Info {
	return Info{Name: "dpo", Summary: "DPO with TRL's loss types (cDPO, robust, hinge, ipo, sigmoid_norm, exo_pair, nca_pair, bco_pair, sppo_hard, apo_zero, apo_down)",
		Paper: "Rafailov et al. 2023, Direct Preference Optimization, arXiv 2305.18290, Eq. 7", Params: dpoParams()}
}

func dpoFromParams(p *params) (*DPO, error) {
	d := &DPO{Beta: p.float("beta"), LossType: p.str("loss_type"), LabelSmoothing: p.float("label_smoothing"), ReferenceFree: p.bool("reference_free")}
	if p.err != nil {
		return nil, p.err
	}
	return d, d.Validate()
}

// sigmoidBatch is pairBatch's fast path for plain DPO (sigmoid, no smoothing, identity psi), the
// hot case of training: one exp, one log and one division per example, sharing e = exp(-|x|)
// between softplus(-x) = max(-x, 0) + log1p(e) and sigmoid(-x).
func sigmoidBatch(beta float64, piW, piL, refW, refL, gw, gl []float64, n int, m *pairMetrics) float64 {
	inv := 1 / float64(max(n, 1))
	piW, piL = piW[:n], piL[:n]
	if refW != nil {
		refW, refL = refW[:n], refL[:n]
	}
	if gw != nil {
		gw, gl = gw[:n], gl[:n]
	}
	sum, rw, rl, acc, pw, pl := 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
	for i := 0; i < n; i++ {
		uw, ul := piW[i], piL[i]
		pw += uw
		pl += ul
		if refW != nil {
			uw -= refW[i]
			ul -= refL[i]
		}
		rw += uw
		rl += ul
		if uw > ul {
			acc++
		}
		l, s := softplusSigmoidNeg(beta * (uw - ul))
		sum += l
		if gw != nil {
			g := beta * s * inv
			gw[i] = -g
			gl[i] = g
		}
	}
	m.rw += beta * rw
	m.rl += beta * rl
	m.acc += acc
	m.pw += pw
	m.pl += pl
	return sum
}
