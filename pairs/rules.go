package pairs

import (
	"fmt"
	"math"
)

// Index is a (chosen, rejected) pair of candidate indices of one prompt.
type Index struct{ W, L int }

// Bracket names say which part of a tournament a game belongs to. A judge keys its answers by
// them, so that a game of one bracket is never answered with another bracket's answer.
const (
	BracketWinners = "winners" // the knockout that finds the best
	BracketLosers  = "losers"  // the knockout among first-round losers that finds the worst
	BracketFinal   = "final"   // INPO's check of the best against the worst
	BracketScan    = "scan"    // best-vs-worst's linear scans
)

// Match plays one game between candidates a and b: +1 when a is preferred, -1 when b is, 0 for
// a tie or an answer that did not parse. bracket names the game's part of the tournament.
type Match func(a, b int, bracket string) (int, error)

// Knockout runs a single-elimination tournament over players, in the order given: adjacent
// players meet, an odd one out advances with a bye, and a tie goes to the first of the two.
// With loserAdvances the loser of each game advances instead (a knockout that finds the
// worst). It returns the last one standing, the players eliminated in the first round (in
// bracket order), and how many games were played: len(players)-1.
func Knockout(players []int, loserAdvances bool, bracket string, play Match) (last int, firstOut []int, games int, err error) {
	if len(players) == 0 {
		return -1, nil, 0, nil
	}
	alive := append([]int(nil), players...)
	for round := 0; len(alive) > 1; round++ {
		next := make([]int, 0, (len(alive)+1)/2)
		for k := 0; k < len(alive); k += 2 {
			if k+1 == len(alive) {
				next = append(next, alive[k])
				continue
			}
			a, b := alive[k], alive[k+1]
			c, err := play(a, b, bracket)
			if err != nil {
				return -1, nil, games, err
			}
			games++
			win, lose := a, b
			if c < 0 {
				win, lose = b, a
			}
			if loserAdvances {
				win, lose = lose, win
			}
			next = append(next, win)
			if round == 0 {
				firstOut = append(firstOut, lose)
			}
		}
		alive = next
	}
	return alive[0], firstOut, games, nil
}

// INPOResult is the outcome of INPO's tournament over one prompt's samples.
type INPOResult struct {
	// Best and Worst are y_w and y_l; -1 when there are fewer than two samples.
	Best, Worst int
	// Kept is true when y_w won the final game against y_l: only then is (Best, Worst) a pair.
	Kept bool
	// Games counts the judge's games: (n-1) + (floor(n/2)-1) + 1, 11 for n = 8.
	Games int
}

