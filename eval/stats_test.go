package eval

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func near(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}

// Vectors from CPython 3.11: random.Random(s).random() and .getrandbits(32).
func TestPythonRandomStringSeed(t *testing.T) {
	cases := []struct {
		seed string
		f    float64
		bits uint32
	}{
		{"abc", 0.7720246314157545, 2397318194},
		{"is_switched_outputsWhat is 2+2?123", 0.03848596174458019, 3585552453},
		{"", 0.9602256525641875, 2557274880},
		{"héllo wörld ✓", 0.1999033837170835, 3275144052},
	}
	for _, c := range cases {
		r := pythonRandomFromString(c.seed)
		if got := r.float64(); got != c.f {
			t.Errorf("random.Random(%q).random() = %v, want %v", c.seed, got, c.f)
		}
		if got := r.uint32(); got != c.bits {
			t.Errorf("random.Random(%q).getrandbits(32) = %v, want %v", c.seed, got, c.bits)
		}
	}
}

// NumPy's legacy generator: np.random.seed(42); np.random.rand() is 0.3745401188473625, and
// np.random.seed(42); np.random.randint(0, 10, 5) is [6, 3, 7, 4, 6].
func TestNumpyLegacyMT(t *testing.T) {
	if got := newMT19937(42).float64(); got != 0.3745401188473625 {
		t.Errorf("rand() = %v", got)
	}
	r := newMT19937(42)
	want := []int{6, 3, 7, 4, 6}
	for i, w := range want {
		if got := r.boundedMasked(10); got != w {
			t.Errorf("randint[%d] = %d, want %d", i, got, w)
		}
	}
}

// Vectors from CPython: random.Random("is_switched_outputs"+ins+"123").choices([False, True]).
func TestAlpacaEvalSwitch(t *testing.T) {
	cases := map[string]bool{
		"What is 2+2?":                               false,
		"Write a poem about the sea.":                true,
		"How do I bake bread?":                       false,
		`Translate "bonjour" to English.`:            true,
		"Give me 3 tips for sleeping better.":        true,
		"Explain quantum computing in simple terms.": false,
	}
	for ins, want := range cases {
		if got := alpacaEvalIsSwitched(ins, 123); got != want {
			t.Errorf("switch(%q) = %v, want %v", ins, got, want)
		}
	}
}

func TestWinRateHandComputed(t *testing.T) {
	// all wins
	h := WinRateStats([]float64{2, 2, 2, 2})
	if h.WinRate != 100 || h.StandardError != 0 || h.NWins != 4 || h.NWinsBase != 0 || h.NDraws != 0 || h.NTotal != 4 || h.DiscreteWinRate != 100 {
		t.Errorf("all wins: %+v", h)
	}
	// all ties, including AlpacaEval's legacy 0
	h = WinRateStats([]float64{1.5, 0, 1.5})
	if h.WinRate != 50 || h.StandardError != 0 || h.NWins != 0 || h.NWinsBase != 0 || h.NDraws != 3 || h.NTotal != 3 || h.DiscreteWinRate != 50 {
		t.Errorf("all ties: %+v", h)
	}
	// one judgment: sem of one value is NaN in pandas
	h = WinRateStats([]float64{1.25})
	if h.WinRate != 25 || !math.IsNaN(h.StandardError) || h.NWinsBase != 1 || h.NTotal != 1 || h.DiscreteWinRate != 0 {
		t.Errorf("one judgment: %+v", h)
	}
	// mixed, by hand: x = [1, 0, 0.5, 0.8, 0.3] → mean 0.52; squared deviations sum to 0.628;
	// NaN and 2.5 are invalid. discrete (ZeroOneScoringRule): 1.5 → draw, 1.8 → 2, 1.3 → 1, and
	// 2.5 rounds half-to-even to 2 and so counts as a win there: (1+0+0.5+1+0+1)/6
	h = WinRateStats([]float64{2, 1, 1.5, 1.8, 1.3, math.NaN(), 2.5})
	wantSE := 100 * math.Sqrt(0.628/4) / math.Sqrt(5)
	if !near(h.WinRate, 52, 1e-12) || !near(h.StandardError, wantSE, 1e-12) || h.NWins != 2 || h.NWinsBase != 2 ||
		h.NDraws != 1 || h.NTotal != 5 || h.NInvalid != 2 || !near(h.DiscreteWinRate, 350.0/6, 1e-12) {
		t.Errorf("mixed: %+v (want SE %v)", h, wantSE)
	}
}

func TestWinRateSwapInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	prefs := make([]float64, 200)
	swapped := make([]float64, 200)
	for i := range prefs {
		prefs[i] = 1 + rng.Float64()
		if i%7 == 0 {
			prefs[i] = 1.5
		}
		swapped[i] = 3 - prefs[i]
	}
	a, b := WinRateStats(prefs), WinRateStats(swapped)
	if !near(a.WinRate, 100-b.WinRate, 1e-9) || !near(a.StandardError, b.StandardError, 1e-9) ||
		a.NWins != b.NWinsBase || a.NDraws != b.NDraws || !near(a.DiscreteWinRate, 100-b.DiscreteWinRate, 1e-9) {
		t.Errorf("swap: %+v vs %+v", a, b)
	}
}

func TestIsExtremeChange(t *testing.T) {
	// examples of get_is_extreme_changes' docstring (abs 10, rel 4): from 50, < 37.5 or > 62.5
	for _, c := range []struct {
		prev, next float64
		want       bool
	}{{50, 37.4, true}, {50, 37.6, false}, {50, 62.4, false}, {50, 62.6, true}, {20, 9.9, true}, {20, 10.1, false}, {20, 40.1, true}} {
		if got := IsExtremeChange(c.prev, c.next); got != c.want {
			t.Errorf("IsExtremeChange(%v, %v) = %v", c.prev, c.next, got)
		}
	}
}

// synthJudgments makes n judgments whose judge prefers longer outputs and the model a bit.
func synthJudgments(n int, seed uint64) []Judgment {
	rng := rand.New(rand.NewPCG(seed, 7))
	js := make([]Judgment, n)
	for i := range js {
		l1 := 50 + rng.IntN(400)
		l2 := 50 + rng.IntN(600)
		z := 0.4 + 1.5*math.Tanh(float64(l2-l1)/200)
		p := 1 / (1 + math.Exp(-z))
		pref := 1 + p
		if rng.Float64() < 0.3 { // some hard labels, as a binarized judge would give
			pref = 1
			if rng.Float64() < p {
				pref = 2
			}
		}
		js[i] = Judgment{Instruction: "q" + strconv.Itoa(i), Output1: strings.Repeat("a", l1), Output2: strings.Repeat("b", l2),
			Generator1: "base", Generator2: "model", Preference: pref, Judge: "j"}
	}
	return js
}

