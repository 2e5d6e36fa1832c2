package pairs

import (
	"fmt"
	"github.com/alignkit/align/data/curate"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/alignkit/align/data"
)

// Scored is a candidate with its judgment.
type Scored struct {
	Candidate
	// Score is the judge's score on the rubric's scale (higher is better).
	Score float64 `json:"score"`
	// Valid is false when the judge's answer did not parse; such candidates never enter a pair.
	Valid bool `json:"valid"`
	// AutoNegative marks a degenerate response scored without the judge at the rubric's minimum.
	AutoNegative bool `json:"auto_negative,omitempty"`
}

// Pair modes for rated (UltraFeedback-style) candidates.
const (
	// PairsBestVsRest pairs the best response with every strictly worse one.
	PairsBestVsRest = "best-vs-rest"
	// PairsBestVsWorst pairs the best with the worst (one pair per prompt).
	PairsBestVsWorst = "best-vs-worst"
	// PairsBestVsRandom pairs the best with one strictly worse response drawn at random, as the
	// UltraFeedback-binarized set behind Zephyr did (one pair per prompt).
	PairsBestVsRandom = "best-vs-random"
	// PairsAll pairs every two responses whose scores differ by at least the margin.
	PairsAll = "all"
)

// RatedPairOptions configures RatedPairs.
type RatedPairOptions struct {
	// Mode is best-vs-rest (default), best-vs-worst, best-vs-random or all.
	Mode string
	// MinMargin is the least score difference of a pair; 0 means any strict difference.
	MinMargin float64
	// Seed drives best-vs-random.
	Seed uint64
}

// NewPair builds a data.Pair with a single user turn as the prompt and one assistant turn per
// response.
func NewPair(id string, prompt []data.Message, chosen, rejected Scored) data.Pair {
	sc, sr := chosen.Score, rejected.Score
	return data.Pair{
		ID:            id,
		Prompt:        prompt,
		Chosen:        []data.Message{{Role: "assistant", Content: chosen.Text}},
		Rejected:      []data.Message{{Role: "assistant", Content: rejected.Text}},
		ScoreChosen:   &sc,
		ScoreRejected: &sr,
		Meta: map[string]string{
			"chosen_model": chosen.Model, "rejected_model": rejected.Model,
			"chosen_sample": fmt.Sprint(chosen.Sample), "rejected_sample": fmt.Sprint(rejected.Sample),
			"chosen_seed": fmt.Sprint(chosen.Seed), "rejected_seed": fmt.Sprint(rejected.Seed),
		},
	}
}

// UserPrompt is the one-turn prompt of a text.
func UserPrompt(text string) []data.Message { return []data.Message{{Role: "user", Content: text}} }

func validSorted(cands []Scored) []Scored {
	var v []Scored
	for _, c := range cands {
		if c.Valid && !math.IsNaN(c.Score) {
			v = append(v, c)
		}
	}
	// Stable: equal scores keep their sampling order, so the output is deterministic.
	sort.SliceStable(v, func(i, j int) bool { return v[i].Score > v[j].Score })
	return v
}

