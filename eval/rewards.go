package eval

import "math"

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
