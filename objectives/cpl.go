package objectives

import (
	"cmp"
	"fmt"
	"slices"
)

// CPL is Contrastive Preference Learning (Hejna et al. 2023, arXiv 2310.13639, Eq. 5), following
// the official code ([code] jhejna/cpl research/algs/cpl.py: biased_bce_with_logits,
// CPL._get_cpl_loss, CPL.train_step; research/algs/cpl_kl.py for the reference). A token is an
// action and the completion is the segment:
//
//	adv_s = alpha * sum_t gamma^t * (tok_s[t] - tref_s[t])  (t = 0, 1, ...; tref = 0 unless Reference)
//	m     = adv_w - lam * adv_l                              (lam = contrastive_bias; < 1 is conservative)
//	L_cpl = softplus(-m) = -log(exp(adv_w) / (exp(adv_w) + exp(lam*adv_l)))
//	BC    = -(sum tok_w + sum tok_l)/(T_w + T_l)  ["all"]   or   -sum tok_w / T_w  ["pos"]
//	L     = mean_b L_cpl + bc_coeff * BC                     (BCOnly: L = BC)
//
// The BC term is token-weighted over the whole batch (the code takes the mean over all 2B×S
// tokens), so its sums run over every example's tokens; denominators use max(T, 1). With
// gamma = 1 and no reference, adv = alpha*pi: DPO-like without a reference and with beta replaced
// by alpha. With Reference the inputs gain tref_w, tref_l, the frozen reference's per-token
// log-probs (same lengths as tok_w, tok_l), and the advantage is the KL-regularised
// alpha*log(pi/ref) of cpl_kl.py; BC stays the plain NLL of the policy. Gradients are per token
// (the discount makes them differ along the sequence).
//
// bc_steps is the code's behaviour-cloning warm-up: the training loop runs BCSteps optimizer
// steps on the loss of a copy with BCOnly set (BC alone, weight 1, at a constant learning rate),
// then resets the optimizer and the learning-rate schedule and trains L (docs/objectives.md,
// "cpl"). The loss itself ignores BCSteps.
//
// Defaults (code): alpha 1.0, lam (contrastive_bias) 1.0 in (0, 1], gamma 1.0, bc_coeff 0,
// bc_data all, bc_steps 0, no reference. The code's label y = 1 means the second segment is
// preferred; align always passes the preferred segment as w. Metrics: adv_w, adv_l (means),
// bc_loss, and rewards/* computed from adv (accuracy: adv_w > adv_l, strict), logps/* = mean
// summed tok.
type CPL struct {
	Alpha   float64
	Lam     float64
	Gamma   float64
	BCCoeff float64
	BCData  string // all | pos
	// BCSteps is the number of BC-only warm-up steps (the training loop's; >= 0).
	BCSteps int
	// Reference adds the inputs tref_w, tref_l and subtracts them in the advantage.
	Reference bool
	// BCOnly makes the loss the BC term alone (weight 1): the bc_steps warm-up.
	BCOnly bool
}

// DefaultCPL returns CPL with the official code's defaults.
func DefaultCPL() CPL { return CPL{Alpha: 1, Lam: 1, Gamma: 1, BCData: "all"} }

// Name implements Objective.
func (c *CPL) Name() string { return "cpl" }

// Inputs implements Objective.
func (c *CPL) Inputs() []string {
	if c.Reference {
		return []string{"tok_w", "tok_l", "tref_w", "tref_l"}
	}
	return []string{"tok_w", "tok_l"}
}

// Differentiated implements Objective.
func (c *CPL) Differentiated() []string { return []string{"tok_w", "tok_l"} }

func validateCPLCore(obj string, alpha, lam, gamma float64) error {
	if err := positive(obj, "alpha", alpha); err != nil {
		return err
	}
	if err := inRange(obj, "lam", lam, 0, 1, true, false); err != nil {
		return err
	}
	return inRange(obj, "gamma", gamma, 0, 1, true, false)
}

// Validate checks the parameters.
func (c *CPL) Validate() error {
	if err := validateCPLCore(c.Name(), c.Alpha, c.Lam, c.Gamma); err != nil {
		return err
	}
	if err := inRange(c.Name(), "bc_coeff", c.BCCoeff, 0, posInf(), false, true); err != nil {
		return err
	}
	if c.BCSteps < 0 {
		return fmt.Errorf("objectives: cpl: bc_steps must be >= 0, got %d", c.BCSteps)
	}
	return oneOf(c.Name(), "bc_data", c.BCData, "all", "pos")
}

