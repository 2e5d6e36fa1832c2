package objectives

import (
	"math"
	"testing"
)

// Parity with TRL's DPOTrainer loss branches. Each expected value is computed here, in the
// test, by transcribing the branch's formula from TRL's source (trl/trainer/dpo_trainer.py,
// HEAD `_compute_loss`, the `for loss_type in self.loss_types` block; cDPO from v0.12
// `dpo_loss`, lines ~1100-1110) with the textbook, non-stable functions
// sigmoid(x) = 1/(1+exp(-x)) and logsigmoid(x) = log(sigmoid(x)), which are exact enough at
// these moderate inputs. These formulas are written independently of the package's stable code.

func tSig(x float64) float64    { return 1 / (1 + math.Exp(-x)) }
func tLogSig(x float64) float64 { return math.Log(tSig(x)) }

type trlCase struct {
	piW, piL, refW, refL, lenW, lenL float64
}

func trlCases() []trlCase {
	return []trlCase{
		{-12.3, -15.9, -13.1, -14.2, 7, 11},
		{-40.5, -22.25, -38, -25.5, 30, 12},
		{-3, -3.5, -3, -3.5, 2, 3},
		{-80, -60, -70, -75, 50, 45},
	}
}

// trlLoss transcribes TRL's per-sequence loss for one loss_type. beta and ls
// (label_smoothing) as in DPOConfig.
func trlLoss(lt string, beta, ls float64, c trlCase) float64 {
	chosenLogratios := c.piW - c.refW
	rejectedLogratios := c.piL - c.refL
	delta := chosenLogratios - rejectedLogratios // reverse_kl scores
	switch lt {
	case "sigmoid": // v0.12: -logsigmoid(beta*logits)*(1-ls) - logsigmoid(-beta*logits)*ls
		return -tLogSig(beta*delta)*(1-ls) - tLogSig(-beta*delta)*ls
	case "hinge": // torch.relu(1 - beta*delta)
		return math.Max(0, 1-beta*delta)
	case "ipo": // (chosen/len_w - rejected/len_l - 1/(2 beta))^2, lens clamp(min=1)
		d := chosenLogratios/math.Max(c.lenW, 1) - rejectedLogratios/math.Max(c.lenL, 1)
		return math.Pow(d-1/(2*beta), 2)
	case "sigmoid_norm": // -logsigmoid(beta * length-normalised delta)
		d := chosenLogratios/math.Max(c.lenW, 1) - rejectedLogratios/math.Max(c.lenL, 1)
		return -tLogSig(beta * d)
	case "exo_pair": // qw*(log_qw - log_pw) + ql*(log_ql - log_pl), eps = label_smoothing
		qw, ql := tSig(beta*delta), tSig(-beta*delta)
		return qw*(tLogSig(beta*delta)-math.Log1p(-ls)) + ql*(tLogSig(-beta*delta)-math.Log(ls))
	case "nca_pair":
		cr, rr := beta*chosenLogratios, beta*rejectedLogratios
		return -tLogSig(cr) - 0.5*tLogSig(-cr) - 0.5*tLogSig(-rr)
	case "robust": // (clean - flipped)/(1 - 2 ls)
		clean := -(1 - ls) * tLogSig(beta*delta)
		flipped := -ls * tLogSig(-beta*delta)
		return (clean - flipped) / (1 - 2*ls)
	case "bco_pair":
		return -tLogSig(beta*chosenLogratios) - tLogSig(-beta*rejectedLogratios)
	case "sppo_hard":
		return math.Pow(chosenLogratios-0.5/beta, 2) + math.Pow(rejectedLogratios+0.5/beta, 2)
	case "apo_zero":
		return (1 - tSig(beta*chosenLogratios)) + tSig(beta*rejectedLogratios)
	case "apo_down":
		return tSig(beta*chosenLogratios) + (1 - tSig(beta*delta))
	}
	panic(lt)
}

