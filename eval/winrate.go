package eval

import (
	"fmt"
	"math"
	"sort"
	"unicode/utf8"
)

// HeadToHead holds AlpacaEval's leaderboard columns for one model against one baseline.
// The JSON names are AlpacaEval's (metrics/winrate.py::get_winrate, glm_winrate.py).
type HeadToHead struct {
	Model    string `json:"model"`
	Baseline string `json:"baseline"`
	Judge    string `json:"judge,omitempty"`
	Template string `json:"template,omitempty"`
	Dataset  string `json:"dataset,omitempty"`

	WinRate         float64 `json:"win_rate"`
	StandardError   float64 `json:"standard_error"`
	NWins           int     `json:"n_wins"`
	NWinsBase       int     `json:"n_wins_base"`
	NDraws          int     `json:"n_draws"`
	NTotal          int     `json:"n_total"`
	DiscreteWinRate float64 `json:"discrete_win_rate"`
	AvgLength       int     `json:"avg_length"`

	LengthControlledWinRate float64 `json:"length_controlled_winrate"`
	LCStandardError         float64 `json:"lc_standard_error"`
	// LC describes the GLM behind the two numbers above (nil when it could not be fit).
	LC *LCFit `json:"lc,omitempty"`

	// NInvalid counts judgments whose preference is NaN or outside [1, 2]: AlpacaEval drops
	// them from every count above; align shows how many there were.
	NInvalid int `json:"n_invalid"`
	// Warnings are human-readable problems: many invalid judgments, an extreme LC change.
	Warnings []string `json:"warnings,omitempty"`
}

// WinRateStats is describe_head2head under AlpacaEval's two scoring rules, from the raw
// preferences (1 = baseline better, 2 = model better, 1.5 or 0 = draw, NaN = invalid):
//
//   - AbsoluteScoringRule: 0 → 1.5; n_draws = #{p ∈ {0, 1.5}}; drop p ∉ [1, 2];
//     x = p − 1; win_rate = 100·mean(x); standard_error = 100·sem(x) (ddof 1);
//     n_wins = #{x > 0.5}; n_wins_base = #{x < 0.5}; n_total = #x.
//   - ZeroOneScoringRule (discrete_win_rate): 1.5 → 0, then round half to even, then the
//     same computation; its win_rate is reported as discrete_win_rate.
func WinRateStats(prefs []float64) (h HeadToHead) {
	var xs []float64
	for _, p := range prefs {
		if p == 0 || p == 1.5 {
			h.NDraws++
		}
		if p == 0 {
			p = 1.5
		}
		if !(p >= 1 && p <= 2) { // also false for NaN
			h.NInvalid++
			continue
		}
		x := p - 1
		xs = append(xs, x)
		if x > 0.5 {
			h.NWins++
		} else if x < 0.5 {
			h.NWinsBase++
		}
	}
	h.NTotal = len(xs)
	h.WinRate = 100 * mean(xs)
	h.StandardError = 100 * sem(xs)

	// ZeroOneScoringRule: replace 1.5 by 0, round (numpy: half to even), 0 → 1.5 again.
	var zs []float64
	for _, p := range prefs {
		if math.IsNaN(p) {
			continue
		}
		if p == 1.5 {
			p = 0
		}
		p = math.RoundToEven(p)
		if p == 0 {
			p = 1.5
		}
		if p >= 1 && p <= 2 {
			zs = append(zs, p-1)
		}
	}
	h.DiscreteWinRate = 100 * mean(zs)
	return h
}

// runeLen is Python's len(str): the number of code points, which AlpacaEval uses for both
// avg_length and the LC length feature.
func runeLen(s string) int { return utf8.RuneCountInString(s) }

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// stdDDOF1 is pandas' Series.std(): sample standard deviation, NaN for fewer than 2 values.
func stdDDOF1(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	m := mean(xs)
	s := 0.0
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(xs)-1))
}

// sem is pandas' Series.sem(): std (ddof 1) / sqrt(n).
func sem(xs []float64) float64 { return stdDDOF1(xs) / math.Sqrt(float64(len(xs))) }

// IsExtremeChange is glm_winrate.get_is_extreme_changes with its defaults (abs_diff 10,
// rel_diff 4): whether the LC win rate left the band around the raw one.
func IsExtremeChange(prev, next float64) bool {
	const absDiff, relDiff = 10.0, 4.0
	tooSmall := next < math.Min(prev-prev/relDiff, prev-absDiff)
	tooLarge := next > math.Max(prev+(100-prev)/relDiff, prev+absDiff)
	return tooSmall || tooLarge
}

