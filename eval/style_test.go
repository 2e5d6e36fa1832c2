package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStyleOf(t *testing.T) {
	text := "# Title\n## Part\n### Sub\n#NoSpace\n\n1. one\n2. two\n  - dash\n* star\n+ plus\n\n**bold** and __under__ and **x**\n```\n# not a header\n- not a list\n```\n"
	m := StyleOf(text)
	if got := sumCounts(m.HeaderCount); got != 3 || m.HeaderCount["h1"] != 1 || m.HeaderCount["h2"] != 1 || m.HeaderCount["h3"] != 1 {
		t.Errorf("headers %v", m.HeaderCount)
	}
	if m.ListCount["ordered"] != 2 || m.ListCount["unordered"] != 3 {
		t.Errorf("lists %v", m.ListCount)
	}
	if m.BoldCount["**"] != 2 || m.BoldCount["__"] != 1 {
		t.Errorf("bold %v", m.BoldCount)
	}
	if m.TokenLen < 40 || m.TokenLen > 90 {
		t.Errorf("token_len %d", m.TokenLen)
	}
	if n := StyleOf("Hello, world! This is a test.").TokenLen; n != 8 { // GPT-4o: Hello , world ! This is a test . = 9 BPE; pieces: 8
		t.Logf("token_len of a short sentence: %d", n)
		if n < 7 || n > 10 {
			t.Errorf("token_len %d", n)
		}
	}
	b, _ := json.Marshal(StyleOf(""))
	if !strings.Contains(string(b), `"header_count":{`) {
		t.Errorf("metadata JSON %s", b)
	}
}

// testStyleFeatures is the test's own computation of Arena-Hard v2's normalised style
// features (print_leaderboard_with_style_features), written independently of style.go.
func testStyleFeatures(bs []StyleBattle) [][]float64 {
	vec := func(m StyleMeta) []float64 {
		s := func(mp map[string]int) float64 {
			t := 0
			for _, v := range mp {
				t += v
			}
			return float64(t)
		}
		return []float64{float64(m.TokenLen), s(m.HeaderCount), s(m.ListCount), s(m.BoldCount)}
	}
	f := make([][]float64, len(bs))
	for i, b := range bs {
		a, c := vec(b.ModelMeta), vec(b.BaseMeta)
		f[i] = []float64{(a[0] - c[0]) / (a[0] + c[0])}
		for k := 1; k < 4; k++ {
			da, dc := a[k]/(a[0]+1), c[k]/(c[0]+1)
			f[i] = append(f[i], (da-dc)/(da+dc+1))
		}
	}
	for k := 0; k < 4; k++ {
		mu := 0.0
		for i := range f {
			mu += f[i][k]
		}
		mu /= float64(len(f))
		v := 0.0
		for i := range f {
			v += (f[i][k] - mu) * (f[i][k] - mu)
		}
		sd := math.Sqrt(v / float64(len(f)-1))
		for i := range f {
			f[i][k] = (f[i][k] - mu) / sd
		}
	}
	return f
}

func randMeta(rng *rand.Rand) StyleMeta {
	return StyleMeta{TokenLen: 50 + rng.Intn(900),
		HeaderCount: map[string]int{"h1": rng.Intn(2), "h2": rng.Intn(4), "h3": 0, "h4": 0, "h5": 0, "h6": 0},
		ListCount:   map[string]int{"ordered": rng.Intn(8), "unordered": rng.Intn(8)},
		BoldCount:   map[string]int{"**": rng.Intn(10), "__": 0}}
}

func synthStyleBattles(rng *rand.Rand, n int, models []string) []StyleBattle {
	var bs []StyleBattle
	for i := 0; i < n; i++ {
		bs = append(bs, StyleBattle{Category: "hard_prompt", UID: string(rune('a'+i%26)) + string(rune('a'+i/26)), Model: models[i%len(models)],
			Baseline: "base", ModelMeta: randMeta(rng), BaseMeta: randMeta(rng)})
	}
	return bs
}

