package runtime

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestParseStructured(t *testing.T) {
	cases := []struct {
		tpl, text string
		valid     bool
		pref      float64
		score     float64
	}{
		{"alpaca_eval_clf", `{"winner": "m"}`, true, 1, math.NaN()},
		{"alpaca_eval_clf", `{ "winner" : "M" } `, true, 2, math.NaN()},
		{"alpaca_eval_clf_cot", `{"winner":"M"}`, true, 2, math.NaN()},
		{"alpaca_eval_clf", `{"winner": "A"}`, false, math.NaN(), math.NaN()},
		{"mt-bench/pair-v2", `{"winner":"B"}`, true, 2, math.NaN()},
		{"mt-bench/pair-v2", `{"winner":"C"}`, true, 1.5, math.NaN()},
		{"arena-hard", `{"verdict":"B>>A"}`, true, 2, math.NaN()},
		{"arena-hard", `{"verdict":"A=B"}`, true, 1.5, math.NaN()},
		{"mt-bench/single-v1", `{"score": 7}`, true, math.NaN(), 7},
		{"mt-bench/single-v1", `{"score": 0}`, false, math.NaN(), math.NaN()},
		{"dno-additive6", `{"score": 5}`, true, math.NaN(), 5},
		{"dno-additive6", `{"score": 0}`, true, math.NaN(), 0},
		{"dno-additive6", `{"score": 7}`, false, math.NaN(), math.NaN()},
		{"dno-additive6", `{"score": "5"}`, false, math.NaN(), math.NaN()},
		{"dno-additive6", `{ "score"`, false, math.NaN(), math.NaN()}, // cut by num_predict
		{"dno-additive6", `Score: 5`, false, math.NaN(), math.NaN()},  // free text is not structured
	}
	for _, c := range cases {
		v := ParseStructured(tpl2(t, c.tpl), c.text)
		same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
		if v.Valid != c.valid || !same(v.Preference, c.pref) || !same(v.Score, c.score) || v.Raw != c.text {
			t.Errorf("%s %q: %+v, want valid=%v pref=%v score=%v", c.tpl, c.text, v, c.valid, c.pref, c.score)
		}
	}
	if _, err := StructuredFormat(tpl2(t, "xstest")); err == nil {
		t.Error("xstest has no structured form, yet StructuredFormat accepted it")
	}
	// The schema names the one key and its values.
	b, err := StructuredFormat(tpl2(t, "dno-additive6"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Type string `json:"type"`
			Enum []int  `json:"enum"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil || len(s.Required) != 1 || s.Required[0] != "score" ||
		s.Properties["score"].Type != "integer" || len(s.Properties["score"].Enum) != 7 {
		t.Errorf("dno-additive6 schema %s (%v)", b, err)
	}
}

// TestServerStructuredJudge: Ollama v0.17.4's llama.cpp runner enforces `format` for
// stories260k, so the tiny model, which never answers a judge template in free text, gives a
// verdict every time when it is constrained.
func TestServerStructuredJudge(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 2*time.Minute)
	for _, name := range []string{"alpaca_eval_clf", "mt-bench/pair-v2", "arena-hard"} {
		j, err := JudgePair(ctx, p, JudgeRequest{Judge: testModel, Template: tpl2(t, name), Instruction: "Tell a story.",
			Output1: "Once upon a time there was a cat.", Output2: "No.", Attempts: 1, Seed: 5, Structured: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, g := range j.Games {
			if !g.Verdict.Valid || g.Attempts != 1 {
				t.Errorf("%s: structured game did not parse at the first attempt: %+v", name, g)
			}
			if !json.Valid([]byte(g.Raws[0])) {
				t.Errorf("%s: raw answer %q is not JSON", name, g.Raws[0])
			}
		}
		t.Logf("%s: preference %v, raws %q %q", name, j.Preference, j.Games[0].Raws, j.Games[1].Raws)
	}
	// GenerateRequest.Format on /api/generate (raw completion) as well.
	format, _ := StructuredFormat(tpl2(t, "mt-bench/pair-v2"))
	res, err := p.Generate(ctx, GenerateRequest{Model: testModel, Prompt: "Once upon a time", Raw: true, Seed: 1, Options: GreedyOptions(64), Format: format})
	if err != nil {
		t.Fatal(err)
	}
	if v := ParseStructured(tpl2(t, "mt-bench/pair-v2"), res.Text); !v.Valid {
		t.Errorf("raw /api/generate with format: %q does not parse", res.Text)
	}
	valid := 0
	for seed := int64(0); seed < 4; seed++ {
		o := Options{Temperature: 1, TopP: 1, RepeatPenalty: 1, NumPredict: 16} // raised to StructuredMinPredict
		g, err := JudgeSingle(ctx, p, SingleRequest{Judge: testModel, Template: tpl2(t, "dno-additive6"), Instruction: "Tell a story.",
			Response: "Once upon a time there was a happy cat.", Attempts: 1, Seed: seed, Options: &o, Structured: true})
		if err != nil {
			t.Fatal(err)
		}
		if g.Verdict.Valid {
			valid++
			if g.Verdict.Score < 0 || g.Verdict.Score > 6 {
				t.Errorf("score %v outside 0..6", g.Verdict.Score)
			}
		}
		t.Logf("dno-additive6 seed %d: %q → %+v", seed, g.Raws, g.Verdict)
	}
	if valid < 3 {
		t.Errorf("only %d of 4 structured rubric grades parsed", valid)
	}
}
