package objectives

import "fmt"

// HyPO is Hybrid Preference Optimization (Song et al., NeurIPS 2024, "The Importance of Online
// Data", arXiv 2406.01462; structure confirmed; docs/objectives.md, "hypo"): offline DPO plus a KL penalty
// estimated on k unlabelled online samples y_j ~ pi(.|x) (no judge or reward model):
//
//	L = L_DPO(offline pair; beta) + lam * KL_hat,   lr_j = on_pi_j - on_ref_j
//
// kl_estimator:
//   - "rloo" (the paper's, default): reported KL_hat = mean_j lr_j; the score-function gradient
//     dL/don_pi_j = lam (lr_j - b_j)/k with the leave-one-out baseline b_j = mean_{i≠j} lr_i
//     (b = 0 when k = 1). This gradient is NOT the derivative of the reported value.
//   - "reinforce": the same without the baseline: KL_hat = mean_j lr_j, gradient lam lr_j/k (also
//     a score-function estimate, not the derivative of the reported value).
//   - "k2": KL_hat = mean_j lr_j^2/2 with its exact gradient lam lr_j/k (an option only).
//
// Defaults (the paper's values are unverified): beta 0.1, lam 0.05, kl_estimator rloo; the
// training loop draws k = 4 samples. Each example needs k >= 1 samples (on_pi and on_ref of equal
// length). Not to be confused with a different 2025 method also called HyPO. Metrics: TRL names
// for the DPO part, dpo_loss and kl_estimate (batch means).
type HyPO struct {
	Beta, Lam   float64
	KLEstimator string // rloo | reinforce | k2
}

// DefaultHyPO returns HyPO's documented defaults.
func DefaultHyPO() HyPO { return HyPO{Beta: 0.1, Lam: 0.05, KLEstimator: "rloo"} }

// Name implements Objective.
func (h *HyPO) Name() string { return "hypo" }

// Inputs implements Objective.
func (h *HyPO) Inputs() []string {
	return []string{"pi_w", "pi_l", "ref_w", "ref_l", "on_pi", "on_ref"}
}

// Differentiated implements Objective.
func (h *HyPO) Differentiated() []string { return []string{"pi_w", "pi_l", "on_pi"} }

// Validate checks the parameters.
func (h *HyPO) Validate() error {
	if err := positive(h.Name(), "beta", h.Beta); err != nil {
		return err
	}
	if err := inRange(h.Name(), "lam", h.Lam, 0, posInf(), false, true); err != nil {
		return err
	}
	return oneOf(h.Name(), "kl_estimator", h.KLEstimator, "rloo", "reinforce", "k2")
}

// Loss implements Objective.
func (h *HyPO) Loss(in, grad *Batch) (Result, error) {
	if err := h.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(h, in, grad)
	if err != nil {
		return Result{}, err
	}
	for b := 0; b < n; b++ {
		if err := sameLen(h.Name(), "on_pi", "on_ref", b, in.OnPi[b], in.OnRef[b]); err != nil {
			return Result{}, err
		}
		if len(in.OnPi[b]) == 0 {
			return Result{}, fmt.Errorf("objectives: hypo: example %d has no online samples (on_pi is empty)", b)
		}
	}
	c := pairConst{kind: lossSigmoid, beta: h.Beta}
	var gw, gl []float64
	if grad != nil {
		gw, gl = grad.PiW, grad.PiL
	}
	var m pairMetrics
	dpo := pairBatch(&c, &psi{}, in.PiW, in.PiL, in.RefW, in.RefL, nil, nil, gw, gl, n, &m)
	inv := 1 / float64(max(n, 1))
	kl := 0.0
	for b := 0; b < n; b++ {
		op, or := in.OnPi[b], in.OnRef[b]
		k := float64(len(op))
		sumLR, est := 0.0, 0.0
		for j := range op {
			lr := op[j] - or[j]
			sumLR += lr
			if h.KLEstimator == "k2" {
				est += 0.5 * lr * lr
			} else {
				est += lr
			}
		}
		kl += est / k
		if grad == nil {
			continue
		}
		g := grad.OnPi[b]
		for j := range op {
			lr := op[j] - or[j]
			base := 0.0
			if h.KLEstimator == "rloo" && len(op) > 1 {
				base = (sumLR - lr) / (k - 1)
			}
			g[j] = h.Lam * (lr - base) / k * inv
		}
	}
	out := map[string]float64{"dpo_loss": dpo * inv, "kl_estimate": kl * inv}
	m.put(out, n)
	return Result{Loss: (dpo + h.Lam*kl) * inv, Metrics: out}, nil
}

func hypoInfo() Info {
	return Info{Name: "hypo", Summary: "HyPO: offline DPO + lam * KL(pi||ref) estimated on unlabelled online samples",
		Paper: "Song et al. 2024, Hybrid Preference Optimization, arXiv 2406.01462",
		Params: []Param{
			{Name: "beta", Type: "float", Default: "0.1", Range: "(0, inf)", Doc: "DPO beta (paper value unverified)"},
			{Name: "lam", Type: "float", Default: "0.05", Range: "[0, inf)", Doc: "weight of the KL term (paper value unverified)"},
			{Name: "kl_estimator", Type: "string", Default: "rloo", Range: "rloo|reinforce|k2", Doc: "KL estimator and its gradient"},
		}}
}

func hypoFromParams(p *params) (*HyPO, error) {
	h := &HyPO{Beta: p.float("beta"), Lam: p.float("lam"), KLEstimator: p.str("kl_estimator")}
	if p.err != nil {
		return nil, p.err
	}
	return h, h.Validate()
}
