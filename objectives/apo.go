package objectives

// APO is Accelerated Preference Optimization (He, Yuan, Gu 2024, arXiv 2410.06293):
// iterative preference optimisation as a proximal-point method with Nesterov
// extrapolation between iterations. The framework is confirmed; details are derived. At iteration
// t the reference is the extrapolated policy, in log space
//
//	ref = (1 + alpha) hat - alpha hatm
//
// where hat_* are the sequence log-prob sums under the latest checkpoint hat_pi_t and hatm_*
// under the one before (hat_pi_{t-1}). form "dpo": the DPO sigmoid loss with that reference;
// log Z of the extrapolated policy cancels exactly in the pairwise loss, so this is exact.
// form "sppo": TRL's sppo_hard loss with that reference; log Z does not cancel in SPPO's
// per-response loss, so APO-SPPO is an approximation. alpha = 0 recovers iterative DPO with
// reference = the last iterate. Sampling from the extrapolated policy (LoRA-weight extrapolation)
// is the training loop's job and a documented approximation.
//
// Defaults: alpha 0.3 (unverified), beta 0.1, form dpo. Metrics: TRL names with rewards
// beta*(pi - ref).
type APO struct {
	Alpha, Beta float64
	Form        string // dpo | sppo
}

// DefaultAPO returns APO's documented defaults.
func DefaultAPO() APO { return APO{Alpha: 0.3, Beta: 0.1, Form: "dpo"} }

// Name implements Objective.
func (a *APO) Name() string { return "apo" }

// Inputs implements Objective.
func (a *APO) Inputs() []string {
	return []string{"pi_w", "pi_l", "hat_w", "hat_l", "hatm_w", "hatm_l"}
}

// Differentiated implements Objective.
func (a *APO) Differentiated() []string { return []string{"pi_w", "pi_l"} }

// Validate checks the parameters.
func (a *APO) Validate() error {
	if err := inRange(a.Name(), "alpha", a.Alpha, 0, posInf(), false, true); err != nil {
		return err
	}
	if err := positive(a.Name(), "beta", a.Beta); err != nil {
		return err
	}
	return oneOf(a.Name(), "form", a.Form, "dpo", "sppo")
}

// Loss implements Objective.
func (a *APO) Loss(in, grad *Batch) (Result, error) {
	if err := a.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(a, in, grad)
	if err != nil {
		return Result{}, err
	}
	c := pairConst{kind: lossSigmoid, beta: a.Beta, half: 1 / (2 * a.Beta)}
	if a.Form == "sppo" {
		c.kind = lossSPPO
	}
	inv := 1 / float64(max(n, 1))
	var m pairMetrics
	total := 0.0
	for i := 0; i < n; i++ {
		rw := (1+a.Alpha)*in.HatW[i] - a.Alpha*in.HatmW[i]
		rl := (1+a.Alpha)*in.HatL[i] - a.Alpha*in.HatmL[i]
		uw, ul := in.PiW[i]-rw, in.PiL[i]-rl
		l, gw, gl, _, _ := c.loss(uw, ul, uw, ul, 1, 1)
		total += l
		if grad != nil {
			grad.PiW[i] = gw * inv
			grad.PiL[i] = gl * inv
		}
		m.add(a.Beta*uw, a.Beta*ul, in.PiW[i], in.PiL[i])
	}
	out := map[string]float64{}
	m.put(out, n)
	return Result{Loss: total * inv, Metrics: out}, nil
}

func apoInfo() Info {
	return Info{Name: "apo", Summary: "APO: iterative DPO/SPPO with a Nesterov-extrapolated reference (1+alpha)hat - alpha*hatm",
		Paper: "He, Yuan, Gu 2024, Accelerated Preference Optimization, arXiv 2410.06293 (details derived)",
		Params: []Param{
			{Name: "alpha", Type: "float", Default: "0.3", Range: "[0, inf)", Doc: "extrapolation (momentum) weight; 0 = iterative DPO (default unverified)"},
			{Name: "beta", Type: "float", Default: "0.1", Range: "(0, inf)", Doc: "DPO/SPPO beta"},
			{Name: "form", Type: "string", Default: "dpo", Range: "dpo|sppo", Doc: "inner loss: DPO sigmoid (exact) or SPPO hard-label (approximate)"},
		}}
}

func apoFromParams(p *params) (*APO, error) {
	a := &APO{Alpha: p.float("alpha"), Beta: p.float("beta"), Form: p.str("form")}
	if p.err != nil {
		return nil, p.err
	}
	return a, a.Validate()
}
