package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeFastChatSingle writes rows in the layout of FastChat's published
// data/mt_bench/model_judgment/gpt-4_single.jsonl (play_a_match_single's keys: question_id,
// model, judge as a [model, prompt] list, user_prompt, judgment, score as an int or −1, turn,
// tstamp), written by hand here rather than through align's types.
func writeFastChatSingle(t *testing.T, path string, rows []map[string]any) {
	t.Helper()
	var sb strings.Builder
	for _, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fcSingleRow(qid int, model string, prompt string, score any, turn int) map[string]any {
	return map[string]any{"question_id": qid, "model": model, "judge": []string{"gpt-4", prompt},
		"user_prompt": "[Question]\n...", "judgment": fmt.Sprintf("The answer is fine. Rating: [[%v]]", score),
		"score": score, "turn": turn, "tstamp": 1687221890.3}
}

// TestMTBenchShowResultHandComputed checks show_result.py's single-mode numbers on a small
// FastChat-format file whose means were worked out by hand.
func TestMTBenchShowResultHandComputed(t *testing.T) {
	dir := t.TempDir()
	rows := []map[string]any{
		fcSingleRow(81, "vicuna-13b-v1.3", "single-v1", 10, 1),
		fcSingleRow(82, "vicuna-13b-v1.3", "single-v1", 8, 1),
		fcSingleRow(101, "vicuna-13b-v1.3", "single-math-v1", -1, 1), // no rating: dropped
		fcSingleRow(102, "vicuna-13b-v1.3", "single-math-v1", 6, 1),
		fcSingleRow(81, "vicuna-13b-v1.3", "single-v1-multi-turn", 7, 2),
		fcSingleRow(101, "vicuna-13b-v1.3", "single-math-v1-multi-turn", 5, 2),
		fcSingleRow(81, "llama-13b", "single-v1", 2, 1),
		fcSingleRow(82, "llama-13b", "single-v1", 3, 1),
		fcSingleRow(81, "llama-13b", "single-v1-multi-turn", 1, 2),
	}
	path := filepath.Join(dir, "model_judgment", "gpt-4_single.jsonl")
	writeFastChatSingle(t, path, rows)
	qs := []MTQuestion{{ID: QuestionID{"81", true}, Category: "writing", Turns: []string{"a", "b"}},
		{ID: QuestionID{"82", true}, Category: "writing", Turns: []string{"a", "b"}},
		{ID: QuestionID{"101", true}, Category: "math", Turns: []string{"a", "b"}},
		{ID: QuestionID{"102", true}, Category: "math", Turns: []string{"a", "b"}}}
	rep, invalid, err := MTBenchReportFromFiles(dir, "gpt-4", "single", "", nil, qs)
	if err != nil {
		t.Fatal(err)
	}
	if invalid != 1 {
		t.Errorf("invalid %d, want 1", invalid)
	}
	sc := rep.MTBenchScores
	if len(sc.Single) != 2 || sc.Single[0].Model != "vicuna-13b-v1.3" {
		t.Fatalf("rows %+v", sc.Single)
	}
	v, l := sc.Single[0], sc.Single[1]
	// vicuna: turn 1 (10+8+6)/3 = 8; turn 2 (7+5)/2 = 6; average (10+8+6+7+5)/5 = 7.2;
	// writing (10+8+7)/3, math (6+5)/2.
	want := []float64{v.Turn1, 8, v.Turn2, 6, v.Average, 7.2, v.Categories["writing"], 25.0 / 3, v.Categories["math"], 5.5,
		l.Turn1, 2.5, l.Turn2, 1, l.Average, 2, l.Categories["writing"], 2}
	for i := 0; i < len(want); i += 2 {
		if math.Abs(want[i]-want[i+1]) > 1e-12 {
			t.Errorf("value %d: got %v, want %v", i/2, want[i], want[i+1])
		}
	}
	if v.Invalid != 1 || v.N != 5 {
		t.Errorf("vicuna n %d invalid %d", v.N, v.Invalid)
	}
	if _, ok := l.Categories["math"]; ok {
		t.Errorf("llama has no math ratings but a math score")
	}
}

// TestMTBenchShowResultFastChatFile reproduces show_result.py's three tables on a larger
// FastChat-format file of several models with an independent groupby written here.
func TestMTBenchShowResultFastChatFile(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(3))
	models := []string{"gpt-4", "claude-v1", "vicuna-13b-v1.3", "alpaca-13b"}
	qs := MTBenchQuestions()
	var rows []map[string]any
	for _, q := range qs {
		id := 0
		fmt.Sscan(q.ID.S, &id)
		for mi, m := range models {
			for _, turn := range []int{1, 2} {
				prompt := mtPromptFor("single", q, turn)
				var score any = 1 + rng.Intn(10-2*mi) + mi
				if rng.Intn(25) == 0 {
					score = -1
				} else if rng.Intn(10) == 0 {
					score = float64(score.(int)) + 0.5 // FastChat keeps a rating like [[7.5]]
				}
				rows = append(rows, fcSingleRow(id, m, prompt, score, turn))
			}
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	writeFastChatSingle(t, filepath.Join(dir, "model_judgment", "gpt-4_single.jsonl"), rows)

	// independent: df[df.score != -1].groupby(model[, turn]).mean()
	type acc struct{ s, n float64 }
	turnAcc := map[string]map[int]*acc{}
	allAcc := map[string]*acc{}
	for _, r := range rows {
		var s float64
		switch v := r["score"].(type) {
		case int:
			s = float64(v)
		case float64:
			s = v
		}
		if s == -1 {
			continue
		}
		m, turn := r["model"].(string), r["turn"].(int)
		if turnAcc[m] == nil {
			turnAcc[m] = map[int]*acc{1: {}, 2: {}}
			allAcc[m] = &acc{}
		}
		turnAcc[m][turn].s += s
		turnAcc[m][turn].n++
		allAcc[m].s += s
		allAcc[m].n++
	}
	rep, _, err := MTBenchReportFromFiles(dir, "gpt-4", "single", "", nil, qs)
	if err != nil {
		t.Fatal(err)
	}
	got := rep.MTBenchScores.Single
	if len(got) != len(models) {
		t.Fatalf("%d rows", len(got))
	}
	order := append([]string(nil), models...)
	sort.Slice(order, func(i, j int) bool {
		return allAcc[order[i]].s/allAcc[order[i]].n > allAcc[order[j]].s/allAcc[order[j]].n
	})
	for i, r := range got {
		if r.Model != order[i] {
			t.Errorf("rank %d: %s, want %s", i, r.Model, order[i])
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"turn 1", r.Turn1, turnAcc[r.Model][1].s / turnAcc[r.Model][1].n},
			{"turn 2", r.Turn2, turnAcc[r.Model][2].s / turnAcc[r.Model][2].n},
			{"average", r.Average, allAcc[r.Model].s / allAcc[r.Model].n},
		} {
			if math.Abs(c.got-c.want) > 1e-9 {
				t.Errorf("%s %s: %v, want %v", r.Model, c.name, c.got, c.want)
			}
		}
		t.Logf("%-16s turn1 %.4f turn2 %.4f average %.4f", r.Model, r.Turn1, r.Turn2, r.Average)
	}
}

// TestMTBenchPairwiseFastChatFile: display_result_pairwise on a FastChat-format
// gpt-4_pair.jsonl (pairwise-baseline against gpt-3.5-turbo), counted by hand.
func TestMTBenchPairwiseFastChatFile(t *testing.T) {
	dir := t.TempDir()
	row := func(q int, m1, g1, g2 string, turn int) map[string]any {
		return map[string]any{"question_id": q, "model_1": m1, "model_2": "gpt-3.5-turbo", "g1_winner": g1, "g2_winner": g2,
			"judge": []string{"gpt-4", "pair-v2"}, "g1_user_prompt": "p", "g1_judgment": "[[A]]", "g2_user_prompt": "p",
			"g2_judgment": "[[B]]", "turn": turn, "tstamp": 1.0}
	}
	rows := []map[string]any{
		row(81, "vicuna", "model_1", "model_1", 1), // win
		row(82, "vicuna", "model_1", "model_2", 1), // inconsistent: tie
		row(83, "vicuna", "tie", "model_1", 1),     // g1 tie: tie
		row(84, "vicuna", "model_2", "model_2", 2), // loss
		row(85, "vicuna", "error", "model_1", 2),   // dropped
		row(81, "alpaca", "model_2", "model_2", 1), // loss
		row(82, "alpaca", "model_2", "model_2", 2), // loss
		row(83, "alpaca", "model_1", "model_1", 1), // win
	}
	path := filepath.Join(dir, "model_judgment", "gpt-4_pair.jsonl")
	writeFastChatSingle(t, path, rows)
	rep, invalid, err := MTBenchReportFromFiles(dir, "gpt-4", "pairwise", "gpt-3.5-turbo", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if invalid != 1 {
		t.Errorf("invalid %d", invalid)
	}
	p := rep.MTBenchScores.Pairwise
	if len(p) != 2 || p[0].Model != "vicuna" {
		t.Fatalf("rows %+v", p)
	}
	// vicuna 1 win 1 loss 2 ties: adjusted (1+1)/4; alpaca 1 win 2 losses: 1/3
	if p[0].Win != 1 || p[0].Loss != 1 || p[0].Tie != 2 || p[0].WinRateAdjusted != 0.5 || p[0].WinRate != 0.25 {
		t.Errorf("vicuna %+v", p[0])
	}
	if p[1].Win != 1 || p[1].Loss != 2 || p[1].Tie != 0 || math.Abs(p[1].WinRateAdjusted-1.0/3) > 1e-12 {
		t.Errorf("alpaca %+v", p[1])
	}
}

func TestFastChatParsers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
	}{
		{"Rating: [[8]]", 8}, {"[[7.5]] and [[3]]", 7.5}, {"Rating: [6]", 6}, {"[[15]]", 15}, {"no rating", -1}, {"[[x]] [9.]", 9},
	} {
		if got := FastChatRating(c.in); got != c.want {
			t.Errorf("FastChatRating(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	for in, want := range map[string]string{"[[B]] but [[A]]": "A", "[[B]]": "B", "[[C]]": "tie", "A": "error"} {
		if got := FastChatWinner(in); got != want {
			t.Errorf("FastChatWinner(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestMTBenchQuestionsShipped(t *testing.T) {
	qs := MTBenchQuestions()
	refs := MTBenchReferences()
	if len(qs) != 80 || len(refs) != 30 {
		t.Fatalf("%d questions, %d references", len(qs), len(refs))
	}
	cats := map[string]int{}
	for _, q := range qs {
		cats[q.Category]++
		if len(q.Turns) != 2 {
			t.Errorf("question %s has %d turns", q.ID, len(q.Turns))
		}
		if mtNeedsReference(q.Category) && len(refs[q.ID]) != 2 {
			t.Errorf("question %s (%s) lacks its reference", q.ID, q.Category)
		}
	}
	for _, c := range mtCategoryOrder {
		if cats[c] != 10 {
			t.Errorf("category %s: %d questions", c, cats[c])
		}
	}
	b, _ := json.Marshal(qs[0].ID)
	if string(b) != "81" {
		t.Errorf("question_id writes back as %s", b)
	}
	// temperatures of FastChat's temperature_config
	for c, want := range map[string]float64{"writing": 0.7, "roleplay": 0.7, "extraction": 0, "math": 0, "coding": 0, "reasoning": 0, "stem": 0.1, "humanities": 0.1, "other": 0.7} {
		if got := mtGenOptions(c, 10).Temperature; got != want {
			t.Errorf("%s: temperature %v, want %v", c, got, want)
		}
	}
	// judge prompts as gen_judgment.py chooses them
	math1 := MTQuestion{Category: "coding", Turns: []string{"a", "b"}}
	gen := MTQuestion{Category: "stem", Turns: []string{"a", "b"}}
	for _, c := range []struct {
		mode string
		q    MTQuestion
		turn int
		want string
	}{{"single", gen, 1, "single-v1"}, {"single", gen, 2, "single-v1-multi-turn"}, {"single", math1, 1, "single-math-v1"},
		{"single", math1, 2, "single-math-v1-multi-turn"}, {"pairwise", gen, 1, "pair-v2"}, {"pairwise", gen, 2, "pair-v2-multi-turn"},
		{"pairwise", math1, 1, "pair-math-v1"}, {"pairwise", math1, 2, "pair-math-v1-multi-turn"}} {
		if got := mtPromptFor(c.mode, c.q, c.turn); got != c.want {
			t.Errorf("%s %s turn %d: %s, want %s", c.mode, c.q.Category, c.turn, got, c.want)
		}
	}
}

func TestMTQuestionsBadInput(t *testing.T) {
	for in, want := range map[string]string{
		`{"question_id": 1, "category": "x", "turns": []}` + "\n":                                                     "no turns",
		`{"category": "x", "turns": ["a"]}` + "\n":                                                                    "question_id",
		`{"question_id": 1, "turns": ["a"]}` + "\n" + `{"question_id": 1, "turns": ["b"]}` + "\n":                     "repeats",
		`{"question_id": 1, "turns": ["a"]}` + "\n" + `not json` + "\n" + `{"question_id": 2, "turns": ["b"]}` + "\n": "line 2",
	} {
		_, err := ParseMTQuestions(strings.NewReader(in), "q.jsonl")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "q.jsonl") {
			t.Errorf("%q: error %v, want one naming q.jsonl and %q", in, err, want)
		}
	}
}

// chromiumShot renders dir/report.html in headless Chromium and returns the screenshot.
func chromiumShot(t *testing.T, dir string) image.Image {
	t.Helper()
	bin := findChromium()
	if bin == "" {
		if os.Getenv("ALIGN_SKIP_CHROMIUM") == "1" {
			t.Skip("SKIPPED: no chromium on PATH and ALIGN_SKIP_CHROMIUM=1 — report rendering NOT verified")
		}
		t.Fatal("no chromium on PATH (Debian: apt-get install -y chromium); set ALIGN_SKIP_CHROMIUM=1 to skip")
	}
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--screenshot="+shot, "--window-size=1200,2200", "file://"+filepath.Join(dir, "report.html"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// countColour counts the pixels within 12 of an RGB colour.
func countColour(img image.Image, r0, g0, b0 float64) int {
	n := 0
	bnd := img.Bounds()
	for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
		for x := bnd.Min.X; x < bnd.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if near(float64(r>>8), r0, 12) && near(float64(g>>8), g0, 12) && near(float64(b>>8), b0, 12) {
				n++
			}
		}
	}
	return n
}

// TestMTBenchReportRendersInChromium writes an MT-Bench report of two models and checks in a
// real headless Chromium that the per-category bar chart is drawn in both models' colours.
func TestMTBenchReportRendersInChromium(t *testing.T) {
	dir := t.TempDir()
	var rows []map[string]any
	for _, q := range MTBenchQuestions() {
		id := 0
		fmt.Sscan(q.ID.S, &id)
		for _, turn := range []int{1, 2} {
			rows = append(rows, fcSingleRow(id, "policy-dpo", mtPromptFor("single", q, turn), 6+id%4, turn))
			rows = append(rows, fcSingleRow(id, "base", mtPromptFor("single", q, turn), 3+id%3, turn))
		}
	}
	writeFastChatSingle(t, filepath.Join(dir, "model_judgment", "j_single.jsonl"), rows)
	rep, _, err := MTBenchReportFromFiles(dir, "j", "single", "", nil, MTBenchQuestions())
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	h, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{"MT-Bench (single", "first turn", "humanities", "policy-dpo"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	img := chromiumShot(t, dir)
	blue, red := countColour(img, 0x4c, 0x78, 0xa8), countColour(img, 0xe4, 0x57, 0x56)
	t.Logf("screenshot %v: %d pixels of model 1's bars, %d of model 2's", img.Bounds().Size(), blue, red)
	if blue < 2000 || red < 1000 {
		t.Errorf("the MT-Bench chart is not drawn (blue %d, red %d)", blue, red)
	}
}
