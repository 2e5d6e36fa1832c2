package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"

	"github.com/alignkit/align/data"
)

// RewardResult holds DPO's implicit-reward metrics of a trained policy on held-out pairs, under
// TRL's names: the implicit reward of a response is r = β·(log π(y|x) − log π_ref(y|x)),
// rewards/accuracies is the share of pairs with r_chosen > r_rejected, rewards/margins the mean
// of r_chosen − r_rejected.
type RewardResult struct {
	N            int     `json:"n"`
	Beta         float64 `json:"beta"`
	Accuracy     float64 `json:"rewards/accuracies"`
	MarginMean   float64 `json:"rewards/margins"`
	MarginStd    float64 `json:"rewards/margins_std"`
	ChosenMean   float64 `json:"rewards/chosen"`
	RejectedMean float64 `json:"rewards/rejected"`
	// Ties counts pairs with exactly equal rewards; TRL counts them as not accurate.
	Ties int `json:"ties"`
}

// RewardStats computes the implicit-reward metrics from per-pair sequence log-probabilities of
// the policy and the reference (chosen and rejected), all of the same length.
func RewardStats(beta float64, policyChosen, policyRejected, refChosen, refRejected []float64) RewardResult {
	n := len(policyChosen)
	res := RewardResult{N: n, Beta: beta}
	var acc, margins, ch, rj []float64
	for i := 0; i < n; i++ {
		rc := beta * (policyChosen[i] - refChosen[i])
		rr := beta * (policyRejected[i] - refRejected[i])
		ch = append(ch, rc)
		rj = append(rj, rr)
		margins = append(margins, rc-rr)
		acc = append(acc, b2f(rc > rr))
		if rc == rr {
			res.Ties++
		}
	}
	res.Accuracy = mean(acc)
	res.MarginMean = mean(margins)
	res.MarginStd = stdDDOF1(margins)
	if n < 2 {
		res.MarginStd = math.NaN()
	}
	res.ChosenMean = mean(ch)
	res.RejectedMean = mean(rj)
	return res
}

// ScoreFunc returns the summed log-probability of response given prompt under one model.
type ScoreFunc func(prompt, response []data.Message) (float64, error)

// PairReward is one held-out pair's log-probabilities and implicit rewards.
type PairReward struct {
	ID             string  `json:"id"`
	PolicyChosen   float64 `json:"policy_chosen_logp"`
	PolicyRejected float64 `json:"policy_rejected_logp"`
	RefChosen      float64 `json:"reference_chosen_logp"`
	RefRejected    float64 `json:"reference_rejected_logp"`
	RewardChosen   float64 `json:"reward_chosen"`
	RewardRejected float64 `json:"reward_rejected"`
	Margin         float64 `json:"margin"`
}

// ImplicitRewards scores every pair's chosen and rejected responses under the policy and the
// reference (ref nil: reference-free, log-probs 0) and computes RewardStats.
func ImplicitRewards(pairs []data.Pair, beta float64, policy, ref ScoreFunc) (RewardResult, []PairReward, error) {
	var pc, pr, rc, rr []float64
	var rows []PairReward
	for i, p := range pairs {
		var v [4]float64
		var err error
		if v[0], err = policy(p.Prompt, p.Chosen); err != nil {
			return RewardResult{}, nil, fmt.Errorf("eval: rewards: pair %d (%s) chosen: %w", i, p.ID, err)
		}
		if v[1], err = policy(p.Prompt, p.Rejected); err != nil {
			return RewardResult{}, nil, fmt.Errorf("eval: rewards: pair %d (%s) rejected: %w", i, p.ID, err)
		}
		if ref != nil {
			if v[2], err = ref(p.Prompt, p.Chosen); err != nil {
				return RewardResult{}, nil, fmt.Errorf("eval: rewards: pair %d (%s) reference chosen: %w", i, p.ID, err)
			}
			if v[3], err = ref(p.Prompt, p.Rejected); err != nil {
				return RewardResult{}, nil, fmt.Errorf("eval: rewards: pair %d (%s) reference rejected: %w", i, p.ID, err)
			}
		}
		pc, pr, rc, rr = append(pc, v[0]), append(pr, v[1]), append(rc, v[2]), append(rr, v[3])
		row := PairReward{ID: p.ID, PolicyChosen: v[0], PolicyRejected: v[1], RefChosen: v[2], RefRejected: v[3],
			RewardChosen: beta * (v[0] - v[2]), RewardRejected: beta * (v[1] - v[3])}
		row.Margin = row.RewardChosen - row.RewardRejected
		rows = append(rows, row)
	}
	return RewardStats(beta, pc, pr, rc, rr), rows, nil
}

// RunRewards computes the implicit rewards of pairs (ImplicitRewards) and, when out is set,
// writes report.json, report.html and rewards.jsonl (one row per pair) there, atomically.
func RunRewards(pairs []data.Pair, beta float64, policy, ref ScoreFunc, out string, source map[string]string) (RewardResult, error) {
	res, rows, err := ImplicitRewards(pairs, beta, policy, ref)
	if err != nil || out == "" {
		return res, err
	}
	rep := &Report{Kind: "rewards", Rewards: &res, Source: source}
	if err := rep.Write(out); err != nil {
		return res, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, row := range rows {
		if err := enc.Encode(JSONValue(row)); err != nil {
			return res, fmt.Errorf("eval: rewards.jsonl: %w", err)
		}
	}
	return res, writeAtomic(filepath.Join(out, "rewards.jsonl"), b.Bytes())
}
