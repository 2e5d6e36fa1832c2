package objectives

import (
	"fmt"
	"math"
)

// RewardModel is TRL RewardTrainer's loss for a scalar reward model (the Bradley–Terry loss of
// InstructGPT, Ouyang et al. 2022, arXiv 2203.02155, eq. 1): per pair,
//
//	ℓ = −log σ(r_c − r_r − m)
//
// with r_c and r_r the rewards of the chosen and rejected responses and m the pair's margin
// (the dataset's optional `margin` column; 0 without one, as TRL does when the column is
// absent). The batch loss is the mean of ℓ plus, when CenterRewardsCoefficient is set, TRL's
// centring term coef · mean((r_c + r_r)²) (Eisenstein et al. 2023, arXiv 2312.09244), which
// pulls the rewards towards mean zero.
//
// As an Objective (registry name "reward") it reads r_chosen, r_rejected and margin and
// differentiates the two rewards; the training loop feeds it the reward head's outputs
// (model.RewardHead) rather than log-probs.
type RewardModel struct {
	// CenterRewardsCoefficient is TRL's center_rewards_coefficient; 0 means off (TRL's None).
	CenterRewardsCoefficient float64
}

func rewardInfo() Info {
	return Info{Name: "reward", Summary: "reward model (TRL RewardTrainer): -log sigmoid(r_chosen - r_rejected - margin) on a scalar head",
		Paper: "Ouyang et al. 2022, InstructGPT, arXiv 2203.02155, eq. 1; centring: Eisenstein et al. 2023, arXiv 2312.09244",
		Params: []Param{{Name: "center_rewards_coefficient", Type: "float", Default: "0", Range: "[0, inf)",
			Doc: "TRL's center_rewards_coefficient: weight of mean((r_c + r_r)^2); 0 = off"}}}
}

func rewardFromParams(p *params) (*RewardModel, error) {
	o := &RewardModel{CenterRewardsCoefficient: p.float("center_rewards_coefficient")}
	if p.err != nil {
		return nil, p.err
	}
	return o, inRange(o.Name(), "center_rewards_coefficient", o.CenterRewardsCoefficient, 0, posInf(), false, true)
}

// Name implements Objective.
func (o *RewardModel) Name() string { return "reward" }

// Inputs implements Objective.
func (o *RewardModel) Inputs() []string { return []string{"r_chosen", "r_rejected", "margin"} }

// Differentiated implements Objective.
func (o *RewardModel) Differentiated() []string { return []string{"r_chosen", "r_rejected"} }

// Loss implements Objective: Pairs over in's r_chosen, r_rejected and margin columns, the
// gradients into grad's r_chosen and r_rejected.
func (o *RewardModel) Loss(in, grad *Batch) (Result, error) {
	if _, err := prepare(o, in, grad); err != nil {
		return Result{}, err
	}
	var gc, gr []float64
	if grad != nil {
		gc, gr = grad.RC, grad.RR
	}
	return o.Pairs(in.RC, in.RR, in.Margin, gc, gr)
}

// Pairs returns the batch loss and TRL's metrics for rewards rc (chosen) and rr (rejected) and
// the per-pair margins (nil: none), and, when gc and gr are not nil, writes dL/dr_c and dL/dr_r
// into them. Metrics: accuracy (the share of pairs with r_c > r_r), margin (mean r_c − r_r),
// rewards/chosen and rewards/rejected (means), and min_reward, mean_reward, max_reward over
// all 2n rewards.
func (o *RewardModel) Pairs(rc, rr, margin, gc, gr []float64) (Result, error) {
	n := len(rc)
	switch {
	case n == 0:
		return Result{}, fmt.Errorf("reward: empty batch")
	case len(rr) != n:
		return Result{}, fmt.Errorf("reward: %d chosen rewards, %d rejected", n, len(rr))
	case margin != nil && len(margin) != n:
		return Result{}, fmt.Errorf("reward: %d margins for %d pairs", len(margin), n)
	case gc != nil && len(gc) != n || gr != nil && len(gr) != n:
		return Result{}, fmt.Errorf("reward: gradient buffers of %d and %d for %d pairs", len(gc), len(gr), n)
	case math.IsNaN(o.CenterRewardsCoefficient) || o.CenterRewardsCoefficient < 0:
		return Result{}, fmt.Errorf("reward: center_rewards_coefficient must be ≥ 0 (got %g)", o.CenterRewardsCoefficient)
	}
	fn := float64(n)
	var loss, acc, gap, sc, sr, center float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i < n; i++ {
		if math.IsNaN(rc[i]) || math.IsNaN(rr[i]) || math.IsInf(rc[i], 0) || math.IsInf(rr[i], 0) {
			return Result{}, fmt.Errorf("reward: pair %d: reward %g / %g is not finite", i, rc[i], rr[i])
		}
		var m float64
		if margin != nil {
			m = margin[i]
		}
		z := rc[i] - rr[i] - m
		loss -= logsig(z)
		s := rc[i] + rr[i]
		center += s * s
		// d(−log σ(z))/dz = −σ(−z), and dz/dr_c = 1, dz/dr_r = −1; the centring term adds
		// 2·coef·s/n to both.
		pull, push := sigmoid(-z)/fn, 2*o.CenterRewardsCoefficient*s/fn
		if gc != nil {
			gc[i] = -pull + push
		}
		if gr != nil {
			gr[i] = pull + push
		}
		if rc[i] > rr[i] {
			acc++
		}
		gap += rc[i] - rr[i]
		sc += rc[i]
		sr += rr[i]
		lo = min(lo, rc[i], rr[i])
		hi = max(hi, rc[i], rr[i])
	}
	total := loss/fn + o.CenterRewardsCoefficient*center/fn
	return Result{Loss: total, Metrics: map[string]float64{
		"accuracy":         acc / fn,
		"margin":           gap / fn,
		"rewards/chosen":   sc / fn,
		"rewards/rejected": sr / fn,
		"min_reward":       lo,
		"mean_reward":      (sc + sr) / (2 * fn),
		"max_reward":       hi,
	}}, nil
}
