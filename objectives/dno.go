package objectives

import (
	"fmt"
	"math"
)

// DNO is the theoretical Direct Nash Optimization loss (Rosset et al. 2024, arXiv 2404.03715,
// Alg. 1, Eq. 8; confirmed from the paper, OBJECTIVES.md §6): a soft-label regression of the
// policy's log-ratio margin over the previous iterate pi_t onto the oracle's win rates.
//
//	z = eta((pi_1 - prev_1) - (pi_2 - prev_2)),   q = sigmoid(r_1 - r_2)
//	L = -(q logsig(z) + (1-q) logsig(-z)),        dL/dpi_1 = eta(sigmoid(z) - q) = -dL/dpi_2
//
// r_i is y_i's win rate against pi_t as estimated by the oracle (not differentiated). Default
// eta 0.1 (the value the paper uses for DNO-Prct). Metrics: z and q (means); the TRL reward
// metrics do not apply, as neither response is labelled chosen.
type DNO struct {
	Eta float64
}

// Name implements Objective.
func (d *DNO) Name() string { return "dno" }

// Inputs implements Objective.
func (d *DNO) Inputs() []string { return []string{"pi_1", "pi_2", "prev_1", "prev_2", "r_1", "r_2"} }

// Differentiated implements Objective.
func (d *DNO) Differentiated() []string { return []string{"pi_1", "pi_2"} }

// Validate checks the parameters.
func (d *DNO) Validate() error { return positive(d.Name(), "eta", d.Eta) }

// Loss implements Objective.
func (d *DNO) Loss(in, grad *Batch) (Result, error) {
	if err := d.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(d, in, grad)
	if err != nil {
		return Result{}, err
	}
	for i := 0; i < n; i++ {
		if err := winRate("r_1", i, in.R1[i]); err != nil {
			return Result{}, err
		}
		if err := winRate("r_2", i, in.R2[i]); err != nil {
			return Result{}, err
		}
	}
	inv := 1 / float64(max(n, 1))
	total, sumZ, sumQ := 0.0, 0.0, 0.0
	for i := 0; i < n; i++ {
		z := d.Eta * ((in.Pi1[i] - in.Prev1[i]) - (in.Pi2[i] - in.Prev2[i]))
		q := sigmoid(in.R1[i] - in.R2[i])
		total += q*softplus(-z) + (1-q)*softplus(z)
		sumZ += z
		sumQ += q
		if grad != nil {
			g := d.Eta * (sigmoid(z) - q) * inv
			grad.Pi1[i] = g
			grad.Pi2[i] = -g
		}
	}
	return Result{Loss: total * inv, Metrics: map[string]float64{"z": sumZ * inv, "q": sumQ * inv}}, nil
}

// winRate checks that a DNO soft label is a win rate, a probability in [0, 1].
func winRate(name string, i int, r float64) error {
	if !(r >= 0 && r <= 1) {
		return fmt.Errorf("objectives: dno: example %d: %s = %v is not a win rate in [0, 1]", i, name, r)
	}
	return nil
}

func dnoInfo() Info {
	return Info{Name: "dno", Summary: "DNO (theoretical): soft-label regression of the margin over pi_t onto oracle win rates",
		Paper:  "Rosset et al. 2024, Direct Nash Optimization, arXiv 2404.03715, Alg. 1, Eq. 8",
		Params: []Param{{Name: "eta", Type: "float", Default: "0.1", Range: "(0, inf)", Doc: "scale of the log-ratio margin"}}}
}

func dnoFromParams(p *params) (*DNO, error) {
	d := &DNO{Eta: p.float("eta")}
	if p.err != nil {
		return nil, p.err
	}
	return d, d.Validate()
}

// DNOPrct is DNO-Prct (Rosset et al. 2024, Alg. 2, Eq. 13; OBJECTIVES.md §6): DPO with the
// previous iterate pi_t as reference and beta = eta (0.1 or 0.05 in the paper):
//
//	L = -logsig(eta(pi_w - prev_w) - eta(pi_l - prev_l))
//
// Pairs come from DNOPairs, with DNOReplayCounts for the replay of earlier iterations'
// pairs. Default eta 0.1. Metrics: TRL names with rewards eta*(pi - prev).
type DNOPrct struct {
	Eta float64
}

// Name implements Objective.
func (d *DNOPrct) Name() string { return "dno_prct" }

// Inputs implements Objective.
func (d *DNOPrct) Inputs() []string { return []string{"pi_w", "pi_l", "prev_w", "prev_l"} }

// Differentiated implements Objective.
func (d *DNOPrct) Differentiated() []string { return []string{"pi_w", "pi_l"} }

// Validate checks the parameters.
func (d *DNOPrct) Validate() error { return positive(d.Name(), "eta", d.Eta) }

