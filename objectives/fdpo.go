package objectives

import "math"

// FDPO is f-DPO (Wang et al. 2023, "Beyond Reverse KL: Generalizing Direct Preference
// Optimization with Diverse Divergence Constraints", arXiv 2309.16240): the DPO loss with the
// log-ratio u replaced by a score psi(u) = f'(e^u) with constants dropped ([code] TRL HEAD dpo_trainer.py f_divergence_type branch):
//
//	reverse_kl        psi(u) = u                       (plain DPO)
//	forward_kl        psi(u) = -exp(-u)
//	js_divergence     psi(u) = logsig(u)
//	alpha_divergence  alpha_form "trl"  (TRL >= 0.2x): psi(u) = exp((a-1)u)/(a-1), a = 1 → reverse KL
//	                  alpha_form "paper" (paper, TRL <= 0.19): psi(u) = -exp(-a u)/a
//
// The two alpha forms coincide only at a = 0.5 (a_trl = 1 - a_paper). The exponent t is
// computed exactly up to exp_clamp = c (TRL: 80 for fp32/bf16; its clamp table has no float64
// entry); beyond it exp(t) continues along its tangent e^c (1 + t - c), so the score stays
// finite and its gradient keeps its sign and its largest size e^c. TRL HEAD's torch.clamp gives
// such entries gradient 0 instead, and its forward KL has no clamp (fp32 overflows near
// u = -88); align applies the same continuation to forward KL and both alpha forms
// (docs/objectives.md, "f_dpo"). Every DPO loss_type composes with psi, as in TRL HEAD. Metrics use the raw log-ratios.
//
// Defaults: f_divergence_type reverse_kl, f_alpha_divergence_coef 0.5 (TRL HEAD; v0.12 used 1.0
// in the paper form), alpha_form trl, exp_clamp 80, and DPO's beta 0.1, loss_type sigmoid.
type FDPO struct {
	DPO
	FDivergenceType      string
	FAlphaDivergenceCoef float64
	AlphaForm            string
	ExpClamp             float64
}

// DefaultFDPO returns f-DPO with TRL's defaults.
func DefaultFDPO() FDPO {
	return FDPO{DPO: DefaultDPO(), FDivergenceType: "reverse_kl", FAlphaDivergenceCoef: 0.5, AlphaForm: "trl", ExpClamp: 80}
}

// Name implements Objective.
func (f *FDPO) Name() string { return "f_dpo" }

// Inputs implements Objective.
func (f *FDPO) Inputs() []string { return f.DPO.Inputs() }

// Differentiated implements Objective.
func (f *FDPO) Differentiated() []string { return []string{"pi_w", "pi_l"} }

func (f *FDPO) psi() (psi, error) {
	name := f.Name()
	if err := oneOf(name, "f_divergence_type", f.FDivergenceType, "reverse_kl", "forward_kl", "js_divergence", "alpha_divergence"); err != nil {
		return psi{}, err
	}
	if err := oneOf(name, "alpha_form", f.AlphaForm, "trl", "paper"); err != nil {
		return psi{}, err
	}
	if err := inRange(name, "exp_clamp", f.ExpClamp, 0, 700, true, false); err != nil {
		return psi{}, err
	}
	a := f.FAlphaDivergenceCoef
	p := psi{clamp: f.ExpClamp, a: a}
	switch f.FDivergenceType {
	case "reverse_kl":
		p.kind = psiIdentity
	case "forward_kl":
		p.kind, p.mul, p.coef = psiForwardKL, -1, -1
	case "js_divergence":
		p.kind = psiJS
	case "alpha_divergence":
		if f.AlphaForm == "paper" {
			if err := inRange(name, "f_alpha_divergence_coef (alpha_form paper)", a, 0, 1, true, true); err != nil {
				return psi{}, err
			}
			p.kind, p.mul, p.coef = psiAlphaPaper, -a, -1/a
			break
		}
		if err := inRange(name, "f_alpha_divergence_coef (alpha_form trl)", a, 0, 1, false, false); err != nil {
			return psi{}, err
		}
		if math.Abs(a-1) < 1e-6 {
			// TRL's limit case: f'(t) → log t, i.e. reverse KL.
			p.kind = psiIdentity
			break
		}
		p.kind, p.mul, p.coef = psiAlphaTRL, a-1, 1/(a-1)
	}
	return p, nil
}

// Validate checks the parameters.
func (f *FDPO) Validate() error {
	if _, err := newPairConst(f.Name(), f.LossType, f.Beta, f.LabelSmoothing); err != nil {
		return err
	}
	_, err := f.psi()
	return err
}

// Loss implements Objective.
func (f *FDPO) Loss(in, grad *Batch) (Result, error) {
	c, err := newPairConst(f.Name(), f.LossType, f.Beta, f.LabelSmoothing)
	if err != nil {
		return Result{}, err
	}
	p, err := f.psi()
	if err != nil {
		return Result{}, err
	}
	return dpoLoss(f, &c, &p, f.ReferenceFree, in, grad)
}

func fdpoInfo() Info {
	ps := append(dpoParams(),
		Param{Name: "f_divergence_type", Type: "string", Default: "reverse_kl", Range: "reverse_kl|forward_kl|js_divergence|alpha_divergence", Doc: "the f-divergence whose f' replaces the log-ratio"},
		Param{Name: "f_alpha_divergence_coef", Type: "float", Default: "0.5", Range: "trl form [0, 1]; paper form (0, 1)", Doc: "alpha of the alpha-divergence"},
		Param{Name: "alpha_form", Type: "string", Default: "trl", Range: "trl|paper", Doc: "alpha parametrisation: trl exp((a-1)u)/(a-1), paper -exp(-a u)/a (a_trl = 1 - a_paper)"},
		Param{Name: "exp_clamp", Type: "float", Default: "80", Range: "(0, 700]", Doc: "largest exponent computed exactly (TRL fp32: 80); beyond it the score continues linearly, keeping its gradient e^exp_clamp"},
	)
	return Info{Name: "f_dpo", Summary: "f-DPO: DPO with forward KL, Jensen-Shannon or alpha-divergence scores",
		Paper: "Wang et al. 2023, Beyond Reverse KL, arXiv 2309.16240 (f'-based DPO loss)", Params: ps}
}

func fdpoFromParams(p *params) (*FDPO, error) {
	d, err := dpoFromParamsNoValidate(p)
	if err != nil {
		return nil, err
	}
	f := &FDPO{DPO: *d, FDivergenceType: p.str("f_divergence_type"), FAlphaDivergenceCoef: p.float("f_alpha_divergence_coef"),
		AlphaForm: p.str("alpha_form"), ExpClamp: p.float("exp_clamp")}
	if p.err != nil {
		return nil, p.err
	}
	return f, f.Validate()
}

func dpoFromParamsNoValidate(p *params) (*DPO, error) {
	d := &DPO{Beta: p.float("beta"), LossType: p.str("loss_type"), LabelSmoothing: p.float("label_smoothing"), ReferenceFree: p.bool("reference_free")}
	return d, p.err
}