// TestStyleControlRecoversKnownCoefficients: 48 battles whose outcomes are the Bradley–Terry
// probabilities of known coefficients (soft outcomes, as ties are 0.5): the joint fit must
// give those coefficients back.
func TestStyleControlRecoversKnownCoefficients(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	models := []string{"m-dpo", "m-sft", "m-big"}
	bs := synthStyleBattles(rng, 48, models)
	trueC := map[string]float64{"m-dpo": 0.8, "m-sft": -0.4, "m-big": 1.3} // relative to the baseline
	trueBeta := []float64{0.6, -0.3, 0.25, 0.45}
	z := testStyleFeatures(bs)
	for i := range bs {
		s := trueC[bs[i].Model]
		for k, b := range trueBeta {
			s += b * z[i][k]
		}
		bs[i].Score = 1 / (1 + math.Exp(-s))
	}
	lbs, err := StyleControl(bs, StyleOptions{Rounds: 20})
	if err != nil {
		t.Fatal(err)
	}
	lb := lbs[0]
	if !lb.Converged || lb.Baseline != "base" || len(lb.Coefs) != 4 {
		t.Fatalf("leaderboard %+v", lb)
	}
	for _, r := range lb.Rows {
		want := trueC[r.Model]
		if math.Abs(r.Coef-want) > 1e-6 {
			t.Errorf("%s: coefficient %.8f, want %.8f", r.Model, r.Coef, want)
		}
	}
	for k, c := range lb.Coefs {
		if c.Feature != StyleFeatureNames[k] || math.Abs(c.Fit-trueBeta[k]) > 1e-6 {
			t.Errorf("style coefficient %s = %.8f, want %.8f", c.Feature, c.Fit, trueBeta[k])
		}
	}
	if lb.Rows[0].Model != "m-big" {
		t.Errorf("ranking %v", lb.Rows)
	}
}

// testFitGD is an independent fit of the same model: plain gradient descent on the mean
// Bradley–Terry cross-entropy over the test's own design (one-hot differences of the model
// and the baseline, then the test's z-scored features), baseline coefficient held at 0.
func testFitGD(bs []StyleBattle, models []string) (map[string]float64, []float64) {
	z := testStyleFeatures(bs)
	idx := map[string]int{}
	for i, m := range models {
		idx[m] = i
	}
	p := len(models) + 4
	th := make([]float64, p)
	n := float64(len(bs))
	for it := 0; it < 20000; it++ {
		g := make([]float64, p)
		for i, b := range bs {
			x := make([]float64, p)
			x[idx[b.Model]] = 1
			copy(x[len(models):], z[i])
			s := 0.0
			for j := range x {
				s += x[j] * th[j]
			}
			r := 1/(1+math.Exp(-s)) - b.Score
			for j := range x {
				g[j] += r * x[j] / n
			}
		}
		for j := range th {
			th[j] -= 2.0 * g[j]
		}
	}
	c := map[string]float64{}
	for i, m := range models {
		c[m] = th[i]
	}
	return c, th[len(models):]
}

