package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Arena-Hard-Auto v2's style control (show_result.py print_leaderboard_with_style_features,
// utils/math_utils.py, utils/add_markdown_info.py): every battle row carries the style
// features of the model's and the baseline's answers — length in tokens as (a−b)/(a+b), and
// header, list and bold densities (count/(tokens+1)) as (a−b)/(a+b+1) — z-scored over the
// rows and fitted jointly with the Bradley–Terry coefficients (one-hot +1 model, −1
// baseline), bootstrapped 100 times; the style-controlled score is the median of the
// bootstrap win probabilities σ(c_model − c_baseline), with 5% and 95% quantiles.

// StyleMeta is an answer's style metadata, in Arena-Hard's metadata layout.
type StyleMeta struct {
	TokenLen    int            `json:"token_len"`
	HeaderCount map[string]int `json:"header_count"`
	ListCount   map[string]int `json:"list_count"`
	BoldCount   map[string]int `json:"bold_count"`
}

var (
	styleHeaders = []*regexp.Regexp{
		regexp.MustCompile(`(?m)^#{1}\s`), regexp.MustCompile(`(?m)^#{2}\s`), regexp.MustCompile(`(?m)^#{3}\s`),
		regexp.MustCompile(`(?m)^#{4}\s`), regexp.MustCompile(`(?m)^#{5}\s`), regexp.MustCompile(`(?m)^#{6}\s`),
	}
	styleOrdered   = regexp.MustCompile(`(?m)^\s*\d+\.\s`)
	styleUnordered = regexp.MustCompile(`(?m)^\s*[-*+]\s`)
	styleBoldStar  = regexp.MustCompile(`\*\*[^*\n]+\*\*`)
	styleBoldUnder = regexp.MustCompile(`__[^_\n]+__`)
	styleCode      = regexp.MustCompile("```([^`]*)```")
	// styleTokens approximates GPT-4o's tokens by its pre-tokenizer's pieces (see StyleOf).
	styleTokens = regexp.MustCompile(`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+`)
)

// StyleOf computes an answer's style metadata as add_markdown_info.py does: markdown counts
// after removing code blocks (as it does: the text between each pair of ``` is deleted
// everywhere it occurs), token_len over the whole answer. Arena-Hard counts GPT-4o tiktoken
// tokens; align, which ships no GPT-4o vocabulary, counts the pieces of GPT-4o's
// pre-tokenizer pattern (words with their leading space, runs of up to three digits,
// punctuation runs, white space), which is within a few percent of the BPE count for English
// prose. The length feature is a ratio of two such counts, so the approximation largely
// cancels; metadata read from Arena-Hard's own files is used as is.
func StyleOf(answer string) StyleMeta {
	text := answer
	for _, m := range styleCode.FindAllStringSubmatch(answer, -1) {
		if m[1] != "" {
			text = strings.ReplaceAll(text, m[1], "")
		}
	}
	m := StyleMeta{
		TokenLen:    len(styleTokens.FindAllStringIndex(answer, -1)),
		HeaderCount: map[string]int{},
		ListCount: map[string]int{
			"ordered":   len(styleOrdered.FindAllStringIndex(text, -1)),
			"unordered": len(styleUnordered.FindAllStringIndex(text, -1)),
		},
		BoldCount: map[string]int{
			"**": len(styleBoldStar.FindAllStringIndex(text, -1)),
			"__": len(styleBoldUnder.FindAllStringIndex(text, -1)),
		},
	}
	for i, re := range styleHeaders {
		m.HeaderCount[fmt.Sprintf("h%d", i+1)] = len(re.FindAllStringIndex(text, -1))
	}
	return m
}

func sumCounts(m map[string]int) float64 {
	s := 0
	for _, v := range m {
		s += v
	}
	return float64(s)
}

// raw returns [token_len, headers, lists, bold] (show_result.py sums each count dict).
func (m StyleMeta) raw() [4]float64 {
	return [4]float64{float64(m.TokenLen), sumCounts(m.HeaderCount), sumCounts(m.ListCount), sumCounts(m.BoldCount)}
}

// StyleFeatureNames are the four style coefficients, in Arena-Hard's order.
var StyleFeatureNames = []string{"token_len", "header_count", "list_count", "bold_count"}