// TestLCAgainstGradientDescent checks the GLM fit against an independent solver written here:
// proximal gradient descent (ISTA) on the same duplicated, weighted L1 objective at the C the
// CV chose, run to convergence.
func TestLCAgainstGradientDescent(t *testing.T) {
	js := synthJudgments(300, 3)
	js[5].Preference = math.NaN() // an invalid judgment is left out of the fit, kept in the prediction
	fit, err := LengthControlled(js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// the design, built independently from the definition
	var lens []float64
	for _, j := range js {
		lens = append(lens, float64(len(j.Output1)-len(j.Output2)))
	}
	m := 0.0
	for _, v := range lens {
		m += v
	}
	m /= float64(len(lens))
	ss := 0.0
	for _, v := range lens {
		ss += (v - m) * (v - m)
	}
	sd := math.Sqrt(ss / float64(len(lens)-1))
	type row struct{ x0, x1, y, w float64 }
	var rows []row
	for i, j := range js {
		if math.IsNaN(j.Preference) {
			continue
		}
		y := j.Preference - 1
		x0 := math.Tanh(lens[i] / sd)
		rows = append(rows, row{x0, 1, 1, y}, row{x0, 1, 0, 1 - y})
	}
	C := fit.CV.C
	w := [2]float64{}
	// Lipschitz constant of the smooth part: C·Σ w·|x|²/4
	L := 0.0
	for _, r := range rows {
		L += C * r.w * (r.x0*r.x0 + r.x1*r.x1) / 4
	}
	step := 1 / L
	for it := 0; it < 200000; it++ {
		g := [2]float64{}
		for _, r := range rows {
			p := 1 / (1 + math.Exp(-(w[0]*r.x0 + w[1]*r.x1)))
			g[0] += C * r.w * (p - r.y) * r.x0
			g[1] += C * r.w * (p - r.y) * r.x1
		}
		moved := 0.0
		for k := range w {
			v := w[k] - step*g[k]
			// prox of step·|·|
			switch {
			case v > step:
				v -= step
			case v < -step:
				v += step
			default:
				v = 0
			}
			moved = math.Max(moved, math.Abs(v-w[k]))
			w[k] = v
		}
		if moved < 1e-13 {
			break
		}
	}
	if !near(fit.Weights[colTanhLen], w[0], 1e-6) || !near(fit.Weights[colNotGamed], w[1], 1e-6) {
		t.Errorf("coefficients %v vs gradient descent %v (C=%v)", fit.Weights, w, C)
	}
	wantLC := 100 / (1 + math.Exp(-w[1]))
	if !near(fit.WinRate, wantLC, 1e-4) || !near(fit.StandardError, 0, 1e-9) {
		t.Errorf("LC %v ± %v, want %v ± 0", fit.WinRate, fit.StandardError, wantLC)
	}
	// the judge favours length, the model writes longer: the raw win rate exceeds the LC one,
	// and the LC one is near the planted σ(0.4)
	h := WinRateStats(prefsOf(js))
	if !(fit.WinRate < h.WinRate) || math.Abs(fit.WinRate-100/(1+math.Exp(-0.4))) > 6 {
		t.Errorf("LC %v, raw %v, planted %v", fit.WinRate, h.WinRate, 100/(1+math.Exp(-0.4)))
	}
	if fit.Weights[colTanhLen] >= 0 {
		t.Errorf("length coefficient %v should be negative (output_1 longer → model loses)", fit.Weights[colTanhLen])
	}
}

func prefsOf(js []Judgment) []float64 {
	p := make([]float64, len(js))
	for i, j := range js {
		p[i] = j.Preference
	}
	return p
}

func TestLCWithDifficulty(t *testing.T) {
	js := synthJudgments(200, 5)
	diff := map[string]float64{}
	for i, j := range js {
		diff[j.Instruction] = float64(i%5) - 2
	}
	fit, err := LengthControlled(js, diff, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fit.GLM != "length_controlled_noreg" || len(fit.Weights) != 3 {
		t.Fatalf("%+v", fit)
	}
	// LC = 100·mean σ(θ_d·d + θ_ng), recomputed here
	s := 0.0
	for _, j := range js {
		s += 1 / (1 + math.Exp(-(fit.Weights[colDifficulty]*diff[j.Instruction] + fit.Weights[colNotGamed])))
	}
	if !near(fit.WinRate, 100*s/float64(len(js)), 1e-9) {
		t.Errorf("LC %v vs %v", fit.WinRate, 100*s/float64(len(js)))
	}
	if fit.Weights[colDifficulty] != 0 && fit.StandardError <= 0 {
		t.Errorf("lc_standard_error %v should be positive when the difficulty term is used", fit.StandardError)
	}
	// the gamed rows of v1 pull towards the baseline
	var gamed []GamedRow
	for i := 0; i < 100; i++ {
		gamed = append(gamed, GamedRow{Preference: 0.5, StdDeltaLen: float64(i%3) - 1, Difficulty: float64(i%5) - 2})
	}
	v1, err := LengthControlled(js, diff, gamed)
	if err != nil || v1.GLM != "length_controlled_v1" {
		t.Fatalf("%v %+v", err, v1)
	}
}

// Reproduction of published AlpacaEval 2 rows from the files we have (eval/testdata/alpaca_eval,
// copied from tatsu-lab/alpaca_eval with its LICENSE).
func TestPublishedLeaderboardRows(t *testing.T) {
	rows := readLeaderboard(t, "testdata/alpaca_eval/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv")

	// 1. gpt4_1106_preview against itself. AlpacaEval gives identical outputs preference 1.5
	// without calling the judge (annotators/pairwise_evaluator.py), so these judgments are
	// derived honestly from the stored outputs alone; the whole row must come out.
	ref := readOutputs(t, "testdata/alpaca_eval/reference_gpt4_1106_preview.model_outputs.json")
	var js []Judgment
	for _, o := range ref {
		js = append(js, Judgment{Instruction: o.Instruction, Output1: o.Output, Output2: o.Output,
			Generator1: o.Generator, Generator2: o.Generator, Preference: identicalPreference(o.Output, o.Output), Dataset: o.Dataset})
	}
	all := Stats(js, StatsOptions{})
	got := all[0]
	want := rows["gpt4_1106_preview"]
	check := func(name string, g float64) {
		w, err := strconv.ParseFloat(want[name], 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !near(g, w, 1e-9) {
			t.Errorf("gpt4_1106_preview %s = %v, published %v", name, g, w)
		}
	}
	check("win_rate", got.WinRate)
	check("standard_error", got.StandardError)
	check("n_wins", float64(got.NWins))
	check("n_wins_base", float64(got.NWinsBase))
	check("n_draws", float64(got.NDraws))
	check("n_total", float64(got.NTotal))
	check("discrete_win_rate", got.DiscreteWinRate)
	check("avg_length", float64(got.AvgLength))
	check("length_controlled_winrate", got.LengthControlledWinRate)
	// per-dataset subsets exist (the 805 instructions come from 5 datasets) and are all 50
	if len(all) < 3 {
		t.Errorf("want per-dataset rows, got %d", len(all))
	}
	for _, h := range all[1:] {
		if h.WinRate != 50 || h.Dataset == "" {
			t.Errorf("subset %+v", h)
		}
	}

	// 2. LC weights: predict_winrate(m, m) = 0.5 for every model, and the baseline's own row
	// is all zeros, whatever the difficulties.
	w, err := ReadLCWeights("testdata/alpaca_eval/lc_v1_weights_baseline_gpt4_1106_preview.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(w) < 100 {
		t.Fatalf("only %d weight rows", len(w))
	}
	for _, v := range w["gpt4_1106_preview"] {
		if v != 0 {
			t.Errorf("baseline weights %v", w["gpt4_1106_preview"])
		}
	}
	d := []float64{-1, 0, 0.5, 2}
	for m := range w {
		p, err := w.PredictWinRate(m, m, d)
		if err != nil || p != 0.5 {
			t.Errorf("predict_winrate(%s, %s) = %v, %v", m, m, p, err)
		}
	}
	// antisymmetry: predict(a, b) + predict(b, a) = 1 for every difficulty vector
	a, b := "text_davinci_001", "gpt4_1106_preview_verbose"
	pab, _ := w.PredictWinRate(a, b, d)
	pba, _ := w.PredictWinRate(b, a, d)
	if !near(pab+pba, 1, 1e-12) {
		t.Errorf("predict(a,b)+predict(b,a) = %v", pab+pba)
	}
}

// identicalPreference is AlpacaEval's rule for identical outputs: a draw without a judge call.
func identicalPreference(o1, o2 string) float64 {
	if o1 == o2 {
		return 1.5
	}
	return math.NaN()
}

type outputRow struct {
	Dataset     string `json:"dataset"`
	Instruction string `json:"instruction"`
	Output      string `json:"output"`
	Generator   string `json:"generator"`
}

func readOutputs(t *testing.T, path string) []outputRow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []outputRow
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func readLeaderboard(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out[r[0]] = m
	}
	return out
}

// avg_length is int(mean(len(output))) in code points. For gpt4_1106_preview the stored outputs
// give the published 2049 (checked above). For text_davinci_001 the stored file has 803 of the
// 805 outputs and gives 297, while the published row (computed from the full 805) says 296:
// not reproducible from our copy, and this test pins that fact so that it stays documented.
func TestAvgLengthDavinci001(t *testing.T) {
	rows := readOutputs(t, "testdata/alpaca_eval/text_davinci_001.model_outputs.json")
	s := 0
	for _, r := range rows {
		s += runeLen(r.Output)
	}
	if len(rows) != 803 || s/len(rows) != 297 {
		t.Errorf("davinci001: %d outputs, avg %d", len(rows), s/len(rows))
	}
}

func TestJudgmentLogResume(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "judgments.jsonl")
	l, err := OpenJudgmentLog(path)
	if err != nil {
		t.Fatal(err)
	}
	j1 := Judgment{Instruction: "a", Output1: "x", Output2: "y", Generator1: "b", Generator2: "m", Preference: 2, Judge: "j", Raw: "M"}
	j2 := j1
	j2.Instruction, j2.Preference = "b", math.NaN()
	for _, j := range []Judgment{j1, j2} {
		if err := l.Append(j); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	// simulate a kill mid-write
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"instruction":"c","output_1":"x","outp`)
	f.Close()
	js, torn, err := ReadJudgments(path)
	if err != nil || !torn || len(js) != 2 || js[0].Preference != 2 || !math.IsNaN(js[1].Preference) {
		t.Fatalf("read: %v torn=%v %+v", err, torn, js)
	}
	l, err = OpenJudgmentLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Has(j1) || !l.Has(j2) || len(l.Existing) != 2 {
		t.Errorf("resume lost judgments")
	}
	j3 := j1
	j3.Instruction = "c"
	if l.Has(j3) {
		t.Errorf("torn line counted as judged")
	}
	if err := l.Append(j3); err != nil {
		t.Fatal(err)
	}
	l.Close()
	js, torn, err = ReadJudgments(path)
	if err != nil || torn || len(js) != 3 {
		t.Fatalf("after resume: %v torn=%v n=%d", err, torn, len(js))
	}
	// a malformed line in the middle is an error, not silently skipped
	b, _ := os.ReadFile(path)
	bad := bytes.Replace(b, []byte("\n"), []byte("\n{oops\n"), 1)
	os.WriteFile(path, bad, 0o644)
	if _, _, err := ReadJudgments(path); err == nil {
		t.Errorf("malformed middle line accepted")
	}
}

func TestInvalidWarning(t *testing.T) {
	js := synthJudgments(50, 9)
	for i := 0; i < 6; i++ {
		js[i].Preference = math.NaN()
	}
	h := Stats(js, StatsOptions{})[0]
	if h.NInvalid != 6 || h.NTotal != 44 {
		t.Fatalf("invalid %d total %d", h.NInvalid, h.NTotal)
	}
	found := false
	for _, w := range h.Warnings {
		if strings.Contains(w, "invalid") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning for 12%% invalid: %v", h.Warnings)
	}
	js[0].Preference, js[1].Preference = 2, 2 // now 4/50 = 8%
	h = Stats(js, StatsOptions{})[0]
	for _, w := range h.Warnings {
		if strings.Contains(w, "invalid") {
			t.Errorf("warning at 8%%: %v", w)
		}
	}
}

// AlpacaEval's own annotations.json reads directly: annotator → judge, raw_completion → raw,
// null preference → invalid.
func TestReadAlpacaEvalAnnotations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "annotations.json")
	os.WriteFile(path, []byte(`[
 {"instruction":"a","output_1":"x","generator_1":"gpt4_1106_preview","dataset":"koala","output_2":"yy","generator_2":"m",
  "annotator":"weighted_alpaca_eval_gpt4_turbo","preference":1.9975,"time_per_example":0.8,"price_per_example":0.01,
  "raw_completion":{"finish_reason":"length","logprobs":{"content":[{"token":"M","logprob":-0.0025}]},"text":"M"}},
 {"instruction":"b","output_1":"x","generator_1":"gpt4_1106_preview","dataset":"koala","output_2":"y","generator_2":"m",
  "annotator":"weighted_alpaca_eval_gpt4_turbo","preference":null,"raw_completion":"garbled"}
]`), 0o644)
	js, _, err := ReadJudgments(path)
	if err != nil || len(js) != 2 {
		t.Fatalf("%v %d", err, len(js))
	}
	if js[0].Judge != "weighted_alpaca_eval_gpt4_turbo" || js[0].Preference != 1.9975 || !strings.Contains(js[0].Raw, `"text":"M"`) {
		t.Errorf("first: %+v", js[0])
	}
	if !math.IsNaN(js[1].Preference) || js[1].Raw != "garbled" {
		t.Errorf("second: %+v", js[1])
	}
	h := Stats(js, StatsOptions{})[0]
	if h.NTotal != 1 || h.NInvalid != 1 || !near(h.WinRate, 99.75, 1e-9) {
		t.Errorf("stats %+v", h)
	}
}