// TestStyleControlAgainstIndependentFit: 600 battles with outcomes 0, 0.5 or 1 drawn from
// known coefficients; the fit must agree with the test's own gradient-descent fit and recover
// the known coefficients within sampling error; the bootstrap intervals must bracket the
// point scores and the baseline sit at 50.
func TestStyleControlAgainstIndependentFit(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	models := []string{"a", "b", "c"}
	bs := synthStyleBattles(rng, 900, models)
	trueC := map[string]float64{"a": 1.0, "b": 0, "c": -0.7}
	trueBeta := []float64{0.9, 0, 0.3, -0.4}
	z := testStyleFeatures(bs)
	for i := range bs {
		s := trueC[bs[i].Model]
		for k, b := range trueBeta {
			s += b * z[i][k]
		}
		p := 1 / (1 + math.Exp(-s))
		u := rng.Float64()
		switch { // a tie band in the middle, as judges give [[A=B]]
		case u < p-0.1:
			bs[i].Score = 1
		case u < p+0.1:
			bs[i].Score = 0.5
		default:
			bs[i].Score = 0
		}
	}
	lbs, err := StyleControl(bs, StyleOptions{Rounds: 50})
	if err != nil {
		t.Fatal(err)
	}
	lb := lbs[0]
	gdC, gdBeta := testFitGD(bs, models)
	for _, r := range lb.Rows {
		if r.Model == "base" {
			if r.Score != 50 {
				t.Errorf("baseline score %v", r.Score)
			}
			continue
		}
		if math.Abs(r.Coef-gdC[r.Model]) > 1e-4 {
			t.Errorf("%s: coefficient %.6f, independent fit %.6f", r.Model, r.Coef, gdC[r.Model])
		}
		if math.Abs(r.Coef-trueC[r.Model]) > 0.3 {
			t.Errorf("%s: coefficient %.3f, true %.3f", r.Model, r.Coef, trueC[r.Model])
		}
		if !(r.Lower <= r.Score && r.Score <= r.Upper && r.Upper-r.Lower > 0.5) {
			t.Errorf("%s: interval (%v, %v) around %v", r.Model, r.Lower, r.Upper, r.Score)
		}
		t.Logf("%s: coef %.4f (true %.2f), score %.1f (%.1f, %.1f)", r.Model, r.Coef, trueC[r.Model], r.Score, r.Lower, r.Upper)
	}
	for k, c := range lb.Coefs {
		if math.Abs(c.Fit-gdBeta[k]) > 1e-4 {
			t.Errorf("%s: %.6f, independent fit %.6f", c.Feature, c.Fit, gdBeta[k])
		}
		if math.Abs(c.Fit-trueBeta[k]) > 0.3 {
			t.Errorf("%s: %.3f, true %.2f", c.Feature, c.Fit, trueBeta[k])
		}
		if !(c.Lower <= c.Median && c.Median <= c.Upper) {
			t.Errorf("%s: interval %+v", c.Feature, c)
		}
		t.Logf("%s: fit %.4f (true %.2f), bootstrap median %.4f (%.4f, %.4f)", c.Feature, c.Fit, trueBeta[k], c.Median, c.Lower, c.Upper)
	}
	// length only: one coefficient
	lo, err := StyleControl(bs, StyleOptions{Features: []string{"length"}, Rounds: 5})
	if err != nil || len(lo[0].Coefs) != 1 || lo[0].Coefs[0].Feature != "token_len" {
		t.Errorf("length only: %v %+v", err, lo)
	}
}

// TestStyleBattlesFromJudgments: align's two-game Arena-Hard judgments become v2's scores
// from the model's side, strong verdicts three times; a pair with an unparsable game drops.
func TestStyleBattlesFromJudgments(t *testing.T) {
	j := func(instr, raw string, swapped bool) Judgment {
		return Judgment{Instruction: instr, Output1: "base answer", Output2: "## model\n- answer", Generator1: "base", Generator2: "m",
			Judge: "j", Template: "arena-hard", Raw: raw, Swapped: swapped, Preference: math.NaN()}
	}
	js := []Judgment{
		j("q1", "[[A>B]]", false), // A = baseline better: model 0
		j("q1", "[[A>>B]]", true), // A = model much better: 1,1,1
		j("q2", "[[A=B]]", false), j("q2", "no verdict", true),
	}
	bs, dropped := StyleBattlesFromJudgments(js, 3)
	if dropped != 2 || len(bs) != 4 {
		t.Fatalf("%d battles, %d dropped", len(bs), dropped)
	}
	sum := 0.0
	for _, b := range bs {
		sum += b.Score
		if b.Model != "m" || b.Baseline != "base" || b.ModelMeta.HeaderCount["h2"] != 1 || b.ModelMeta.ListCount["unordered"] != 1 {
			t.Errorf("battle %+v", b)
		}
	}
	if sum != 3 {
		t.Errorf("scores sum %v, want 3 (1,1,1 from game 2 and 0 from game 1)", sum)
	}
}