// discounted returns sum_t gamma^t (x[t] - ref[t]); ref may be nil (0).
func discounted(x, ref []float64, gamma float64) float64 {
	s, g := 0.0, 1.0
	for t, v := range x {
		if ref != nil {
			v -= ref[t]
		}
		s += g * v
		g *= gamma
	}
	return s
}

func sum(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s
}

// Loss implements Objective.
func (c *CPL) Loss(in, grad *Batch) (Result, error) {
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(c, in, grad)
	if err != nil {
		return Result{}, err
	}
	if c.Reference {
		for i := 0; i < n; i++ {
			if err := sameLen(c.Name(), "tok_w", "tref_w", i, in.TokW[i], in.TrefW[i]); err != nil {
				return Result{}, err
			}
			if err := sameLen(c.Name(), "tok_l", "tref_l", i, in.TokL[i], in.TrefL[i]); err != nil {
				return Result{}, err
			}
		}
	}
	inv := 1 / float64(max(n, 1))
	pos := c.BCData == "pos"
	// BC denominators first: the BC gradient of every token depends on the batch's token count.
	bcNum, bcDen := 0.0, 0.0
	for i := 0; i < n; i++ {
		bcNum += sum(in.TokW[i])
		bcDen += float64(len(in.TokW[i]))
		if !pos {
			bcNum += sum(in.TokL[i])
			bcDen += float64(len(in.TokL[i]))
		}
	}
	bcDen = nlen(bcDen)
	bc := -bcNum / bcDen
	coeff, cplW := c.BCCoeff, 1.0
	if c.BCOnly {
		coeff, cplW = 1, 0
	}
	gBC := -coeff / bcDen
	var m pairMetrics
	total, sumAdvW, sumAdvL := 0.0, 0.0, 0.0
	for i := 0; i < n; i++ {
		tw, tl := in.TokW[i], in.TokL[i]
		var rw, rl []float64
		if c.Reference {
			rw, rl = in.TrefW[i], in.TrefL[i]
		}
		advW := c.Alpha * discounted(tw, rw, c.Gamma)
		advL := c.Alpha * discounted(tl, rl, c.Gamma)
		mg := advW - c.Lam*advL
		total += softplus(-mg)
		sumAdvW += advW
		sumAdvL += advL
		m.add(advW, advL, sum(tw), sum(tl))
		if grad == nil {
			continue
		}
		s := sigmoid(-mg) * c.Alpha * inv * cplW
		gw, gl := grad.TokW[i], grad.TokL[i]
		g := 1.0
		for t := range gw {
			gw[t] = -s*g + gBC
			g *= c.Gamma
		}
		bcL := gBC
		if pos {
			bcL = 0
		}
		g = 1.0
		for t := range gl {
			gl[t] = s*c.Lam*g + bcL
			g *= c.Gamma
		}
	}
	out := map[string]float64{"adv_w": sumAdvW * inv, "adv_l": sumAdvL * inv, "bc_loss": bc}
	m.put(out, n)
	return Result{Loss: cplW*total*inv + coeff*bc, Metrics: out}, nil
}

func cplParams(bc bool) []Param {
	ps := []Param{
		{Name: "alpha", Type: "float", Default: "1.0", Range: "(0, inf)", Doc: "temperature of the advantage alpha*log pi"},
		{Name: "lam", Type: "float", Default: "1.0", Range: "(0, 1]", Doc: "contrastive_bias lambda on the rejected advantage; < 1 is conservative"},
		{Name: "gamma", Type: "float", Default: "1.0", Range: "(0, 1]", Doc: "per-token discount of the advantage sum"},
	}
	if bc {
		ps = append(ps,
			Param{Name: "bc_coeff", Type: "float", Default: "0", Range: "[0, inf)", Doc: "weight of the behaviour-cloning (NLL) term"},
			Param{Name: "bc_data", Type: "string", Default: "all", Range: "all|pos", Doc: "BC over chosen and rejected tokens (all) or chosen only (pos)"},
			Param{Name: "bc_steps", Type: "int", Default: "0", Range: "[0, inf)", Doc: "optimizer steps of BC-only warm-up before CPL; then the optimizer and LR schedule restart"},
			Param{Name: "reference", Type: "bool", Default: "false", Range: "true|false", Doc: "subtract the reference's per-token log-probs tref_w, tref_l: adv = alpha*log(pi/ref) (cpl_kl.py)"})
	}
	return ps
}

func cplInfo() Info {
	return Info{Name: "cpl", Summary: "CPL: contrastive preference learning on per-token log-probs, with discount, conservative bias and BC",
		Paper: "Hejna et al. 2023, Contrastive Preference Learning, arXiv 2310.13639, Eq. 5 (code: jhejna/cpl)", Params: cplParams(true)}
}

