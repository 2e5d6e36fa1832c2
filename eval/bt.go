package eval

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Arena-Hard v0.1 (lmarena/arena-hard-auto show_result.py + utils_math.py at 0489bf38): judge
// every question twice (game 1: A = baseline, B = model; game 2 swapped), turn verdicts into
// battles, fit a Bradley–Terry model by logistic regression on an Elo scale, bootstrap it 100
// times, and convert scores and interval ends into win rates against the baseline.

// Battle is one row of Arena-Hard's battles table. ModelA is the baseline.
type Battle struct {
	Question string `json:"question"`
	ModelA   string `json:"model_a"`
	ModelB   string `json:"model_b"`
	// Winner is "model_a", "model_b" or "tie".
	Winner string `json:"winner"`
}

var (
	arenaVerdict1 = regexp.MustCompile(`\[\[([AB<>=]+)\]\]`)
	arenaVerdict2 = regexp.MustCompile(`\[([AB<>=]+)\]`)
)

// ParseArenaVerdict extracts Arena-Hard's verdict ("A>>B", "A>B", "A=B", "B>A", "B>>A") from
// a judge answer: the pattern \[\[([AB<>=]+)\]\], then \[([AB<>=]+)\]; several different
// verdicts in one answer, or none, give ok=false (gen_judgment.py get_score).
func ParseArenaVerdict(raw string) (verdict string, ok bool) {
	for _, re := range []*regexp.Regexp{arenaVerdict1, arenaVerdict2} {
		ms := re.FindAllStringSubmatch(raw, -1)
		set := map[string]bool{}
		var first string
		for _, m := range ms {
			if m[1] == "" {
				continue
			}
			if len(set) == 0 {
				first = m[1]
			}
			set[m[1]] = true
		}
		switch len(set) {
		case 0:
			continue
		case 1:
			return strings.Trim(first, "\n"), true
		default:
			return "", false
		}
	}
	return "", false
}

// BattlesFromJudgments turns judgments into Arena-Hard battles (get_battles_from_row). For
// judgments of the Arena-Hard template (or of no named template) the verdict is re-parsed
// from the judge's raw answer, so that strong verdicts count `weight` times (default 3); an
// Arena-Hard judgment without one of the five verdicts is dropped, as Arena-Hard drops it.
// Other judgments count by preference: < 1.5 the baseline (output_1) wins, > 1.5 the model
// wins, 1.5 a tie; an invalid preference is dropped. dropped counts the dropped judgments.
func BattlesFromJudgments(js []Judgment, weight int) (battles []Battle, dropped int) {
	if weight <= 0 {
		weight = 3
	}
	for _, j := range js {
		b := Battle{Question: j.Instruction, ModelA: j.Generator1, ModelB: j.Generator2}
		w := 1
		v, ok := ParseArenaVerdict(j.Raw)
		arena := j.Template == "arena-hard" || j.Template == "arena_hard"
		if ok && !arenaLabel(v) {
			ok = false
		}
		if arena && !ok {
			dropped++ // Arena-Hard drops games without a verdict
			continue
		}
		if ok && (arena || j.Template == "") {
			// the verdict names judge positions: A is output_1 unless the pair was swapped
			aWins := ""
			switch v {
			case "A=B":
				b.Winner = "tie"
			case "A>B":
				aWins = "A"
			case "A>>B":
				aWins, w = "A", weight
			case "B>A":
				aWins = "B"
			case "B>>A":
				aWins, w = "B", weight
			}
			if aWins != "" {
				baselineFirst := !j.Swapped
				if (aWins == "A") == baselineFirst {
					b.Winner = "model_a"
				} else {
					b.Winner = "model_b"
				}
			}
		} else {
			p := cleanPreference(j.Preference)
			switch {
			case math.IsNaN(p):
				dropped++
				continue
			case p < 1.5:
				b.Winner = "model_a"
			case p > 1.5:
				b.Winner = "model_b"
			default:
				b.Winner = "tie"
			}
		}
		for k := 0; k < w; k++ {
			battles = append(battles, b)
		}
	}
	return battles, dropped
}