// StatsOptions configure Stats.
type StatsOptions struct {
	// Difficulty maps an instruction to its instruction_difficulty (AlpacaEval's
	// instruction_difficulty.csv). With it the LC GLM adds the difficulty term
	// (length_controlled_noreg, or length_controlled_v1 with Gamed); without it the GLM is
	// length_controlled_minimal.
	Difficulty map[string]float64
	// Gamed holds the judge annotations of the two length-gamed baselines (df_gamed.csv),
	// which length_controlled_v1 mixes in with weight λ/2 = 0.1 to regularise towards the
	// baseline. Only used together with Difficulty.
	Gamed []GamedRow
	// InvalidWarnFraction is the share of invalid judgments above which a warning is added
	// (default 0.10).
	InvalidWarnFraction float64
}

// Stats groups judgments by (baseline, model, judge, template), and within each group also by
// dataset when there are several, and computes every AlpacaEval column for each group. Groups
// come sorted by baseline, model, judge, template, then dataset ("" = all datasets first).
func Stats(js []Judgment, opt StatsOptions) []HeadToHead {
	type key struct{ base, model, judge, template string }
	groups := map[key][]Judgment{}
	var keys []key
	for _, j := range js {
		k := key{j.Generator1, j.Generator2, j.Judge, j.Template}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], j)
	}
	sort.Slice(keys, func(a, b int) bool {
		ka, kb := keys[a], keys[b]
		if ka.base != kb.base {
			return ka.base < kb.base
		}
		if ka.model != kb.model {
			return ka.model < kb.model
		}
		if ka.judge != kb.judge {
			return ka.judge < kb.judge
		}
		return ka.template < kb.template
	})
	var out []HeadToHead
	for _, k := range keys {
		g := groups[k]
		h := headToHead(g, k.model, k.base, "", opt)
		h.Judge, h.Template = k.judge, k.template
		out = append(out, h)
		byDS := map[string][]Judgment{}
		var dss []string
		for _, j := range g {
			if j.Dataset == "" {
				continue
			}
			if _, ok := byDS[j.Dataset]; !ok {
				dss = append(dss, j.Dataset)
			}
			byDS[j.Dataset] = append(byDS[j.Dataset], j)
		}
		sort.Strings(dss)
		if len(dss) > 1 {
			for _, ds := range dss {
				h := headToHead(byDS[ds], k.model, k.base, ds, opt)
				h.Judge, h.Template = k.judge, k.template
				out = append(out, h)
			}
		}
	}
	return out
}

// headToHead computes one group's columns: get_winrate, then the LC GLM, then warnings.
func headToHead(g []Judgment, model, base, dataset string, opt StatsOptions) HeadToHead {
	prefs := make([]float64, len(g))
	for i, j := range g {
		prefs[i] = j.Preference
	}
	h := WinRateStats(prefs)
	h.Model, h.Baseline, h.Dataset = model, base, dataset

	// avg_length: AlpacaEval computes int(mean(len(output))) over the model's outputs, one
	// per instruction; a file judged in both orders holds each output twice, so outputs are
	// taken once per instruction.
	seen := map[string]bool{}
	var lens []float64
	for _, j := range g {
		if seen[j.Instruction] {
			continue
		}
		seen[j.Instruction] = true
		lens = append(lens, float64(runeLen(j.Output2)))
	}
	if len(lens) > 0 {
		h.AvgLength = int(mean(lens))
	}

	fit, err := LengthControlled(g, opt.Difficulty, opt.Gamed)
	if err != nil {
		h.LengthControlledWinRate, h.LCStandardError = math.NaN(), math.NaN()
		h.Warnings = append(h.Warnings, "length-controlled win rate not computed: "+err.Error())
	} else {
		h.LC = fit
		h.LengthControlledWinRate = fit.WinRate
		h.LCStandardError = fit.StandardError
		if IsExtremeChange(h.WinRate, h.LengthControlledWinRate) {
			h.Warnings = append(h.Warnings, fmt.Sprintf("length controlled win rate is very different from the raw one: "+
				"%.1f%% vs %.1f%%; this might be a sign of failure of the GLM", h.LengthControlledWinRate, h.WinRate))
		}
	}
	frac := opt.InvalidWarnFraction
	if frac == 0 {
		frac = 0.10
	}
	if n := len(g); n > 0 && float64(h.NInvalid) > frac*float64(n) {
		h.Warnings = append(h.Warnings, fmt.Sprintf("%d of %d judgments (%.1f%%) are invalid (judge answer not parseable); "+
			"they are excluded from every statistic", h.NInvalid, n, 100*float64(h.NInvalid)/float64(n)))
	}
	return h
}
