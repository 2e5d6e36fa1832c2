package objectives

import "fmt"

// INPO is Iterative Nash Policy Optimization (Zhang et al., ICLR 2025, arXiv 2407.00617, Eq. 8
// and Alg. 1; confirmed from the paper), in the paper's parametrisation: eta is
// the inverse learning rate of online mirror descent, tau the KL-regularisation strength.
//
//	h = (pi_w - pi_l) - (tau/eta)(ref_w - ref_l) - (1 - tau/eta)(prev_w - prev_l)
//	L = (h - 1/(2 eta))^2,   dL/dpi_w = 2(h - 1/(2 eta)) = -dL/dpi_l
//
// prev is the previous iterate pi_t (the sampler, and the second anchor); ref the frozen SFT
// model. Paper values: eta 0.005, tau = eta/3 (align's default when tau is not given), T = 3
// iterations; "INPO w/o KL" is tau = 0. tau must lie in [0, eta], so that the anchor is a convex
// mix of ref and prev (align's restriction). Metrics: h (mean), and TRL names with the implicit
// rewards eta*(pi - anchor), anchor = (tau/eta) ref + (1 - tau/eta) prev.
type INPO struct {
	Eta, Tau float64
}

// DefaultINPO returns the paper's values.
func DefaultINPO() INPO { return INPO{Eta: 0.005, Tau: 0.005 / 3} }

// Name implements Objective.
func (o *INPO) Name() string { return "inpo" }

// Inputs implements Objective.
func (o *INPO) Inputs() []string {
	return []string{"pi_w", "pi_l", "ref_w", "ref_l", "prev_w", "prev_l"}
}

// Differentiated implements Objective.
func (o *INPO) Differentiated() []string { return []string{"pi_w", "pi_l"} }

// Validate checks the parameters.
func (o *INPO) Validate() error {
	if err := positive(o.Name(), "eta", o.Eta); err != nil {
		return err
	}
	if !(o.Tau >= 0 && o.Tau <= o.Eta) {
		return fmt.Errorf("objectives: inpo: tau must lie in [0, eta] = [0, %v], got %v", o.Eta, o.Tau)
	}
	return nil
}

// Loss implements Objective.
func (o *INPO) Loss(in, grad *Batch) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(o, in, grad)
	if err != nil {
		return Result{}, err
	}
	inv := 1 / float64(max(n, 1))
	k := o.Tau / o.Eta
	target := 1 / (2 * o.Eta)
	var m pairMetrics
	total, sumH := 0.0, 0.0
	for i := 0; i < n; i++ {
		aw := k*in.RefW[i] + (1-k)*in.PrevW[i]
		al := k*in.RefL[i] + (1-k)*in.PrevL[i]
		h := (in.PiW[i] - aw) - (in.PiL[i] - al)
		e := h - target
		total += e * e
		sumH += h
		if grad != nil {
			grad.PiW[i] = 2 * e * inv
			grad.PiL[i] = -2 * e * inv
		}
		m.add(o.Eta*(in.PiW[i]-aw), o.Eta*(in.PiL[i]-al), in.PiW[i], in.PiL[i])
	}
	out := map[string]float64{"h": sumH * inv}
	m.put(out, n)
	return Result{Loss: total * inv, Metrics: out}, nil
}

func inpoInfo() Info {
	return Info{Name: "inpo", Summary: "INPO: squared loss toward 1/(2 eta) on the margin over a ref/prev anchor",
		Paper: "Zhang et al. 2025, Iterative Nash Policy Optimization, arXiv 2407.00617, Eq. 8",
		Params: []Param{
			{Name: "eta", Type: "float", Default: "0.005", Range: "(0, inf)", Doc: "inverse learning rate of online mirror descent"},
			{Name: "tau", Type: "float", Default: "eta/3", Range: "[0, eta]", Doc: "KL-regularisation strength (0 = INPO w/o KL)"},
		}}
}

func inpoFromParams(p *params) (*INPO, error) {
	o := &INPO{Eta: p.float("eta")}
	if p.set("tau") {
		o.Tau = p.float("tau")
	} else {
		o.Tau = o.Eta / 3
	}
	if p.err != nil {
		return nil, p.err
	}
	return o, o.Validate()
}
