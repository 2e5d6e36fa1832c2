package eval

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestParseArenaVerdict(t *testing.T) {
	for raw, want := range map[string]string{
		"My final verdict is: [[A>>B]]":          "A>>B",
		"Assistant B is better: [[B>A]].":        "B>A",
		"tie [[A=B]] and again [[A=B]]":          "A=B",
		"single brackets [B>>A]":                 "B>>A",
		"conflicting [[A>B]] then [[B>A]]":       "",
		"no verdict at all":                      "",
		"[[A>B]] wins over single-bracket [B>A]": "A>B",
	} {
		got, ok := ParseArenaVerdict(raw)
		if got != want || ok != (want != "") {
			t.Errorf("ParseArenaVerdict(%q) = %q, %v; want %q", raw, got, ok, want)
		}
	}
}

func arenaJudgment(q, model, raw string, swapped bool) Judgment {
	return Judgment{Instruction: q, Output1: "base answer " + q, Output2: model + " answer " + q,
		Generator1: "base", Generator2: model, Raw: raw, Swapped: swapped, Preference: math.NaN(), Template: "arena_hard"}
}

// With one model against the baseline the MLE is closed form: the model's share of the
// duplicated table's Y=1 rows is p = (wins + ties/2)/battles, and Elo − 1000 = 400·log10(p/(1−p)).
func TestMLEEloTwoModels(t *testing.T) {
	var js []Judgment
	// game 1 (A = base): 3 × "B>A" (model wins), 1 × "A>>B" (base wins, weight 3), 2 ties
	// game 2 (A = model, swapped): 2 × "A>B" (model wins), 1 × "B>A" (base wins)
	raws := []struct {
		raw     string
		swapped bool
	}{{"[[B>A]]", false}, {"[[B>A]]", false}, {"[[B>A]]", false}, {"[[A>>B]]", false}, {"[[A=B]]", false}, {"[[A=B]]", false},
		{"[[A>B]]", true}, {"[[A>B]]", true}, {"[[B>A]]", true}, {"garbage", true}}
	for i, r := range raws {
		js = append(js, arenaJudgment("q"+strconv.Itoa(i), "m", r.raw, r.swapped))
	}
	battles, dropped := BattlesFromJudgments(js, 3)
	if dropped != 1 || len(battles) != 3+3+2+2+1 {
		t.Fatalf("battles %d dropped %d", len(battles), dropped)
	}
	elo, conv := ComputeMLEElo(battles, "base")
	if !conv {
		t.Fatal("not converged")
	}
	// model wins 5, base wins 3+1 = 4, ties 2 → p(model) = (5 + 1)/11
	p := 6.0 / 11
	want := 1000 + 400*math.Log10(p/(1-p))
	if !near(elo["base"], 1000, 1e-9) || !near(elo["m"], want, 1e-6) {
		t.Errorf("elo %v, want m = %v", elo, want)
	}
	lb, err := Leaderboard(js, BTOptions{Baseline: "base"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range lb.Rows {
		switch r.Model {
		case "base":
			if r.WinRate != 50 {
				t.Errorf("baseline win rate %v", r.WinRate)
			}
		case "m":
			if !near(r.WinRate, math.Round(p*100*100)/100, 1e-9) {
				t.Errorf("win rate %v, want %v", r.WinRate, p*100)
			}
			if !(r.Lower <= r.WinRate && r.WinRate <= r.Upper) {
				t.Errorf("interval [%v, %v] misses %v", r.Lower, r.Upper, r.WinRate)
			}
		}
	}
	// Arena-Hard's own bootstrap with a baseline other than gpt-4-0314 leaves refits unanchored
	// and its win-rate interval collapses onto one point (see BTOptions)
	q, _ := Leaderboard(js, BTOptions{Baseline: "base", UnanchoredBootstrapQuirk: true})
	for _, r := range q.Rows {
		if r.Model == "m" && !near(r.Lower, r.Upper, 0.02) {
			t.Errorf("quirk interval [%v, %v] did not collapse", r.Lower, r.Upper)
		}
	}
	// swapping every verdict's meaning (A<->B) maps w → 100 − w
	var flipped []Judgment
	for _, j := range js {
		j.Swapped = !j.Swapped
		flipped = append(flipped, j)
	}
	lb2, _ := Leaderboard(flipped, BTOptions{Baseline: "base"})
	for _, r := range lb2.Rows {
		if r.Model == "m" && !near(r.WinRate, 100-math.Round(p*100*100)/100, 1e-9) {
			t.Errorf("flipped win rate %v", r.WinRate)
		}
	}
}

// Three models, fit checked against plain gradient ascent on the Bradley–Terry likelihood
// written here.
func TestMLEEloAgainstGradientAscent(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	strength := map[string]float64{"base": 0, "a": 0.8, "b": -0.5, "c": 0.2}
	var battles []Battle
	models := []string{"base", "a", "b", "c"}
	for i := 0; i < 600; i++ {
		ma := models[rng.IntN(4)]
		mb := models[rng.IntN(4)]
		if ma == mb {
			continue
		}
		p := 1 / (1 + math.Exp(-(strength[ma] - strength[mb])))
		w := "model_b"
		switch u := rng.Float64(); {
		case u < 0.1:
			w = "tie"
		case u < 0.1+0.9*p:
			w = "model_a"
		}
		battles = append(battles, Battle{ModelA: ma, ModelB: mb, Winner: w})
	}
	elo, conv := ComputeMLEElo(battles, "base")
	if !conv {
		t.Fatal("not converged")
	}
	// gradient ascent on Σ y log σ(k(θa−θb)) + (1−y) log σ(−k(θa−θb)) over the duplicated
	// table, rows with the same (a, b, y) summed up
	type cell struct {
		a, b string
		y    float64
	}
	count := map[cell]float64{}
	for _, b := range battles {
		switch b.Winner {
		case "model_a":
			count[cell{b.ModelA, b.ModelB, 1}] += 2
		case "model_b":
			count[cell{b.ModelA, b.ModelB, 0}] += 2
		default:
			count[cell{b.ModelA, b.ModelB, 1}]++
			count[cell{b.ModelA, b.ModelB, 0}]++
		}
	}
	theta := map[string]float64{}
	k := math.Ln10
	for it := 0; it < 50000; it++ {
		g := map[string]float64{}
		for c, n := range count {
			q := 1 / (1 + math.Exp(-k*(theta[c.a]-theta[c.b])))
			g[c.a] += n * k * (c.y - q)
			g[c.b] -= n * k * (c.y - q)
		}
		for _, m := range models {
			theta[m] += 0.0005 * g[m]
		}
	}
	for _, m := range models {
		want := 1000 + 400*(theta[m]-theta["base"])
		if !near(elo[m], want, 1e-3) {
			t.Errorf("%s: elo %v, gradient ascent %v", m, elo[m], want)
		}
	}
	if !(elo["a"] > elo["c"] && elo["c"] > elo["base"] && elo["base"] > elo["b"]) {
		t.Errorf("order wrong: %v", elo)
	}
}

func TestPercentileLikeNumpy(t *testing.T) {
	// np.percentile([1, 2, 3, 4], 2.5) = 1.075; 97.5 → 3.925; with a NaN left out
	xs := []float64{4, 1, math.NaN(), 3, 2}
	if got := percentile(xs, 2.5); !near(got, 1.075, 1e-12) {
		t.Errorf("p2.5 = %v", got)
	}
	if got := percentile(xs, 97.5); !near(got, 3.925, 1e-12) {
		t.Errorf("p97.5 = %v", got)
	}
}

func TestLeaderboardBootstrapDeterministic(t *testing.T) {
	var js []Judgment
	rng := rand.New(rand.NewPCG(3, 4))
	verdicts := []string{"[[A>>B]]", "[[A>B]]", "[[A=B]]", "[[B>A]]", "[[B>>A]]"}
	for _, m := range []string{"m1", "m2"} {
		for i := 0; i < 40; i++ {
			off := 0
			if m == "m1" {
				off = 1
			}
			v := verdicts[min(4, rng.IntN(4)+off)]
			js = append(js, arenaJudgment("q"+strconv.Itoa(i), m, v, false))
			v2 := verdicts[max(0, 4-rng.IntN(4)-off)]
			js = append(js, arenaJudgment("q"+strconv.Itoa(i), m, v2, true))
		}
	}
	a, err := Leaderboard(js, BTOptions{Baseline: "base"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Leaderboard(js, BTOptions{Baseline: "base"})
	for i := range a.Rows {
		if a.Rows[i] != b.Rows[i] {
			t.Errorf("not deterministic: %+v vs %+v", a.Rows[i], b.Rows[i])
		}
		r := a.Rows[i]
		if !(r.EloLower <= r.Elo+1e-9 && r.Elo <= r.EloUpper+1e-9) || r.EloLower == r.EloUpper && r.Model != "base" {
			t.Errorf("bad interval %+v", r)
		}
	}
	if a.Rows[0].Model != "m1" {
		t.Errorf("m1 should lead: %+v", a.Rows)
	}
	c, _ := Leaderboard(js, BTOptions{Baseline: "base", Seed: 7})
	same := true
	for i := range a.Rows {
		if a.Rows[i].EloLower != c.Rows[i].EloLower {
			same = false
		}
	}
	if same {
		t.Errorf("another seed gave identical intervals")
	}
}

func TestMTBench(t *testing.T) {
	rows := MTBenchSingle([]SingleScore{{"a", 1, 8}, {"a", 2, 6}, {"a", 1, -1}, {"b", 1, 5}})
	if rows[0].Model != "a" || rows[0].Score != 7 || rows[0].Turns[1] != 8 || rows[0].Turns[2] != 6 || rows[0].Invalid != 1 {
		t.Errorf("single: %+v", rows)
	}
	games := []PairGames{
		{"a", "base", "model_1", "model_1"}, // a wins
		{"a", "base", "model_1", "model_2"}, // disagree → tie
		{"a", "base", "tie", "tie"},         // tie
		{"a", "base", "model_2", "model_2"}, // base wins
		{"a", "base", "error", "model_1"},   // dropped
	}
	pr := MTBenchPairwise(games, "base")
	if len(pr) != 1 || pr[0].Win != 1 || pr[0].Loss != 1 || pr[0].Tie != 2 || pr[0].WinRate != 0.25 || pr[0].WinRateAdjusted != 0.5 {
		t.Errorf("pairwise: %+v", pr)
	}
	js := []Judgment{
		{Instruction: "q", Generator1: "base", Generator2: "a", Judge: "j", Preference: 2},
		{Instruction: "q", Generator1: "base", Generator2: "a", Judge: "j", Preference: 2, Swapped: true},
		{Instruction: "r", Generator1: "base", Generator2: "a", Judge: "j", Preference: 1},
	}
	g, unpaired := PairGamesFromJudgments(js)
	if len(g) != 1 || unpaired != 1 || g[0].G1Winner != "model_2" || g[0].G2Winner != "model_2" {
		t.Errorf("games %+v unpaired %d", g, unpaired)
	}
}

// MT-Bench's "[[A]]" must not be read as an Arena verdict; its preference decides.
func TestBattlesFromOtherTemplates(t *testing.T) {
	js := []Judgment{
		{Instruction: "q", Generator1: "b", Generator2: "m", Raw: "[[A]]", Preference: 1, Template: "mt-bench/pair-v2"},
		{Instruction: "q", Generator1: "b", Generator2: "m", Raw: "[[A]]", Preference: 2, Swapped: true, Template: "mt-bench/pair-v2"},
		{Instruction: "r", Generator1: "b", Generator2: "m", Raw: "[[C]]", Preference: 1.5, Template: "mt-bench/pair-v2"},
		{Instruction: "s", Generator1: "b", Generator2: "m", Raw: "M", Preference: 1.8, Template: "alpaca_eval_clf"},
		{Instruction: "t", Generator1: "b", Generator2: "m", Raw: "nonsense", Preference: math.NaN(), Template: "arena-hard"},
		{Instruction: "u", Generator1: "b", Generator2: "m", Raw: "[[A<B]]", Preference: math.NaN(), Template: "arena-hard"},
	}
	bs, dropped := BattlesFromJudgments(js, 3)
	want := []string{"model_a", "model_b", "tie", "model_b"}
	if dropped != 2 || len(bs) != len(want) {
		t.Fatalf("battles %+v dropped %d", bs, dropped)
	}
	for i, w := range want {
		if bs[i].Winner != w {
			t.Errorf("battle %d: %s, want %s", i, bs[i].Winner, w)
		}
	}
}
