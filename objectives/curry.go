package objectives

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
)

// PairIndex is one preference pair inside a ranked list: indices (into the list as given) of
// the chosen (W) and the rejected (L) response, and the score gap between them.
type PairIndex struct {
	W, L int
	Gap  float64
}

// CurryPairs builds one prompt's preference pairs from the scores of its N responses and puts
// them in curriculum order (Curry-DPO, Pattnaik et al. 2024, arXiv 2403.07230; docs/objectives.md, "curry_dpo").
//
// Ranking: responses sorted by score descending; equal scores keep their input order (rank
// ties by position).
//
// scheme:
//   - "best_vs_rest" (the paper's): the top-ranked response is the chosen one, paired with every
//     strictly lower-scored response (N-1 pairs when there are no ties). Responses tied with the
//     top score give no pair.
//   - "all_pairs" (align extension, not in the paper): every (i, j) with score_i > score_j.
//
// order:
//   - "score_gap" (the paper's easy-to-hard): descending gap score_w - score_l, ties broken by
//     the chosen response's rank, then by the rejected response's rank (better rank first). The
//     easiest pair is (best, worst).
//   - "reverse": exactly the reverse of score_gap (hard to easy), for ablations.
//   - "random": a shuffle with a PCG generator seeded by seed (deterministic).
//
// Stage k of Curry-DPO trains on the k-th pair (1-based) of every prompt. The data package's
// `data pairs` uses the same function.
func CurryPairs(scores []float64, scheme, order string, seed uint64) ([]PairIndex, error) {
	if err := oneOf("curry_dpo", "scheme", scheme, CurrySchemes()...); err != nil {
		return nil, err
	}
	if err := oneOf("curry_dpo", "order", order, CurryOrders()...); err != nil {
		return nil, err
	}
	var s curryScratch
	return s.pairs(scores, scheme == "all_pairs", order, seed), nil
}

// curryScratch holds CurryPairs' buffers so that a batch reuses them across prompts.
type curryScratch struct {
	rank, byRank []int
	out          []PairIndex
}