// v2Game is one written judgment row's two verdicts: game 1 (baseline as A), then game 2.
type v2Game struct {
	uid, category, model, baseline string
	g1, g2                         string // "" for a null game
}

// writeArenaV2Dir writes a directory in Arena-Hard v2's layout: 60 questions in two
// categories (every third creative_writing), answers with style metadata from four models, and
// gpt-4.1's judgments of two of them against each category's baseline (question 7's second
// game null). It returns the directory, the number of null rows and the verdicts written.
func writeArenaV2Dir(t *testing.T, rng *rand.Rand) (string, int, []v2Game) {
	t.Helper()
	dir := t.TempDir()
	write := func(rel string, rows []any) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		var b bytes.Buffer
		for _, r := range rows {
			line, _ := json.Marshal(r)
			b.Write(line)
			b.WriteByte('\n')
		}
		os.WriteFile(p, b.Bytes(), 0o644)
	}
	var qs []any
	cats := map[string]string{}
	for i := 0; i < 60; i++ {
		uid := "u" + string(rune('A'+i/26)) + string(rune('a'+i%26))
		c := "hard_prompt"
		if i%3 == 0 {
			c = "creative_writing"
		}
		cats[uid] = c
		qs = append(qs, map[string]any{"uid": uid, "category": c, "subcategory": "x", "prompt": "p " + uid})
	}
	write("question.jsonl", qs)
	answers := map[string][]any{}
	for _, m := range []string{"o3-mini-2025-01-31", "gemini-2.0-flash-001", "qwq-32b", "deepseek-r1"} {
		for _, q := range qs {
			uid := q.(map[string]any)["uid"].(string)
			answers[m] = append(answers[m], map[string]any{"uid": uid, "ans_id": "x", "model": m, "tstamp": 1.0,
				"messages": []any{map[string]any{"role": "user", "content": "p"}, map[string]any{"role": "assistant", "content": map[string]any{"answer": "text"}}},
				"metadata": randMeta(rng)})
		}
		write("model_answer/"+m+".jsonl", answers[m])
	}
	labels := []string{"A>B", "A>>B", "A=B", "B>A", "B>>A"}
	nullRows := 0
	var games []v2Game
	for _, m := range []string{"qwq-32b", "deepseek-r1"} {
		var rows []any
		for i, q := range qs {
			uid := q.(map[string]any)["uid"].(string)
			base := ArenaHardV2Baselines[cats[uid]]
			g := v2Game{uid: uid, category: cats[uid], model: m, baseline: base, g1: labels[rng.Intn(5)], g2: labels[rng.Intn(5)]}
			g1 := map[string]any{"score": g.g1, "judgment": map[string]any{"answer": "..."}}
			g2 := map[string]any{"score": g.g2, "judgment": map[string]any{"answer": "..."}}
			if i == 7 {
				g2["score"] = nil
				g.g2 = ""
				nullRows++
			}
			games = append(games, g)
			rows = append(rows, map[string]any{"uid": uid, "category": cats[uid], "judge": "gpt-4.1", "model": m, "baseline": base, "games": []any{g1, g2}})
		}
		write("model_judgment/gpt-4.1/"+m+".jsonl", rows)
	}
	return dir, nullRows, games
}