// INPO is INPO's pair rule with a pairwise judge (Zhang et al. 2025, arXiv 2407.00617, §5; the
// reading in docs/objectives.md, "INPO"): a knockout over the n samples finds y_w (n-1 games,
// ties to the first); a knockout among the first-round losers, the loser of each game
// advancing, finds y_l (floor(n/2)-1 games); then y_w meets y_l in a fresh game (bracket
// BracketFinal, never answered by an earlier game) and the pair is kept only if y_w wins. For n
// = 8 that is 7 + 3 + 1 = 11 games.
func INPO(n int, play Match) (INPOResult, error) {
	res := INPOResult{Best: -1, Worst: -1}
	if n < 2 {
		return res, nil
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	best, losers, g1, err := Knockout(all, false, BracketWinners, play)
	res.Games += g1
	if err != nil {
		return res, err
	}
	worst, _, g2, err := Knockout(losers, true, BracketLosers, play)
	res.Games += g2
	if err != nil {
		return res, err
	}
	res.Best, res.Worst = best, worst
	c, err := play(best, worst, BracketFinal)
	res.Games++
	if err != nil {
		return res, err
	}
	res.Kept = c > 0
	return res, nil
}

// BestVsWorst picks the best and the worst of n candidates with a judge's games (iterative DPO,
// APO, the quickstart): a scan for the best (a tie keeps the earlier), a scan from the end for
// the worst (a tie keeps the later), then the best must beat the worst. With scores, pass
// ScoreMatch: the best is the first highest score and the worst the last lowest, and equal
// best and worst give no pair.
func BestVsWorst(n int, play Match) ([]Index, error) {
	if n < 2 {
		return nil, nil
	}
	best, worst := 0, n-1
	for i := 1; i < n; i++ {
		c, err := play(i, best, BracketScan)
		if err != nil {
			return nil, err
		}
		if c > 0 {
			best = i
		}
	}
	for i := n - 2; i >= 0; i-- {
		c, err := play(i, worst, BracketScan)
		if err != nil {
			return nil, err
		}
		if c < 0 {
			worst = i
		}
	}
	if best == worst {
		return nil, nil
	}
	c, err := play(best, worst, BracketScan)
	if err != nil || c <= 0 {
		return nil, err
	}
	return []Index{{best, worst}}, nil
}

// ScoreMatch turns scores into games: the higher score wins and equal scores tie; NaN (an
// invalid grade) loses to every score and ties with NaN. Leave out candidates that must not
// pair at all before calling a rule.
func ScoreMatch(scores []float64) Match {
	return func(a, b int, _ string) (int, error) {
		na, nb := math.IsNaN(scores[a]), math.IsNaN(scores[b])
		switch {
		case na && nb:
			return 0, nil
		case na:
			return -1, nil
		case nb:
			return 1, nil
		case scores[a] > scores[b]:
			return 1, nil
		case scores[a] < scores[b]:
			return -1, nil
		}
		return 0, nil
	}
}

// Graded is one candidate of a prompt as DNO's rule sees it.
type Graded struct {
	// Score is the judge's grade on the rubric (DNO: 0-6 additive points).
	Score float64
	// Valid is false when the judge's answer did not parse: the candidate is in no pair.
	Valid bool
	// Teacher marks the gold or teacher output; the other candidates are student samples.
	Teacher bool
	// AutoNegative marks a student sample with many repeated n-grams. It is not judged: it is
	// never a positive, and it is a negative for every positive, whatever the gap.
	AutoNegative bool
}

// DNORule is DNO-Prct's pair rule (Rosset et al. 2024, arXiv 2404.03715, §5 and Alg. 2 step 3).
type DNORule struct {
	// MinScore is the least score of a positive (paper: 5, so positives score 5 or 6).
	MinScore float64
	// MinGap is how much lower the negative must score when the positive is the teacher (2).
	MinGap float64
	// StudentGap is the same when the positive is a student sample (1).
	StudentGap float64
	// Restrictive drops student-over-teacher pairs: the paper's worse "DNO-Restrictive" ablation.
	Restrictive bool
}

// PaperDNORule returns the paper's values: positives 5+, gap 2 below a teacher positive, 1
// below a student positive, student-over-teacher pairs kept.
func PaperDNORule() DNORule { return DNORule{MinScore: 5, MinGap: 2, StudentGap: 1} }

// DNOPairs builds ALL qualifying pairs of one prompt's candidates under r: a positive is valid,
// not an automatic negative, and scores at least MinScore; its negative is valid and scores at
// least the gap lower (MinGap below the teacher, StudentGap below a student), or is an
// automatic negative. Under Restrictive a student positive never pairs with the teacher. Pairs
// come ordered by positive index, then negative index.
func DNOPairs(c []Graded, r DNORule) []Index {
	var out []Index
	for i, p := range c {
		if !p.Valid || p.AutoNegative || math.IsNaN(p.Score) || p.Score < r.MinScore {
			continue
		}
		gap := r.StudentGap
		if p.Teacher {
			gap = r.MinGap
		}
		for j, q := range c {
			if i == j || !q.Valid {
				continue
			}
			if r.Restrictive && !p.Teacher && q.Teacher {
				continue
			}
			if q.AutoNegative || (!math.IsNaN(q.Score) && p.Score-q.Score >= gap) {
				out = append(out, Index{i, j})
			}
		}
	}
	return out
}

// AllPairs pairs every two candidates whose scores differ by at least minGap (any strict
// difference when minGap ≤ 0), the better one chosen; NaN scores pair with nothing. Pairs come
// ordered by chosen index, then rejected index.
func AllPairs(scores []float64, minGap float64) []Index {
	var out []Index
	for i, a := range scores {
		for j, b := range scores {
			if i == j || math.IsNaN(a) || math.IsNaN(b) {
				continue
			}
			d := a - b
			if (minGap > 0 && d >= minGap) || (minGap <= 0 && d > 0) {
				out = append(out, Index{i, j})
			}
		}
	}
	return out
}

// WinRates estimates each candidate's win rate against the sampling policy pi_t from its
// grades, as theoretical DNO's r_i (Rosset et al. 2024, Alg. 1: r_i = P(y_i ≻ pi_t | x)): the
// share of the prompt's other valid student samples (draws from pi_t) that it outscores, a tie
// counting one half. Automatic negatives are graded as losing to every judged sample. A
// candidate with nobody to play, or with an invalid grade, gets NaN.
func WinRates(c []Graded) []float64 {
	out := make([]float64, len(c))
	for i, a := range c {
		wins, games := 0.0, 0
		for j, b := range c {
			if i == j || b.Teacher || !a.Valid || !b.Valid {
				continue
			}
			games++
			switch {
			case a.AutoNegative && b.AutoNegative:
				wins += 0.5
			case a.AutoNegative:
			case b.AutoNegative:
				wins++
			case a.Score > b.Score:
				wins++
			case a.Score == b.Score:
				wins += 0.5
			}
		}
		out[i] = math.NaN()
		if games > 0 {
			out[i] = wins / float64(games)
		}
	}
	return out
}

// ReplayCounts says how many pairs to replay from each earlier iteration (DNO, Rosset et al.
// 2024, §5: "at most 30% of pairs from iteration t-1, 15% from t-2, and so on"): fresh is the
// number of pairs iteration t built, past[k] the number iteration t-1-k built (its own fresh
// pairs, not what it replayed), and fracs[k] the share for t-1-k. Each count is
// floor(fracs[k]·fresh), capped at past[k]; shares past the end of fracs are 0.
func ReplayCounts(fresh int, past []int, fracs []float64) ([]int, error) {
	if fresh < 0 {
		return nil, fmt.Errorf("pairs: replay: %d fresh pairs", fresh)
	}
	out := make([]int, len(past))
	for k, p := range past {
		if k >= len(fracs) {
			break
		}
		f := fracs[k]
		if !(f >= 0 && f <= 1) {
			return nil, fmt.Errorf("pairs: replay fraction %d is %v; want a value in [0, 1]", k+1, f)
		}
		out[k] = min(p, int(math.Floor(f*float64(fresh)+1e-9)))
	}
	return out, nil
}