// RatedPairs turns the rated candidates of ONE prompt into pairs. Invalid judgments are left
// out; ties never pair; an auto-negative is never chosen (it has the lowest score).
func RatedPairs(promptID string, prompt []data.Message, cands []Scored, opt RatedPairOptions) ([]data.Pair, error) {
	v := validSorted(cands)
	var out []data.Pair
	beats := func(a, b Scored) bool {
		d := a.Score - b.Score
		if opt.MinMargin > 0 {
			return d >= opt.MinMargin
		}
		return d > 0
	}
	add := func(a, b Scored) {
		out = append(out, NewPair(fmt.Sprintf("%s#%d", promptID, len(out)), prompt, a, b))
	}
	if len(v) < 2 {
		return nil, nil
	}
	switch opt.Mode {
	case "", PairsBestVsRest:
		for _, r := range v[1:] {
			if beats(v[0], r) {
				add(v[0], r)
			}
		}
	case PairsBestVsWorst:
		scores := make([]float64, len(v))
		for i, c := range v {
			scores[i] = c.Score
		}
		ps, _ := BestVsWorst(len(v), ScoreMatch(scores))
		for _, p := range ps {
			if beats(v[p.W], v[p.L]) {
				add(v[p.W], v[p.L])
			}
		}
	case PairsBestVsRandom:
		var worse []Scored
		for _, r := range v[1:] {
			if beats(v[0], r) {
				worse = append(worse, r)
			}
		}
		if len(worse) > 0 {
			rng := rand.New(rand.NewPCG(opt.Seed, curate.TextHash(promptID)))
			add(v[0], worse[rng.IntN(len(worse))])
		}
	case PairsAll:
		for i := range v {
			for j := i + 1; j < len(v); j++ {
				if beats(v[i], v[j]) {
					add(v[i], v[j])
				}
			}
		}
	default:
		return nil, fmt.Errorf("curate: pair mode %q: want best-vs-rest, best-vs-worst, best-vs-random or all", opt.Mode)
	}
	return out, nil
}

// ScoredDNOPairs builds ALL qualifying pairs of one prompt's rated candidates under DNO's
// rule (DNOPairs): a candidate whose model is not a student is a teacher; an automatic
// negative (a degenerate sample) is a negative for every positive.
func ScoredDNOPairs(promptID string, prompt []data.Message, cands []Scored, r DNORule) []data.Pair {
	g := make([]Graded, len(cands))
	for i, c := range cands {
		g[i] = Graded{Score: c.Score, Valid: c.Valid && !math.IsNaN(c.Score), Teacher: !c.Student, AutoNegative: c.AutoNegative}
	}
	var out []data.Pair
	for _, p := range DNOPairs(g, r) {
		out = append(out, NewPair(fmt.Sprintf("%s#%d", promptID, len(out)), prompt, cands[p.W], cands[p.L]))
	}
	return out
}

// Compare judges candidate i against candidate j and returns the preference in [1, 2]:
// 1 = i better, 2 = j better, 1.5 = tie, NaN = no valid verdict. Implementations judge both
// orders (swaps) and average them.
type Compare func(i, j int) (float64, error)

// RoundRobin judges every pair once (each call judging both orders) and scores each candidate
// by its mean win share against the others (a win 1, a tie 0.5; invalid games are left out).
// It returns the scores and the preference matrix (pref[i][j] for i<j, NaN elsewhere).
func RoundRobin(n int, cmp Compare) (scores []float64, pref [][]float64, err error) {
	pref = make([][]float64, n)
	for i := range pref {
		pref[i] = make([]float64, n)
		for j := range pref[i] {
			pref[i][j] = math.NaN()
		}
	}
	wins := make([]float64, n)
	games := make([]float64, n)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			p, err := cmp(i, j)
			if err != nil {
				return nil, nil, err
			}
			pref[i][j] = p
			if math.IsNaN(p) {
				continue
			}
			wins[i] += 2 - p
			wins[j] += p - 1
			games[i]++
			games[j]++
		}
	}
	scores = make([]float64, n)
	for i := range scores {
		scores[i] = math.NaN()
		if games[i] > 0 {
			scores[i] = wins[i] / games[i]
		}
	}
	return scores, pref, nil
}