func TestReadDifficultyAndGamed(t *testing.T) {
	byText, err := ReadDifficulty(strings.NewReader("instruction,instruction_difficulty\nwhat?,0.5\n\"a, b\",-1.25\n"), nil)
	if err != nil || byText["what?"] != 0.5 || byText["a, b"] != -1.25 {
		t.Fatalf("%v %v", err, byText)
	}
	// AlpacaEval's instruction_difficulty.csv: index, difficulty; needs the instructions
	idx := "index,instruction_difficulty\n0,0.1\n1,0.2\n"
	if _, err := ReadDifficulty(strings.NewReader(idx), nil); err == nil {
		t.Errorf("index-keyed table without instructions accepted")
	}
	byIdx, err := ReadDifficulty(strings.NewReader(idx), []string{"first", "second"})
	if err != nil || byIdx["first"] != 0.1 || byIdx["second"] != 0.2 {
		t.Fatalf("%v %v", err, byIdx)
	}
	if _, err := ReadDifficulty(strings.NewReader("index,instruction_difficulty\n5,0.1\n"), []string{"x"}); err == nil {
		t.Errorf("out-of-range index accepted")
	}
	g, err := ReadGamed(strings.NewReader("preference,index,std_delta_len,instruction_difficulty,not_gamed_baseline\n0.25,0,-1.5,0.3,False\n,1,0.2,0.1,False\n"))
	if err != nil || len(g) != 2 || g[0].Preference != 0.25 || g[0].StdDeltaLen != -1.5 || !math.IsNaN(g[1].Preference) {
		t.Fatalf("%v %+v", err, g)
	}
	// a judgment whose instruction has no difficulty is an error, not a silent zero
	js := synthJudgments(20, 4)
	if _, err := LengthControlled(js, byText, nil); err == nil {
		t.Errorf("missing difficulty accepted")
	}
}

// A directory of win-rate runs holds outputs/*.jsonl next to judgments.jsonl; only the
// judgments are read.
func TestReadJudgmentsDirSkipsOutputs(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(dir, m, "outputs"), 0o755)
		os.WriteFile(filepath.Join(dir, m, "outputs", m+".jsonl"), []byte(`{"prompt_id":"1","sample":0,"response":"hi"}`+"\n"), 0o644)
		f, _ := os.Create(filepath.Join(dir, m, "judgments.jsonl"))
		WriteJudgments(f, []Judgment{{Instruction: "q", Output1: "x", Output2: "y", Generator1: "base", Generator2: m, Preference: 2}})
		f.Close()
	}
	js, err := ReadJudgmentsDir(dir)
	if err != nil || len(js) != 2 || js[0].Generator2 != "a" || js[1].Generator2 != "b" {
		t.Fatalf("%v %+v", err, js)
	}
	// a directory of only non-judgment JSONL is an error, not garbage
	if _, err := ReadJudgmentsDir(filepath.Join(dir, "a", "outputs")); err == nil {
		t.Errorf("outputs file read as judgments")
	}
}