// styleDiff is the un-normalised feature row of a battle: the length ratio and the three
// markdown density ratios of the model's answer a against the baseline's b.
func styleDiff(a, b StyleMeta) [4]float64 {
	ra, rb := a.raw(), b.raw()
	var f [4]float64
	if ra[0]+rb[0] > 0 {
		f[0] = (ra[0] - rb[0]) / (ra[0] + rb[0])
	}
	for k := 1; k < 4; k++ {
		da, db := ra[k]/(ra[0]+1), rb[k]/(rb[0]+1)
		f[k] = (da - db) / (da + db + 1)
	}
	return f
}

// StyleBattle is one row of Arena-Hard v2's battle table: one score of a model against its
// category's baseline (1 = the model wins, 0 = it loses, 0.5 = a tie), with both answers'
// style metadata.
type StyleBattle struct {
	Category  string    `json:"category"`
	UID       string    `json:"uid"`
	Model     string    `json:"model"`
	Baseline  string    `json:"baseline"`
	Score     float64   `json:"score"`
	ModelMeta StyleMeta `json:"model_metadata"`
	BaseMeta  StyleMeta `json:"baseline_metadata"`
}

// arenaV2Scores is load_judgments' label_to_score: a game's verdict, as scores of A.
func arenaV2Scores(label string, weight int) ([]float64, bool) {
	rep := func(v float64, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	switch label {
	case "A>B", "B<A":
		return []float64{1}, true
	case "A>>B", "B<<A":
		return rep(1, weight), true
	case "A=B", "B=A":
		return []float64{0.5}, true
	case "A<B", "B>A":
		return []float64{0}, true
	case "A<<B", "B>>A":
		return rep(0, weight), true
	}
	return nil, false
}

// StyleBattlesFromJudgments builds style battles from align judgments (output_1 = the
// baseline). The two games of a pair (the same instruction, generators and judge, unswapped
// and swapped) give Arena-Hard v2's scores: label_to_score(game 2) + [1 − s for game 1] from
// the model's side; a pair with an unparsable game is dropped, as v2 drops it. A judgment
// whose order has no partner (a judge run once per pair) counts alone. Judgments of other
// templates score preference − 1 (the model's share of the win). Category is the judgment's
// dataset. dropped counts the judgments left out.
func StyleBattlesFromJudgments(js []Judgment, weight int) (battles []StyleBattle, dropped int) {
	if weight <= 0 {
		weight = 3
	}
	type key struct{ instr, g1, g2, judge, ds string }
	type pair struct{ plain, swapped *Judgment }
	groups := map[key]*pair{}
	var order []key
	for i := range js {
		j := &js[i]
		k := key{j.Instruction, j.Generator1, j.Generator2, j.Judge, j.Dataset}
		p := groups[k]
		if p == nil {
			p = &pair{}
			groups[k] = p
			order = append(order, k)
		}
		if j.Swapped {
			p.swapped = j
		} else {
			p.plain = j
		}
	}
	scores := func(j *Judgment) ([]float64, bool) {
		arena := j.Template == "arena-hard" || j.Template == "arena_hard" || j.Template == ""
		if v, ok := ParseArenaVerdict(j.Raw); ok && arena {
			s, ok := arenaV2Scores(v, weight)
			if !ok {
				return nil, false
			}
			if !j.Swapped { // A is the baseline: the model's scores are 1 − s
				for i := range s {
					s[i] = 1 - s[i]
				}
			}
			return s, true
		}
		if j.Template == "arena-hard" || j.Template == "arena_hard" {
			return nil, false
		}
		p := cleanPreference(j.Preference)
		if math.IsNaN(p) {
			return nil, false
		}
		return []float64{p - 1}, true
	}
	meta := func(m *StyleMeta, text string) StyleMeta {
		if m != nil {
			return *m
		}
		return StyleOf(text)
	}
	for _, k := range order {
		p := groups[k]
		var all []float64
		n := 0
		ok := true
		for _, j := range []*Judgment{p.swapped, p.plain} {
			if j == nil {
				continue
			}
			n++
			s, good := scores(j)
			if !good {
				ok = false
				continue
			}
			all = append(all, s...)
		}
		if !ok {
			dropped += n
			continue
		}
		j := p.plain
		if j == nil {
			j = p.swapped
		}
		mm, bm := meta(j.Style2, j.Output2), meta(j.Style1, j.Output1)
		for _, s := range all {
			battles = append(battles, StyleBattle{Category: k.ds, UID: k.instr, Model: k.g2, Baseline: k.g1, Score: s, ModelMeta: mm, BaseMeta: bm})
		}
	}
	return battles, dropped
}

// StyleOptions configure StyleControl.
type StyleOptions struct {
	// Features: "length", "markdown" or both (default both), as --control-features.
	Features []string
	// Baseline overrides the rows' baseline (it must be the baseline of every row).
	Baseline string
	// Rounds of bootstrap (default 100) and the seed of NumPy's legacy generator (default 42;
	// Arena-Hard v2 leaves its generator unseeded).
	Rounds int
	Seed   uint32
}

// StyleCoef is one style coefficient: the fit on every battle, and the bootstrap median and
// 5%/95% quantiles.
type StyleCoef struct {
	Feature string  `json:"feature"`
	Fit     float64 `json:"fit"`
	Median  float64 `json:"median"`
	Lower   float64 `json:"lower"`
	Upper   float64 `json:"upper"`
}

// StyleRow is one model of a style-controlled leaderboard.
type StyleRow struct {
	Model string `json:"model"`
	// Score, Lower, Upper: the median and 5%/95% quantiles of the bootstrap win probabilities
	// against the baseline, in percent rounded to one decimal (format_confidence_interval).
	Score float64 `json:"score"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// Coef is the model's Bradley–Terry coefficient in the fit on every battle (the baseline's
	// subtracted), and FitScore its win probability (%), unrounded.
	Coef     float64 `json:"coef"`
	FitScore float64 `json:"fit_score"`
	Battles  int     `json:"battles"`
	// AvgTokens is the mean token_len of the model's answers.
	AvgTokens float64 `json:"avg_tokens"`
}

// StyleLeaderboard is the style-controlled leaderboard of one category.
type StyleLeaderboard struct {
	Category  string      `json:"category"`
	Baseline  string      `json:"baseline"`
	Features  []string    `json:"features"`
	Rows      []StyleRow  `json:"rows"`
	Coefs     []StyleCoef `json:"style_coefficients"`
	Battles   int         `json:"battles"`
	Rounds    int         `json:"bootstrap_rounds"`
	Converged bool        `json:"converged"`
	Warnings  []string    `json:"warnings,omitempty"`
}

// styleDesign is the fit's design: one-hot model columns (sorted, the baseline among them)
// then the z-scored style columns.
type styleDesign struct {
	models   []string
	features []string
	x        [][]float64
	y        []float64
}

func buildStyleDesign(bs []StyleBattle, baseline string, use [4]bool) (*styleDesign, []string, error) {
	set := map[string]bool{baseline: true}
	for _, b := range bs {
		set[b.Model] = true
	}
	d := &styleDesign{}
	for m := range set {
		d.models = append(d.models, m)
	}
	sort.Strings(d.models)
	idx := map[string]int{}
	for i, m := range d.models {
		idx[m] = i
	}
	n := len(bs)
	raw := make([][4]float64, n)
	for i, b := range bs {
		raw[i] = styleDiff(b.ModelMeta, b.BaseMeta)
	}
	var warnings []string
	var cols []int
	var mu, sd []float64
	for k := 0; k < 4; k++ {
		if !use[k] {
			continue
		}
		m, s := 0.0, 0.0
		for i := range raw {
			m += raw[i][k]
		}
		m /= float64(n)
		for i := range raw {
			s += (raw[i][k] - m) * (raw[i][k] - m)
		}
		if n > 1 {
			s = math.Sqrt(s / float64(n-1)) // torch.std: unbiased
		}
		if !(s > 1e-12) {
			warnings = append(warnings, fmt.Sprintf("style feature %s does not vary across the battles (Arena-Hard's z-score would be NaN); it is left out of the fit", StyleFeatureNames[k]))
			continue
		}
		cols = append(cols, k)
		mu, sd = append(mu, m), append(sd, s)
		d.features = append(d.features, StyleFeatureNames[k])
	}
	p := len(d.models) + len(cols)
	d.x = make([][]float64, n)
	d.y = make([]float64, n)
	for i, b := range bs {
		row := make([]float64, p)
		row[idx[b.Model]] = 1
		row[idx[baseline]] = -1
		for c, k := range cols {
			row[len(d.models)+c] = (raw[i][k] - mu[c]) / sd[c]
		}
		d.x[i], d.y[i] = row, b.Score
	}
	return d, warnings, nil
}

// fitStyleBT minimises Arena-Hard v2's summed Bradley–Terry cross-entropy over the rows idx
// of the design (all when nil) by Newton's method with a backtracking line search. The model
// coefficients are determined up to a common shift; like PyTorch's L-BFGS started from 0.5,
// whose steps never change their sum, the solution keeps their sum at 0.5 per model.
func fitStyleBT(d *styleDesign, idx []int) ([]float64, bool) {
	k := len(d.models)
	p := len(d.x[0])
	theta := make([]float64, p)
	for i := range theta {
		theta[i] = 0.5
	}
	rows := idx
	if rows == nil {
		rows = make([]int, len(d.x))
		for i := range rows {
			rows[i] = i
		}
	}
	loss := func(th []float64) float64 {
		l := 0.0
		for _, r := range rows {
			z := dot(d.x[r], th)
			// −[y log σ(z) + (1−y) log(1−σ(z))] = softplus(z) − y·z
			l += softplus(z) - d.y[r]*z
		}
		return l
	}
	cur := loss(theta)
	for iter := 0; iter < 100; iter++ {
		g := make([]float64, p)
		h := make([][]float64, p)
		for i := range h {
			h[i] = make([]float64, p)
		}
		for _, r := range rows {
			x := d.x[r]
			q := sigmoid(dot(x, theta))
			w := q * (1 - q)
			for i, xi := range x {
				if xi == 0 {
					continue
				}
				g[i] += (q - d.y[r]) * xi
				for j, xj := range x {
					if xj != 0 {
						h[i][j] += w * xi * xj
					}
				}
			}
		}
		// add v·vᵀ for the null direction v = (1 on model columns): H + vvᵀ is invertible and
		// its step keeps vᵀθ fixed, because vᵀg = 0 and Hv = 0.
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				h[i][j]++
			}
		}
		for i := range h {
			h[i][i] += 1e-10
		}
		rhs := make([]float64, p)
		for i := range g {
			rhs[i] = -g[i]
		}
		step, ok := solveLinear(h, rhs)
		if !ok {
			return theta, false
		}
		t := 1.0
		next := make([]float64, p)
		var nl float64
		for ls := 0; ls < 40; ls++ {
			for i := range theta {
				next[i] = theta[i] + t*step[i]
			}
			nl = loss(next)
			if nl <= cur+1e-12*math.Abs(cur) {
				break
			}
			t /= 2
		}
		maxStep := 0.0
		for i := range step {
			maxStep = math.Max(maxStep, math.Abs(t*step[i]))
		}
		copy(theta, next)
		done := math.Abs(cur-nl) <= 1e-12*math.Max(1, math.Abs(cur)) && maxStep < 1e-8
		cur = nl
		if maxStep < 1e-10 || done {
			return theta, true
		}
	}
	return theta, false
}

// battlesByCategory groups battles by category (sorted), leaving out a baseline's battles
// against itself.
func battlesByCategory(battles []StyleBattle) (map[string][]StyleBattle, []string) {
	byCat := map[string][]StyleBattle{}
	var cats []string
	for _, b := range battles {
		if b.Model == b.Baseline {
			continue
		}
		if _, ok := byCat[b.Category]; !ok {
			cats = append(cats, b.Category)
		}
		byCat[b.Category] = append(byCat[b.Category], b)
	}
	sort.Strings(cats)
	return byCat, cats
}

// StyleControl fits the style-controlled leaderboard of each category in battles (one
// baseline per category: the rows' own, as Arena-Hard v2 takes it from JUDGE_SETTINGS).
func StyleControl(battles []StyleBattle, opt StyleOptions) ([]*StyleLeaderboard, error) {
	if opt.Rounds == 0 {
		opt.Rounds = 100
	}
	if opt.Seed == 0 {
		opt.Seed = 42
	}
	var use [4]bool
	feats := opt.Features
	if len(feats) == 0 {
		feats = []string{"length", "markdown"}
	}
	for _, f := range feats {
		switch f {
		case "length":
			use[0] = true
		case "markdown":
			use[1], use[2], use[3] = true, true, true
		default:
			return nil, fmt.Errorf("eval: style control: feature %q (want length or markdown)", f)
		}
	}
	byCat, cats := battlesByCategory(battles)
	if len(cats) == 0 {
		return nil, errors.New("eval: style control: no battles")
	}
	var out []*StyleLeaderboard
	for _, c := range cats {
		lb, err := styleControlCategory(c, byCat[c], opt, use)
		if err != nil {
			return nil, err
		}
		out = append(out, lb)
	}
	return out, nil
}

func styleControlCategory(cat string, bs []StyleBattle, opt StyleOptions, use [4]bool) (*StyleLeaderboard, error) {
	baseline := opt.Baseline
	for _, b := range bs {
		if baseline == "" {
			baseline = b.Baseline
		}
		if b.Baseline != baseline {
			return nil, fmt.Errorf("eval: style control: category %q has battles against %s and %s; Arena-Hard fits one baseline per category", cat, baseline, b.Baseline)
		}
	}
	d, warnings, err := buildStyleDesign(bs, baseline, use)
	if err != nil {
		return nil, err
	}
	lb := &StyleLeaderboard{Category: cat, Baseline: baseline, Features: d.features, Battles: len(bs), Rounds: opt.Rounds, Warnings: warnings}
	k := len(d.models)
	bi := sort.SearchStrings(d.models, baseline)
	full, conv := fitStyleBT(d, nil)
	lb.Converged = conv
	if !conv {
		lb.Warnings = append(lb.Warnings, "the Bradley–Terry fit did not converge: some model never wins or never loses, so its coefficient is unbounded")
	}
	// boot_idxs = np.random.randint(0, n, size=(rounds, n))
	rng := newMT19937(opt.Seed)
	n := len(bs)
	probs := make([][]float64, k)
	coefs := make([][]float64, len(d.features))
	idx := make([]int, n)
	for r := 0; r < opt.Rounds; r++ {
		for i := range idx {
			idx[i] = rng.boundedMasked(n)
		}
		th, _ := fitStyleBT(d, idx)
		for m := 0; m < k; m++ {
			probs[m] = append(probs[m], sigmoid(th[m]-th[bi]))
		}
		for f := range d.features {
			coefs[f] = append(coefs[f], th[k+f])
		}
	}
	nb := map[string]int{}
	toks := map[string][]float64{}
	seen := map[string]bool{}
	for _, b := range bs {
		nb[b.Model]++
		for _, mm := range []struct {
			m    string
			meta StyleMeta
		}{{b.Model, b.ModelMeta}, {b.Baseline, b.BaseMeta}} {
			key := mm.m + "\x00" + b.UID
			if !seen[key] {
				seen[key] = true
				toks[mm.m] = append(toks[mm.m], float64(mm.meta.TokenLen))
			}
		}
	}
	round1 := func(x float64) float64 { return math.Round(x*1000) / 10 }
	for m, name := range d.models {
		row := StyleRow{Model: name, Score: round1(percentile(probs[m], 50)), Lower: round1(percentile(probs[m], 5)),
			Upper: round1(percentile(probs[m], 95)), Coef: full[m] - full[bi], FitScore: 100 * sigmoid(full[m]-full[bi]), Battles: nb[name]}
		if name == baseline {
			row.Score, row.Lower, row.Upper, row.Battles = 50, 50, 50, len(bs)
		}
		if t := toks[name]; len(t) > 0 {
			row.AvgTokens = mean(t)
		}
		lb.Rows = append(lb.Rows, row)
	}
	sort.SliceStable(lb.Rows, func(a, b int) bool {
		if lb.Rows[a].Score != lb.Rows[b].Score {
			return lb.Rows[a].Score > lb.Rows[b].Score
		}
		return lb.Rows[a].Model < lb.Rows[b].Model
	})
	for f, name := range d.features {
		lb.Coefs = append(lb.Coefs, StyleCoef{Feature: name, Fit: full[k+f], Median: percentile(coefs[f], 50),
			Lower: percentile(coefs[f], 5), Upper: percentile(coefs[f], 95)})
	}
	return lb, nil
}

// MarshalJSON keeps StyleMeta's maps present even when empty.
func (m StyleMeta) MarshalJSON() ([]byte, error) {
	type plain StyleMeta
	p := plain(m)
	for _, mp := range []*map[string]int{&p.HeaderCount, &p.ListCount, &p.BoldCount} {
		if *mp == nil {
			*mp = map[string]int{}
		}
	}
	return json.Marshal(p)
}