// TestArenaHardV2Layout reads a directory in Arena-Hard v2's layout (two categories, one
// baseline each, judgments with a null game) and fits a style-controlled leaderboard per
// category.
func TestArenaHardV2Layout(t *testing.T) {
	dir, nullRows, _ := writeArenaV2Dir(t, rand.New(rand.NewSource(2)))
	if !IsArenaHardV2Dir(dir) {
		t.Fatal("layout not recognised")
	}
	bs, dropped, err := ReadArenaHardV2(dir, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	if dropped != nullRows {
		t.Errorf("dropped %d, want %d", dropped, nullRows)
	}
	lbs, err := StyleControl(bs, StyleOptions{Rounds: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(lbs) != 2 || lbs[0].Category != "creative_writing" || lbs[0].Baseline != "gemini-2.0-flash-001" ||
		lbs[1].Category != "hard_prompt" || lbs[1].Baseline != "o3-mini-2025-01-31" {
		t.Fatalf("categories %+v / %+v", lbs[0], lbs[1])
	}
	for _, lb := range lbs {
		if len(lb.Rows) != 3 {
			t.Errorf("%s: %d rows", lb.Category, len(lb.Rows))
		}
		t.Logf("%s (baseline %s, %d battles): %+v coefs %+v", lb.Category, lb.Baseline, lb.Battles, lb.Rows, lb.Coefs)
	}
}

// TestLeaderboardCSVPublished reads Arena-Hard v0.1's published leaderboard CSV (each CI must
// follow from its score and interval) and writes it back byte for byte.
func TestLeaderboardCSVPublished(t *testing.T) {
	path := "testdata/arena_hard/arena_hard_leaderboard_20240731.csv"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadLeaderboardCSV(bytes.NewReader(b), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 60 || rows[0].Model != "gpt-4-turbo-2024-04-09" || rows[0].Score != 82.63 || rows[0].AvgTokens != 662 {
		t.Fatalf("rows %d, first %+v", len(rows), rows[0])
	}
	var out bytes.Buffer
	if err := WriteLeaderboardCSV(&out, rows); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), b) {
		ol, bl := strings.Split(out.String(), "\n"), strings.Split(string(b), "\n")
		for i := range bl {
			if i >= len(ol) || ol[i] != bl[i] {
				t.Fatalf("line %d differs:\n got %q\nwant %q", i+1, ol[min(i, len(ol)-1)], bl[i])
			}
		}
	}
	bad := strings.Replace(string(b), "(-1.88, +1.97)", "(-1.80, +1.97)", 1)
	if _, err := ReadLeaderboardCSV(strings.NewReader(bad), "x.csv"); err == nil || !strings.Contains(err.Error(), "row 2 column CI") {
		t.Errorf("inconsistent CI: %v", err)
	}
	// align's own leaderboard writes the same format
	lb := &BTLeaderboard{Rows: []BTRow{{Model: "m", WinRate: 61.5, Lower: 58.25, Upper: 64, AvgTokens: 300}}}
	out.Reset()
	WriteLeaderboardCSV(&out, lb.CSVRows("2026-12-06"))
	if want := "model,score,rating_q025,rating_q975,CI,avg_tokens,date\nm,61.5,58.25,64.0,\"(-3.25, +2.50)\",300.0,2026-12-06\n"; out.String() != want {
		t.Errorf("csv:\n%s\nwant\n%s", out.String(), want)
	}
}

// TestStyleReportRendersInChromium: the style-controlled leaderboard's ladder and tables
// render in a real headless Chromium.
func TestStyleReportRendersInChromium(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	bs := synthStyleBattles(rng, 120, []string{"x", "y"})
	for i := range bs {
		bs[i].Score = float64(rng.Intn(3)) / 2
	}
	lbs, err := StyleControl(bs, StyleOptions{Rounds: 10})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := (&Report{Kind: "leaderboard", StyleControl: lbs}).Write(dir); err != nil {
		t.Fatal(err)
	}
	h, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{"Style-controlled Bradley–Terry", "token_len", "bold_count", "style-controlled win rate vs base"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	img := chromiumShot(t, dir)
	blue, red := countColour(img, 0x4c, 0x78, 0xa8), countColour(img, 0xe4, 0x57, 0x56)
	t.Logf("interval pixels %d, marker pixels %d", blue, red)
	if blue < 50 || red < 100 {
		t.Errorf("the style-controlled ladder is not drawn (blue %d, red %d)", blue, red)
	}
}
