package objectives

// SimPO is Simple Preference Optimization (Meng, Xia, Chen 2024, arXiv 2405.14734, Eq. 6),
// following the official trainer ([code] princeton-nlp/SimPO scripts/simpo_trainer.py
// simpo_loss, simpo_config.py). No reference model. With a = pi/n the average
// log-prob (n = max(len, 1); the official code divides by the raw token count and would give
// NaN for an empty completion):
//
//	h = a_w - a_l - gamma_beta_ratio          (the paper's beta*h = beta(a_w - a_l) - gamma)
//	sigmoid: L = -(1-eps) logsig(beta h) - eps logsig(-beta h)
//	hinge:   L = max(0, 1 - beta h)
//	L_batch = mean_b L_b + sft_weight * NLL_w,  NLL_w = -sum_b pi_w_b / sum_b n_w_b
//
// The SFT term is token-weighted across the batch (cross-entropy over all chosen tokens), so it
// is not a per-example mean; with one example it is -pi_w/n_w. Defaults (SimPOConfig): beta 2.0,
// gamma_beta_ratio 0.25 (the README suggests starting at 0.5), sft_weight 0, label_smoothing 0,
// loss_type sigmoid. Metrics: rewards/chosen = beta*a_w, logps/chosen = a_w (averaged), and
// nll_loss.
//
// TRL's CPOTrainer with loss_type "simpo" computes the same loss with gamma = simpo_gamma and
// cpo_alpha = 0.
type SimPO struct {
	Beta           float64
	GammaBetaRatio float64
	SFTWeight      float64
	LabelSmoothing float64
	LossType       string // sigmoid | hinge
}

// DefaultSimPO returns SimPO with SimPOConfig's defaults.
func DefaultSimPO() SimPO {
	return SimPO{Beta: 2.0, GammaBetaRatio: 0.25, LossType: "sigmoid"}
}

// Name implements Objective.
func (s *SimPO) Name() string { return "simpo" }

// Inputs implements Objective.
func (s *SimPO) Inputs() []string { return []string{"pi_w", "pi_l", "len_w", "len_l"} }

// Differentiated implements Objective.
func (s *SimPO) Differentiated() []string { return []string{"pi_w", "pi_l"} }

// Validate checks the parameters.
func (s *SimPO) Validate() error {
	n := s.Name()
	if err := positive(n, "beta", s.Beta); err != nil {
		return err
	}
	if err := finite(n, "gamma_beta_ratio", s.GammaBetaRatio); err != nil {
		return err
	}
	if err := inRange(n, "sft_weight", s.SFTWeight, 0, posInf(), false, true); err != nil {
		return err
	}
	if err := inRange(n, "label_smoothing", s.LabelSmoothing, 0, 0.5, false, true); err != nil {
		return err
	}
	return oneOf(n, "loss_type", s.LossType, "sigmoid", "hinge")
}

// Loss implements Objective.
func (s *SimPO) Loss(in, grad *Batch) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(s, in, grad)
	if err != nil {
		return Result{}, err
	}
	inv := 1 / float64(max(n, 1))
	beta, eps, hinge := s.Beta, s.LabelSmoothing, s.LossType == "hinge"
	var m pairMetrics
	sum, sumPiW, sumNW := 0.0, 0.0, 0.0
	for i := 0; i < n; i++ {
		nw, nl := nlen(in.LenW[i]), nlen(in.LenL[i])
		aw, al := in.PiW[i]/nw, in.PiL[i]/nl
		x := beta * (aw - al - s.GammaBetaRatio)
		var l, dx float64 // dx = dL/dx
		switch {
		case hinge:
			if x < 1 {
				l, dx = 1-x, -1
			}
		case eps == 0:
			var s float64
			l, s = softplusSigmoidNeg(x)
			dx = -s
		default:
			l = (1-eps)*softplus(-x) + eps*softplus(x)
			dx = sigmoid(x) - (1 - eps)
		}
		sum += l
		if grad != nil {
			grad.PiW[i] = beta * dx * inv / nw
			grad.PiL[i] = -beta * dx * inv / nl
		}
		sumPiW += in.PiW[i]
		sumNW += nw
		m.add(beta*aw, beta*al, aw, al)
	}
	loss := sum * inv
	nll := 0.0
	if n > 0 {
		nll = -sumPiW / sumNW
	}
	if s.SFTWeight != 0 {
		loss += s.SFTWeight * nll
		if grad != nil {
			g := s.SFTWeight / sumNW
			for i := 0; i < n; i++ {
				grad.PiW[i] -= g
			}
		}
	}
	out := map[string]float64{"nll_loss": nll}
	m.put(out, n)
	return Result{Loss: loss, Metrics: out}, nil
}

func simpoInfo() Info {
	return Info{Name: "simpo", Summary: "SimPO: reference-free, length-normalised margin loss with a target margin",
		Paper: "Meng, Xia, Chen 2024, SimPO, arXiv 2405.14734, Eq. 6",
		Params: []Param{
			{Name: "beta", Type: "float", Default: "2.0", Range: "(0, inf)", Doc: "reward scale (released configs use 2.0-10)"},
			{Name: "gamma_beta_ratio", Type: "float", Default: "0.25", Range: "finite", Doc: "target margin gamma divided by beta (README: start at 0.5)"},
			{Name: "sft_weight", Type: "float", Default: "0", Range: "[0, inf)", Doc: "weight of the token-weighted NLL on chosen completions"},
			{Name: "label_smoothing", Type: "float", Default: "0", Range: "[0, 0.5)", Doc: "cDPO-style label smoothing (sigmoid only)"},
			{Name: "loss_type", Type: "string", Default: "sigmoid", Range: "sigmoid|hinge", Doc: "loss on the margin"},
		}}
}

func simpoFromParams(p *params) (*SimPO, error) {
	s := &SimPO{Beta: p.float("beta"), GammaBetaRatio: p.float("gamma_beta_ratio"), SFTWeight: p.float("sft_weight"),
		LabelSmoothing: p.float("label_smoothing"), LossType: p.str("loss_type")}
	if p.err != nil {
		return nil, p.err
	}
	return s, s.Validate()
}