// arenaLabel says whether v is one of the verdicts Arena-Hard v0.1 turns into battles.
func arenaLabel(v string) bool {
	switch v {
	case "A>>B", "A>B", "A=B", "B>A", "B>>A":
		return true
	}
	return false
}

// arenaDefaultBaseline is the model compute_mle_elo anchors at 1000 when the caller does not
// pass a baseline (see BTOptions.AnchorBootstrap).
const arenaDefaultBaseline = "gpt-4-0314"

// ComputeMLEElo is utils_math.compute_mle_elo: the battle table is duplicated; each row has
// +ln(10) at model_a and −ln(10) at model_b; Y = 1 when model_a wins, and a tie is Y = 1 in
// the first copy and 0 in the second; an unpenalised logistic regression without intercept
// gives coefficients c; Elo = 400·c + 1000, shifted so that the anchor model is at 1000 (no
// shift when the anchor is absent). The returned bool is false when Newton's method did not
// converge (a model that never loses or never wins has no finite MLE).
func ComputeMLEElo(battles []Battle, anchor string) (map[string]float64, bool) {
	idx := map[string]int{}
	var models []string
	for _, b := range battles {
		for _, m := range []string{b.ModelA, b.ModelB} {
			if _, ok := idx[m]; !ok {
				idx[m] = len(models)
				models = append(models, m)
			}
		}
	}
	p := len(models)
	if p == 0 {
		return map[string]float64{}, true
	}
	// aggregate the duplicated table into ones/zeros per ordered pair
	type pair struct{ a, b int }
	ones, zeros := map[pair]float64{}, map[pair]float64{}
	for _, b := range battles {
		k := pair{idx[b.ModelA], idx[b.ModelB]}
		switch b.Winner {
		case "model_a":
			ones[k] += 2
		case "model_b":
			zeros[k] += 2
		default:
			ones[k]++
			zeros[k]++
		}
	}
	var pairs []pair
	for k := range ones {
		pairs = append(pairs, k)
	}
	for k := range zeros {
		if _, ok := ones[k]; !ok {
			pairs = append(pairs, k)
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].a != pairs[j].a {
			return pairs[i].a < pairs[j].a
		}
		return pairs[i].b < pairs[j].b
	})
	k := math.Ln10
	theta := make([]float64, p) // θ_0 fixed at 0; the others free
	converged := false
	for iter := 0; iter < 100 && p > 1; iter++ {
		g := make([]float64, p)
		h := make([][]float64, p)
		for i := range h {
			h[i] = make([]float64, p)
		}
		for _, pr := range pairs {
			o, z := ones[pr], zeros[pr]
			q := sigmoid(k * (theta[pr.a] - theta[pr.b]))
			gi := k * ((o+z)*q - o) // d NLL / d θ_a
			g[pr.a] += gi
			g[pr.b] -= gi
			hi := k * k * (o + z) * q * (1 - q)
			h[pr.a][pr.a] += hi
			h[pr.b][pr.b] += hi
			h[pr.a][pr.b] -= hi
			h[pr.b][pr.a] -= hi
		}
		// reduced system on θ_1..θ_{p−1}
		m := p - 1
		a := make([][]float64, m)
		rhs := make([]float64, m)
		for i := 0; i < m; i++ {
			a[i] = make([]float64, m)
			copy(a[i], h[i+1][1:])
			a[i][i] += 1e-12
			rhs[i] = -g[i+1]
		}
		step, ok := solveLinear(a, rhs)
		if !ok {
			break
		}
		maxStep := 0.0
		for i := 0; i < m; i++ {
			s := math.Max(-5, math.Min(5, step[i])) // damp steps on near-separable data
			theta[i+1] += s
			maxStep = math.Max(maxStep, math.Abs(s))
		}
		if maxStep < 1e-10 {
			converged = true
			break
		}
	}
	if p == 1 {
		converged = true
	}
	// sklearn's lbfgs starts at zero and its gradient sums to zero, so its solution has
	// coefficients summing to zero; only the anchor shift below is visible anyway.
	mean := 0.0
	for _, t := range theta {
		mean += t
	}
	mean /= float64(p)
	elo := map[string]float64{}
	for i, m := range models {
		elo[m] = 400*(theta[i]-mean) + 1000
	}
	if v, ok := elo[anchor]; ok {
		for m := range elo {
			elo[m] += 1000 - v
		}
	}
	return elo, converged
}