// KnockoutScores runs Knockout over candidates 0..n-1 with cmp's preferences (a tie or an
// invalid verdict advances the earlier one) and scores each candidate by the games it won, so
// the champion scores highest and first-round losers score 0 (n-1 comparisons instead of a
// round robin's n(n-1)/2).
func KnockoutScores(n int, cmp Compare) ([]float64, error) {
	scores := make([]float64, n)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	_, _, _, err := Knockout(all, false, BracketWinners, func(a, b int, _ string) (int, error) {
		p, err := cmp(a, b)
		if err != nil {
			return 0, err
		}
		c := PreferenceGame(p)
		if c < 0 {
			scores[b]++
		} else {
			scores[a]++
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return scores, nil
}

// PreferenceGame reads a pairwise preference in [1, 2] (runtime.Judgment's: 1 = the first
// output better, 2 = the second, 1.5 a tie) as a game: +1, -1, or 0 for a tie or NaN.
func PreferenceGame(p float64) int {
	switch {
	case p < 1.5:
		return 1
	case p > 1.5:
		return -1
	}
	return 0
}

// Refusal classes, as XSTest's labels (full compliance, full refusal, partial refusal).
const (
	ClassCompliance = "compliance"
	ClassRefusal    = "refusal"
	ClassPartial    = "partial"
)

// Labeled is a candidate with its compliance/refusal class; Class is empty when the judge's
// answer did not parse.
type Labeled struct {
	Candidate
	Class string `json:"class"`
}

// RefusalPairOptions configures RefusalPairs.
type RefusalPairOptions struct {
	// MaxPairsPerPrompt caps the pairs of one prompt (refusal × compliance combinations in
	// sampling order). Default 4.
	MaxPairsPerPrompt int
	// PartialAsRefusal counts partial refusals as refusals; by default they pair on neither side,
	// their class being ambiguous.
	PartialAsRefusal bool
	// FallbackRefusal, when set, is used as the chosen response for an unsafe prompt on which the
	// model never refused (otherwise such a prompt gives no pair).
	FallbackRefusal string
}

// RefusalPairs pairs one prompt's labelled samples: for an unsafe prompt a refusal is chosen
// over a compliance; for a safe prompt a compliance over a refusal, so that over-refusal is
// trained away too. The prompt's Label must be "safe" or "unsafe".
func RefusalPairs(p curate.Text, prompt []data.Message, samples []Labeled, opt RefusalPairOptions) ([]data.Pair, error) {
	if opt.MaxPairsPerPrompt <= 0 {
		opt.MaxPairsPerPrompt = 4
	}
	var refuse, comply []Scored
	for _, s := range samples {
		switch {
		case s.Class == ClassRefusal || (opt.PartialAsRefusal && s.Class == ClassPartial):
			refuse = append(refuse, Scored{Candidate: s.Candidate, Valid: true})
		case s.Class == ClassCompliance:
			comply = append(comply, Scored{Candidate: s.Candidate, Valid: true})
		}
	}
	var good, bad []Scored
	switch p.Label {
	case "unsafe":
		good, bad = refuse, comply
		if len(good) == 0 && opt.FallbackRefusal != "" {
			good = []Scored{{Candidate: Candidate{PromptID: p.ID, Model: "fallback", Sample: -1, Text: opt.FallbackRefusal}, Valid: true}}
		}
	case "safe":
		good, bad = comply, refuse
	default:
		return nil, fmt.Errorf("curate: prompt %s: label %q, want safe or unsafe", p.ID, p.Label)
	}
	var out []data.Pair
	for _, g := range good {
		for _, b := range bad {
			if len(out) == opt.MaxPairsPerPrompt {
				return out, nil
			}
			g.Score, b.Score = 1, 0
			out = append(out, NewPair(fmt.Sprintf("%s#%d", p.ID, len(out)), prompt, g, b))
		}
	}
	return out, nil
}

// MixPairs adds general preference pairs to primary so that they make up the fraction ratio of
// the result (ratio in [0, 1); 0.25 → one general pair for every three primary ones), drawn
// without replacement with the seed and capped by what general holds; the result is shuffled
// with the same seed.
func MixPairs(primary, general []data.Pair, ratio float64, seed uint64) ([]data.Pair, error) {
	if ratio < 0 || ratio >= 1 {
		return nil, fmt.Errorf("curate: mix ratio %g: want 0 ≤ ratio < 1", ratio)
	}
	n := int(math.Round(ratio / (1 - ratio) * float64(len(primary))))
	n = min(n, len(general))
	rng := rand.New(rand.NewPCG(seed, 0x6d6978))
	perm := rng.Perm(len(general))
	out := append([]data.Pair(nil), primary...)
	for _, i := range perm[:n] {
		out = append(out, general[i])
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}