func TestDPOParityWithTRLFormulas(t *testing.T) {
	for _, lt := range DPOLossTypes() {
		for _, ls := range []float64{0, 0.1, 0.3} {
			if lt == "exo_pair" && ls == 0 {
				continue // needs eps > 0
			}
			if ls != 0 && lt != "sigmoid" && lt != "robust" && lt != "exo_pair" {
				continue // label_smoothing only enters these branches
			}
			for _, beta := range []float64{0.1, 0.5} {
				d := &DPO{Beta: beta, LossType: lt, LabelSmoothing: ls}
				for i, c := range trlCases() {
					in := &Batch{PiW: []float64{c.piW}, PiL: []float64{c.piL}, RefW: []float64{c.refW}, RefL: []float64{c.refL},
						LenW: []float64{c.lenW}, LenL: []float64{c.lenL}}
					res, err := d.Loss(in, nil)
					if err != nil {
						t.Fatal(err)
					}
					want := trlLoss(lt, beta, ls, c)
					if math.Abs(res.Loss-want) > 1e-12*math.Max(1, math.Abs(want)) {
						t.Errorf("%s beta=%v ls=%v case %d: loss %.15g, TRL formula %.15g", lt, beta, ls, i, res.Loss, want)
					}
					// TRL's metrics: rewards = beta * logratio; accuracy strict >.
					cr, rr := beta*(c.piW-c.refW), beta*(c.piL-c.refL)
					acc := 0.0
					if cr > rr {
						acc = 1
					}
					if res.Metrics["rewards/chosen"] != cr || res.Metrics["rewards/rejected"] != rr ||
						res.Metrics["rewards/accuracies"] != acc || res.Metrics["logps/chosen"] != c.piW || res.Metrics["logps/rejected"] != c.piL {
						t.Errorf("%s case %d: metrics %v", lt, i, res.Metrics)
					}
				}
			}
		}
	}
}