// Loss implements Objective.
func (d *DNOPrct) Loss(in, grad *Batch) (Result, error) {
	if err := d.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(d, in, grad)
	if err != nil {
		return Result{}, err
	}
	c := pairConst{kind: lossSigmoid, beta: d.Eta}
	var gw, gl []float64
	if grad != nil {
		gw, gl = grad.PiW, grad.PiL
	}
	var m pairMetrics
	total := pairBatch(&c, &psi{}, in.PiW, in.PiL, in.PrevW, in.PrevL, nil, nil, gw, gl, n, &m)
	out := map[string]float64{}
	m.put(out, n)
	return Result{Loss: total / float64(max(n, 1)), Metrics: out}, nil
}

func dnoPrctInfo() Info {
	return Info{Name: "dno_prct", Summary: "DNO-Prct: DPO with reference = previous iterate and beta = eta",
		Paper:  "Rosset et al. 2024, Direct Nash Optimization, arXiv 2404.03715, Alg. 2, Eq. 13",
		Params: []Param{{Name: "eta", Type: "float", Default: "0.1", Range: "(0, inf)", Doc: "DPO beta of each iteration (paper: 0.1 or 0.05)"}}}
}

func dnoPrctFromParams(p *params) (*DNOPrct, error) {
	d := &DNOPrct{Eta: p.float("eta")}
	if p.err != nil {
		return nil, p.err
	}
	return d, d.Validate()
}

// DNOCandidate is one candidate response of a prompt, as judged for DNO-Prct.
type DNOCandidate struct {
	// Score is the judge's score on the paper's 6-point additive rubric.
	Score float64
	// Teacher marks the gold/teacher output (at most one per prompt); others are student samples.
	Teacher bool
	// Repetitive marks a sample with many repeated n-grams: an automatic negative.
	Repetitive bool
}

// DNOPairOptions are DNO-Prct's pair rules. The zero value is not the paper's; use
// DefaultDNOPairOptions.
type DNOPairOptions struct {
	// MinPositive is the lowest score a positive may have (paper: 5, i.e. 5 or 6).
	MinPositive float64
	// MinGap is the required score gap below a teacher positive (paper: 2).
	MinGap float64
	// MinGapStudent is the required gap when the positive is a student sample (paper: 1).
	MinGapStudent float64
	// Restrictive drops student-over-teacher pairs (the paper's worse "DNO-Restrictive" ablation).
	Restrictive bool
}

// DefaultDNOPairOptions returns the paper's pair rules.
func DefaultDNOPairOptions() DNOPairOptions {
	return DNOPairOptions{MinPositive: 5, MinGap: 2, MinGapStudent: 1}
}

// DNOPairs builds ALL qualifying DNO-Prct pairs of one prompt (Rosset et al. 2024, §5 / Alg. 2
// step 3; OBJECTIVES.md §6):
//   - a positive scores at least MinPositive and is not repetitive;
//   - its negative scores at least MinGap lower, or MinGapStudent lower when the positive is a
//     student sample;
//   - a repetitive sample is never a positive and is a valid negative for every positive
//     whatever its score (align's reading of "automatic negative");
//   - student-over-teacher pairs are kept unless Restrictive.
//
// Pairs come out ordered by positive index, then negative index (W, L index the candidates;
// Gap is the score gap).
func DNOPairs(cands []DNOCandidate, opt DNOPairOptions) []PairIndex {
	var out []PairIndex
	for i, p := range cands {
		if p.Repetitive || p.Score < opt.MinPositive {
			continue
		}
		gap := opt.MinGap
		if !p.Teacher {
			gap = opt.MinGapStudent
		}
		for j, q := range cands {
			if i == j {
				continue
			}
			if opt.Restrictive && q.Teacher && !p.Teacher {
				continue
			}
			if q.Repetitive || p.Score-q.Score >= gap {
				out = append(out, PairIndex{W: i, L: j, Gap: p.Score - q.Score})
			}
		}
	}
	return out
}

// DNOReplayCounts returns how many pairs to replay from each earlier iteration (Rosset et al.
// 2024: "at most 30% of pairs from iteration t-1, 15% from t-2, and so on"; OBJECTIVES.md §6).
// current is the number of fresh pairs of iteration t; past[k] is the number of pairs of
// iteration t-1-k. The share halves with each step back, starting at first (paper: 0.3), and is
// taken relative to the current iteration's pair count (align's reading; the paper does not say
// of what). Each count is floored and capped at past[k]. Replayed pairs are not re-sampled.
func DNOReplayCounts(current int, past []int, first float64) ([]int, error) {
	if current < 0 || !(first >= 0 && first <= 1) {
		return nil, fmt.Errorf("objectives: dno replay: need current >= 0 and first in [0, 1], got %d and %v", current, first)
	}
	out := make([]int, len(past))
	share := first
	for k, p := range past {
		out[k] = min(p, int(math.Floor(share*float64(current))))
		share /= 2
	}
	return out, nil
}