// pairs is CurryPairs without the name checks; the result aliases s.out.
func (s *curryScratch) pairs(scores []float64, allPairs bool, order string, seed uint64) []PairIndex {
	n := len(scores)
	s.rank, s.byRank, s.out = s.rank[:0], s.byRank[:0], s.out[:0]
	for i := 0; i < n; i++ {
		s.byRank = append(s.byRank, i)
		s.rank = append(s.rank, 0)
	}
	slices.SortStableFunc(s.byRank, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	for r, i := range s.byRank {
		s.rank[i] = r
	}
	for a, i := range s.byRank {
		if !allPairs && a > 0 {
			break // best_vs_rest: only the top-ranked response is chosen
		}
		for _, j := range s.byRank[a+1:] {
			if scores[i] > scores[j] {
				s.out = append(s.out, PairIndex{W: i, L: j, Gap: scores[i] - scores[j]})
			}
		}
	}
	rank := s.rank
	slices.SortStableFunc(s.out, func(pa, pb PairIndex) int {
		if c := cmp.Compare(pb.Gap, pa.Gap); c != 0 {
			return c
		}
		if c := cmp.Compare(rank[pa.W], rank[pb.W]); c != 0 {
			return c
		}
		return cmp.Compare(rank[pa.L], rank[pb.L])
	})
	switch order {
	case "reverse":
		slices.Reverse(s.out)
	case "random":
		r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		r.Shuffle(len(s.out), func(i, j int) { s.out[i], s.out[j] = s.out[j], s.out[i] })
	}
	if len(s.out) == 0 {
		return nil
	}
	return s.out
}

// CurrySchemes lists the pair-construction schemes of CurryPairs.
func CurrySchemes() []string { return []string{"best_vs_rest", "all_pairs"} }

// CurryOrders lists the curriculum orders of CurryPairs.
func CurryOrders() []string { return []string{"score_gap", "reverse", "random"} }

// CurryDPO is the loss of one Curry-DPO stage (Pattnaik et al. 2024, "Curry-DPO: Enhancing
// Alignment using Curriculum Learning & Ranked Preferences", arXiv 2403.07230). Each example is one prompt's ranked responses: pi[], ref[] (sequence log-prob sums) and
// scores[]. CurryPairs orders the prompt's pairs; stage k applies plain DPO (sigmoid, beta) to
// the k-th pair. Stage 0 is align's non-iterative variant's loss: the mean DPO loss over all of
// the prompt's pairs.
//
// Iteration (the training loop's job): the reference of stage k+1 is the policy at the end of
// stage k; stage 1 uses the initial (SFT) model. The non-iterative variant runs all stages in
// order with the initial reference fixed.
//
// Open points, as documented: beta, epochs per stage and tie rules are not in any text read;
// defaults are DPO's beta 0.1 and one epoch per stage. A prompt with fewer than k pairs has no
// stage-k pair: it contributes neither loss nor gradient, and the batch loss is the mean over
// the prompts that have one (metric "pairs" counts them). Gradients are w.r.t. pi[]; entries of
// responses outside the stage's pair get 0.
type CurryDPO struct {
	Beta   float64
	Scheme string
	Order  string
	Stage  int
	Seed   uint64
}

// DefaultCurryDPO returns Curry-DPO's documented defaults (stage 1).
func DefaultCurryDPO() CurryDPO {
	return CurryDPO{Beta: 0.1, Scheme: "best_vs_rest", Order: "score_gap", Stage: 1}
}

// Name implements Objective.
func (c *CurryDPO) Name() string { return "curry_dpo" }

// Inputs implements Objective.
func (c *CurryDPO) Inputs() []string { return []string{"pi", "ref", "scores"} }

// Differentiated implements Objective.
func (c *CurryDPO) Differentiated() []string { return []string{"pi"} }

// Validate checks the parameters.
func (c *CurryDPO) Validate() error {
	n := c.Name()
	if err := positive(n, "beta", c.Beta); err != nil {
		return err
	}
	if err := oneOf(n, "scheme", c.Scheme, CurrySchemes()...); err != nil {
		return err
	}
	if err := oneOf(n, "order", c.Order, CurryOrders()...); err != nil {
		return err
	}
	if c.Stage < 0 {
		return fmt.Errorf("objectives: %s: stage must be >= 0 (0 = all pairs), got %d", n, c.Stage)
	}
	return nil
}

// Loss implements Objective.
func (c *CurryDPO) Loss(in, grad *Batch) (Result, error) {
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(c, in, grad)
	if err != nil {
		return Result{}, err
	}
	pc := pairConst{kind: lossSigmoid, beta: c.Beta}
	var scratch curryScratch
	var m pairMetrics
	total, npairs, used := 0.0, 0, 0
	for b := 0; b < n; b++ {
		if err := sameLen(c.Name(), "pi", "ref", b, in.Pi[b], in.Ref[b]); err != nil {
			return Result{}, err
		}
		if err := sameLen(c.Name(), "pi", "scores", b, in.Pi[b], in.Scores[b]); err != nil {
			return Result{}, err
		}
		if grad != nil {
			clear(grad.Pi[b])
		}
		pairs := scratch.pairs(in.Scores[b], c.Scheme == "all_pairs", c.Order, c.Seed+uint64(b))
		if c.Stage > 0 {
			if c.Stage > len(pairs) {
				continue // no stage-k pair for this prompt
			}
			pairs = pairs[c.Stage-1 : c.Stage]
		}
		if len(pairs) == 0 {
			continue
		}
		used++
		// Per-prompt weight 1/len(pairs) now; the 1/used of the mean is applied below.
		w := 1 / float64(len(pairs))
		pi, ref := in.Pi[b], in.Ref[b]
		for _, p := range pairs {
			uw, ul := pi[p.W]-ref[p.W], pi[p.L]-ref[p.L]
			l, gsw, gsl, _, _ := pc.loss(uw, ul, uw, ul, 1, 1)
			total += l * w
			if grad != nil {
				grad.Pi[b][p.W] += gsw * w
				grad.Pi[b][p.L] += gsl * w
			}
			m.add(c.Beta*uw, c.Beta*ul, pi[p.W], pi[p.L])
			npairs++
		}
	}
	inv := 1 / float64(max(used, 1))
	if grad != nil {
		for b := range grad.Pi {
			for j := range grad.Pi[b] {
				grad.Pi[b][j] *= inv
			}
		}
	}
	out := map[string]float64{"pairs": float64(npairs)}
	m.put(out, npairs)
	return Result{Loss: total * inv, Metrics: out}, nil
}

func curryInfo() Info {
	return Info{Name: "curry_dpo", Summary: "Curry-DPO: DPO on ranked responses, one pair per prompt per curriculum stage",
		Paper: "Pattnaik et al. 2024, Curry-DPO, arXiv 2403.07230",
		Params: []Param{
			{Name: "beta", Type: "float", Default: "0.1", Range: "(0, inf)", Doc: "DPO beta (not given by the paper; DPO default)"},
			{Name: "scheme", Type: "string", Default: "best_vs_rest", Range: "best_vs_rest|all_pairs", Doc: "pair construction (all_pairs is an align extension)"},
			{Name: "order", Type: "string", Default: "score_gap", Range: "score_gap|reverse|random", Doc: "curriculum order: easy (largest score gap) to hard, its reverse, or random"},
			{Name: "stage", Type: "int", Default: "1", Range: "[0, N-1]", Doc: "1-based curriculum stage: the k-th pair of each prompt; 0 = mean over all pairs"},
			{Name: "seed", Type: "int", Default: "0", Range: "[0, 2^64)", Doc: "seed of the random order (example b uses seed+b)"},
		}}
}

func curryFromParams(p *params) (*CurryDPO, error) {
	c := &CurryDPO{Beta: p.float("beta"), Scheme: p.str("scheme"), Order: p.str("order"), Stage: p.int("stage"), Seed: p.uint64("seed")}
	if p.err != nil {
		return nil, p.err
	}
	return c, c.Validate()
}