func TestRewardAccuracyIsStrict(t *testing.T) {
	d := &DPO{Beta: 0.1, LossType: "sigmoid"}
	in := &Batch{PiW: []float64{-5, -4}, PiL: []float64{-5, -6}, RefW: []float64{0, 0}, RefL: []float64{0, 0},
		LenW: []float64{1, 1}, LenL: []float64{1, 1}}
	res, err := d.Loss(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Metrics["rewards/accuracies"] != 0.5 {
		t.Errorf("a tie must count 0: accuracy %v, want 0.5", res.Metrics["rewards/accuracies"])
	}
}

// TestFDPOParityWithTRLFormulas transcribes TRL HEAD's f_divergence_type branch (scores, then
// the sigmoid branch) and v0.12's paper-form alpha-divergence (f_divergence_params
// alpha_divergence_coef; logits = (chosen_exp - rejected_exp)/a with exp(-a u)).
func TestFDPOParityWithTRLFormulas(t *testing.T) {
	for _, c := range trlCases() {
		uw, ul := c.piW-c.refW, c.piL-c.refL
		beta := 0.1
		checks := []struct {
			f    FDPO
			want float64
		}{
			{FDPO{FDivergenceType: "forward_kl"}, -tLogSig(beta * (-math.Exp(-uw) + math.Exp(-ul)))},
			{FDPO{FDivergenceType: "js_divergence"}, -tLogSig(beta * (tLogSig(uw) - tLogSig(ul)))},
			{FDPO{FDivergenceType: "alpha_divergence", FAlphaDivergenceCoef: 0.3, AlphaForm: "trl"},
				-tLogSig(beta * (math.Exp(-0.7*uw)/-0.7 - math.Exp(-0.7*ul)/-0.7))},
			// v0.12 paper form: logits = (exp(-a u_l) - exp(-a u_w)) / a  [scores -exp(-a u)/a]
			{FDPO{FDivergenceType: "alpha_divergence", FAlphaDivergenceCoef: 0.3, AlphaForm: "paper"},
				-tLogSig(beta * (math.Exp(-0.3*ul) - math.Exp(-0.3*uw)) / 0.3)},
			// v0.12 JS: logits = (pi_w-pi_l) - (ref_w-ref_l) - (softplus(u_w) - softplus(u_l))
			{FDPO{FDivergenceType: "js_divergence"}, -tLogSig(beta * ((uw - ul) - (math.Log1p(math.Exp(uw)) - math.Log1p(math.Exp(ul)))))},
		}
		for i, k := range checks {
			k.f.DPO = DefaultDPO()
			k.f.ExpClamp = 80
			if k.f.AlphaForm == "" {
				k.f.AlphaForm = "trl"
			}
			in := &Batch{PiW: []float64{c.piW}, PiL: []float64{c.piL}, RefW: []float64{c.refW}, RefL: []float64{c.refL},
				LenW: []float64{c.lenW}, LenL: []float64{c.lenL}}
			res, err := k.f.Loss(in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(res.Loss-k.want) > 1e-12*math.Max(1, math.Abs(k.want)) {
				t.Errorf("check %d (%s/%s) case %+v: loss %.15g, TRL formula %.15g", i, k.f.FDivergenceType, k.f.AlphaForm, c, res.Loss, k.want)
			}
		}
	}
}

// TestAlphaFormsCoincideAtHalf: the two parametrisations agree only at a = 0.5 (up to the
// dropped additive constant, which cancels).
func TestAlphaFormsCoincideAtHalf(t *testing.T) {
	in := &Batch{PiW: []float64{-12}, PiL: []float64{-15}, RefW: []float64{-13}, RefL: []float64{-14}, LenW: []float64{5}, LenL: []float64{5}}
	get := func(a float64, form string) float64 {
		f := DefaultFDPO()
		f.FDivergenceType, f.FAlphaDivergenceCoef, f.AlphaForm = "alpha_divergence", a, form
		return lossOf(t, &f, in)
	}
	if d := math.Abs(get(0.5, "trl") - get(0.5, "paper")); d > 1e-15 {
		t.Errorf("a = 0.5: forms differ by %v", d)
	}
	if d := math.Abs(get(0.3, "trl") - get(0.7, "paper")); d > 1e-15 {
		t.Errorf("a_trl = 1 - a_paper: forms differ by %v", d)
	}
	if d := math.Abs(get(0.3, "trl") - get(0.3, "paper")); d < 1e-6 {
		t.Errorf("a = 0.3: forms should differ, differ by %v", d)
	}
}

func TestExpClampStaysFinite(t *testing.T) {
	f := DefaultFDPO()
	f.FDivergenceType = "forward_kl"
	f.ReferenceFree = true
	in := &Batch{PiW: []float64{-5000}, PiL: []float64{-4000}, LenW: []float64{1}, LenL: []float64{1}}
	g := NewGrad(&f, in)
	res, err := f.Loss(in, g)
	if err != nil {
		t.Fatal(err)
	}
	// Both exponents (5000, 4000) exceed the clamp c = 80, where exp(t) continues as its tangent
	// e^c (1 + t - c): s_w = -e^80 (1 + 4920), s_l = -e^80 (1 + 3920), x = beta (s_w - s_l) =
	// -0.1 e^80 1000, the loss is softplus(-x) = -x (to double precision), and each score's
	// slope is e^80 with the DPO factor beta sigmoid(-x) = beta.
	e80 := math.Exp(80)
	x := -0.1 * e80 * 1000
	if !near(res.Loss, -x, 1e-12) || !near(g.PiW[0], -0.1*e80, 1e-12) || !near(g.PiL[0], 0.1*e80, 1e-12) {
		t.Errorf("forward KL beyond the clamp: loss %v (want %v) grads %v %v (want %v %v)", res.Loss, -x, g.PiW[0], g.PiL[0], -0.1*e80, 0.1*e80)
	}
}

// TestFDPOExtremeMarginsKeepTheGradient: far beyond the exponent clamp the gradient keeps its
// sign and never shrinks as the chosen log-ratio gets worse (it stays at the clamp's e^c), and
// it matches finite differences of the loss on both sides of the clamp.
func TestFDPOExtremeMarginsKeepTheGradient(t *testing.T) {
	type form struct {
		div, af string
		a       float64
	}
	for _, fm := range []form{{"forward_kl", "trl", 0}, {"alpha_divergence", "trl", 0.3}, {"alpha_divergence", "paper", 0.6}} {
		for _, lt := range []string{"sigmoid", "ipo", "hinge"} {
			f := DefaultFDPO()
			f.FDivergenceType, f.AlphaForm, f.FAlphaDivergenceCoef, f.LossType = fm.div, fm.af, fm.a, lt
			label := fm.div + "/" + fm.af + "/" + lt
			prev := 0.0
			for _, uw := range []float64{-10, -79, -150, -400, -1000, -5000} {
				in := &Batch{PiW: []float64{uw - 20}, PiL: []float64{-18}, RefW: []float64{-20}, RefL: []float64{-20},
					LenW: []float64{1}, LenL: []float64{1}}
				checkFD(t, label+" u_w="+fmtNum(uw), &f, in, nil)
				g := NewGrad(&f, in)
				if _, err := f.Loss(in, g); err != nil {
					t.Fatal(err)
				}
				if lt == "hinge" {
					continue // hinge has no sigmoid factor; covered by checkFD
				}
				if !(g.PiW[0] < 0) || math.Abs(g.PiW[0]) < math.Abs(prev)*(1-1e-12) {
					t.Errorf("%s: u_w = %v: dL/dpi_w = %v after %v: the gradient must stay negative and not shrink", label, uw, g.PiW[0], prev)
				}
				prev = g.PiW[0]
			}
		}
	}
}