func cplFromParams(p *params) (*CPL, error) {
	c := &CPL{Alpha: p.float("alpha"), Lam: p.float("lam"), Gamma: p.float("gamma"), BCCoeff: p.float("bc_coeff"), BCData: p.str("bc_data"),
		BCSteps: p.int("bc_steps"), Reference: p.bool("reference")}
	if p.err != nil {
		return nil, p.err
	}
	return c, c.Validate()
}

// CPLRanked is CPL over a ranked list of K >= 2 segments per example ([code] jhejna/cpl
// biased_bce_with_scores): sort the segments by score ascending (stable:
// ties keep their input order, and the later one counts as preferred, as the code's sort makes
// one of them so), then every pair i < j in that order contributes softplus(-(adv_j - lam*adv_i)),
// and the example's loss is the mean over the K(K-1)/2 pairs. The code masks pairs whose loss is
// exactly 0 out of the mean; align keeps every pair (they differ only when softplus underflows
// to 0, at margins above about 745). The batch loss is the mean over examples. Parameters: alpha,
// lam, gamma as in CPL (no BC term). Metrics: rewards/accuracies is the fraction of pairs with
// adv_j > adv_i.
type CPLRanked struct {
	Alpha, Lam, Gamma float64
}

// Name implements Objective.
func (c *CPLRanked) Name() string { return "cpl_ranked" }

// Inputs implements Objective.
func (c *CPLRanked) Inputs() []string { return []string{"toks", "scores"} }

// Differentiated implements Objective.
func (c *CPLRanked) Differentiated() []string { return []string{"toks"} }

// Validate checks the parameters.
func (c *CPLRanked) Validate() error { return validateCPLCore(c.Name(), c.Alpha, c.Lam, c.Gamma) }

// Loss implements Objective.
func (c *CPLRanked) Loss(in, grad *Batch) (Result, error) {
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(c, in, grad)
	if err != nil {
		return Result{}, err
	}
	inv := 1 / float64(max(n, 1))
	total, acc, pairs := 0.0, 0.0, 0.0
	var idx []int
	var adv, gadv []float64
	for b := 0; b < n; b++ {
		segs, scores := in.Toks[b], in.Scores[b]
		k := len(segs)
		if k != len(scores) {
			return Result{}, fmt.Errorf("objectives: %s: example %d: toks has %d segments but scores has %d", c.Name(), b, k, len(scores))
		}
		if k < 2 {
			return Result{}, fmt.Errorf("objectives: %s: example %d: a ranked list needs at least 2 segments, got %d", c.Name(), b, k)
		}
		idx, adv, gadv = idx[:0], adv[:0], gadv[:0]
		for j := 0; j < k; j++ {
			idx = append(idx, j)
			adv = append(adv, c.Alpha*discounted(segs[j], nil, c.Gamma))
			gadv = append(gadv, 0)
		}
		slices.SortStableFunc(idx, func(x, y int) int { return cmp.Compare(scores[x], scores[y]) })
		np := float64(k * (k - 1) / 2)
		ex := 0.0
		for i := 0; i < k; i++ {
			for j := i + 1; j < k; j++ {
				lo, hi := idx[i], idx[j]
				mg := adv[hi] - c.Lam*adv[lo]
				ex += softplus(-mg)
				if adv[hi] > adv[lo] {
					acc++
				}
				s := sigmoid(-mg) / np
				gadv[hi] -= s
				gadv[lo] += c.Lam * s
			}
		}
		pairs += np
		total += ex / np
		if grad == nil {
			continue
		}
		for j := 0; j < k; j++ {
			g := gadv[j] * c.Alpha * inv
			d := 1.0
			for t := range grad.Toks[b][j] {
				grad.Toks[b][j][t] = g * d
				d *= c.Gamma
			}
		}
	}
	out := map[string]float64{"rewards/accuracies": acc / nlen(pairs)}
	return Result{Loss: total * inv, Metrics: out}, nil
}

func cplRankedInfo() Info {
	return Info{Name: "cpl_ranked", Summary: "CPL over ranked lists: every lower/higher-scored pair of segments",
		Paper: "Hejna et al. 2023, Contrastive Preference Learning, arXiv 2310.13639 (code: biased_bce_with_scores)", Params: cplParams(false)}
}

func cplRankedFromParams(p *params) (*CPLRanked, error) {
	c := &CPLRanked{Alpha: p.float("alpha"), Lam: p.float("lam"), Gamma: p.float("gamma")}
	if p.err != nil {
		return nil, p.err
	}
	return c, c.Validate()
}