// solveLinear solves a·x = b by Gaussian elimination with partial pivoting.
func solveLinear(a [][]float64, b []float64) ([]float64, bool) {
	n := len(b)
	for c := 0; c < n; c++ {
		piv := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[piv][c]) {
				piv = r
			}
		}
		if math.Abs(a[piv][c]) < 1e-300 {
			return nil, false
		}
		a[c], a[piv] = a[piv], a[c]
		b[c], b[piv] = b[piv], b[c]
		for r := c + 1; r < n; r++ {
			f := a[r][c] / a[c][c]
			for cc := c; cc < n; cc++ {
				a[r][cc] -= f * a[c][cc]
			}
			b[r] -= f * b[c]
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := b[r]
		for cc := r + 1; cc < n; cc++ {
			s -= a[r][cc] * x[cc]
		}
		x[r] = s / a[r][r]
	}
	return x, true
}

// BTOptions configure Leaderboard.
type BTOptions struct {
	// Baseline is anchored at Elo 1000 and is the reference of the win rates. Empty: the most
	// frequent generator_1.
	Baseline string
	// Weight of a strong verdict (A>>B): Arena-Hard's --weight, default 3.
	Weight int
	// Rounds of bootstrap (default 100) and the NumPy legacy seed (default 42).
	Rounds int
	Seed   uint32
	// UnanchoredBootstrapQuirk reproduces a quirk of Arena-Hard v0.1 for baselines other than
	// gpt-4-0314: its get_bootstrap_result never passes the baseline on (it builds
	// kwargs[baseline_model] = baseline_model, a key compute_mle_elo does not have), so every
	// bootstrap refit anchors at the default gpt-4-0314 when present and is left unshifted
	// otherwise; the interval ends of the baseline and the model then come from different
	// refits and the win-rate interval collapses. By default align anchors every refit at
	// Baseline, which is identical to Arena-Hard whenever the baseline is gpt-4-0314 (its
	// published setting).
	UnanchoredBootstrapQuirk bool
}

// BTRow is one model of the leaderboard.
type BTRow struct {
	Model string `json:"model"`
	// Elo and its 2.5/97.5 bootstrap percentiles.
	Elo      float64 `json:"elo"`
	EloLower float64 `json:"elo_lower"`
	EloUpper float64 `json:"elo_upper"`
	// WinRate, Lower, Upper: the same three converted to win rates (%) against the baseline,
	// 100/(1+10^((R_base−R)/400)) rounded to 2 decimals (get_win_rate_column); the baseline
	// itself is 50.
	WinRate float64 `json:"win_rate"`
	Lower   float64 `json:"lower"`
	Upper   float64 `json:"upper"`
	// Battles counts the model's battle rows (strong verdicts count Weight times).
	Battles   int `json:"battles"`
	AvgLength int `json:"avg_length"`
	// AvgTokens is the mean length of its answers in GPT-4o tokens (as StyleOf counts), the published
	// CSV's avg_tokens.
	AvgTokens int `json:"avg_tokens"`
}

// BTLeaderboard is the result of Leaderboard.
type BTLeaderboard struct {
	Baseline  string   `json:"baseline"`
	Rows      []BTRow  `json:"rows"`
	Rounds    int      `json:"bootstrap_rounds"`
	Dropped   int      `json:"dropped_judgments"`
	Converged bool     `json:"converged"`
	Warnings  []string `json:"warnings,omitempty"`
}

// Leaderboard computes Arena-Hard v0.1's leaderboard from judgments of several models
// against one baseline.
func Leaderboard(js []Judgment, opt BTOptions) (*BTLeaderboard, error) {
	if opt.Rounds == 0 {
		opt.Rounds = 100
	}
	if opt.Seed == 0 {
		opt.Seed = 42
	}
	if opt.Baseline == "" {
		cnt := map[string]int{}
		for _, j := range js {
			cnt[j.Generator1]++
		}
		for m, c := range cnt {
			if c > cnt[opt.Baseline] || (c == cnt[opt.Baseline] && m < opt.Baseline) {
				opt.Baseline = m
			}
		}
	}
	battles, dropped := BattlesFromJudgments(js, opt.Weight)
	if len(battles) == 0 {
		return nil, fmt.Errorf("eval: leaderboard: no valid battles among %d judgments", len(js))
	}
	elo, conv := ComputeMLEElo(battles, opt.Baseline)
	lb := &BTLeaderboard{Baseline: opt.Baseline, Rounds: opt.Rounds, Dropped: dropped, Converged: conv}
	if _, ok := elo[opt.Baseline]; !ok {
		return nil, fmt.Errorf("eval: leaderboard: baseline %q has no battles", opt.Baseline)
	}
	if !conv {
		lb.Warnings = append(lb.Warnings, "the Bradley–Terry fit did not converge: some model never wins or never loses, so its rating is unbounded")
	}
	bootAnchor := opt.Baseline
	if opt.UnanchoredBootstrapQuirk {
		bootAnchor = arenaDefaultBaseline
	}
	// np.random.seed(42) at import, then battles.sample(frac=1, replace=True) per round
	rng := newMT19937(opt.Seed)
	boots := map[string][]float64{}
	sample := make([]Battle, len(battles))
	for r := 0; r < opt.Rounds; r++ {
		for i := range sample {
			sample[i] = battles[rng.boundedMasked(len(battles))]
		}
		e, _ := ComputeMLEElo(sample, bootAnchor)
		for m := range elo {
			v, ok := e[m]
			if !ok {
				v = math.NaN()
			}
			boots[m] = append(boots[m], v)
		}
	}
	nb := map[string]int{}
	lens := map[string][]float64{}
	toks := map[string][]float64{}
	seenOut := map[string]bool{}
	for _, b := range battles {
		nb[b.ModelA]++
		nb[b.ModelB]++
	}
	for _, j := range js {
		for _, mo := range [][2]string{{j.Generator1, j.Output1}, {j.Generator2, j.Output2}} {
			k := mo[0] + "\x00" + j.Instruction
			if !seenOut[k] {
				seenOut[k] = true
				lens[mo[0]] = append(lens[mo[0]], float64(runeLen(mo[1])))
				n, err := gpt4oTokens(mo[1])
				if err != nil {
					return nil, err
				}
				toks[mo[0]] = append(toks[mo[0]], float64(n))
			}
		}
	}
	lower, upper := map[string]float64{}, map[string]float64{}
	for m := range elo {
		lower[m] = percentile(boots[m], 2.5)
		upper[m] = percentile(boots[m], 97.5)
	}
	wr := func(col map[string]float64, m string) float64 {
		if m == opt.Baseline {
			return 50 // predict_win_rate leaves the diagonal NaN; fillna(0.5)
		}
		return math.Round(100/(1+math.Pow(10, (col[opt.Baseline]-col[m])/400))*100) / 100
	}
	for m := range elo {
		row := BTRow{Model: m, Elo: elo[m], EloLower: lower[m], EloUpper: upper[m],
			WinRate: wr(elo, m), Lower: wr(lower, m), Upper: wr(upper, m), Battles: nb[m]}
		if l := lens[m]; len(l) > 0 {
			row.AvgLength = int(mean(l))
			row.AvgTokens = int(mean(toks[m]))
		}
		lb.Rows = append(lb.Rows, row)
	}
	sort.Slice(lb.Rows, func(a, b int) bool {
		if lb.Rows[a].WinRate != lb.Rows[b].WinRate {
			return lb.Rows[a].WinRate > lb.Rows[b].WinRate
		}
		return lb.Rows[a].Model < lb.Rows[b].Model
	})
	return lb, nil
}

// percentile is np.percentile with linear interpolation; NaNs are left out.
func percentile(xs []float64, q float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	pos := q / 100 * float64(len(v)-1)
	lo := int(math.Floor(pos))
	if lo >= len(v)-1 {
		return v[len(v)-1]
	}
	f := pos - float64(lo)
	return v[lo] + f*(v[lo+1]-v[lo])
}
