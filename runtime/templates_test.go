package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTemplatesLoad(t *testing.T) {
	want := []string{"alpaca_eval_clf", "alpaca_eval_clf_cot", "arena-hard", "dno-additive6", "xstest",
		"mt-bench/pair-v2", "mt-bench/pair-v2-multi-turn", "mt-bench/pair-math-v1", "mt-bench/pair-math-v1-multi-turn",
		"mt-bench/single-v1", "mt-bench/single-math-v1", "mt-bench/single-v1-multi-turn", "mt-bench/single-math-v1-multi-turn"}
	var names []string
	for _, tp := range Templates() {
		names = append(names, tp.Name)
		if tp.Options.NumPredict < 1 {
			t.Errorf("%s: num_predict %d", tp.Name, tp.Options.NumPredict)
		}
		if tp.Kind != Pairwise && tp.Kind != Single {
			t.Errorf("%s: kind %q", tp.Name, tp.Kind)
		}
		if v := ParseWith(tp.Parser, GenerateResult{Text: "x"}); v.Valid || strings.HasPrefix(v.Label, "unknown parser") {
			t.Errorf("%s: parser %q: %+v", tp.Name, tp.Parser, v)
		}
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("template %s missing (have %v)", w, names)
		}
	}
	if _, err := Template("nope"); err == nil || !strings.Contains(err.Error(), "alpaca_eval_clf") {
		t.Errorf("unknown template error should list the known ones: %v", err)
	}
}

func TestAlpacaClfRender(t *testing.T) {
	tp, err := Template("alpaca_eval_clf")
	if err != nil {
		t.Fatal(err)
	}
	if !tp.Logprobs || tp.TopLogprobs != 5 || tp.Options.NumPredict != 1 || tp.Parser != ParserLogprobMM {
		t.Fatalf("alpaca_eval_clf settings %+v", tp)
	}
	if got := tp.Placeholders(); !slices.Equal(got, []string{"instruction", "output_1", "output_2"}) {
		t.Fatalf("placeholders %v", got)
	}
	// A value holding another placeholder is not expanded again; literal braces stay.
	msgs, err := tp.Render(map[string]string{"instruction": "say {output_2}", "output_1": "first", "output_2": "second"})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Role != "system" || msgs[1].Role != "user" {
		t.Fatalf("messages %+v", msgs)
	}
	u := msgs[1].Content
	for _, s := range []string{`"instruction": """say {output_2}""",`, `"output": """first"""`, `"output": """second"""`, "{\n    {\n"} {
		if !strings.Contains(u, s) {
			t.Errorf("rendered user prompt lacks %q:\n%s", s, u)
		}
	}
	if strings.Contains(u, "<|im_") || strings.Contains(msgs[0].Content, "<|im_") {
		t.Errorf("chatml markers left in the prompt")
	}
	if _, err := tp.Render(map[string]string{"instruction": "x"}); err == nil || !strings.Contains(err.Error(), "output_1") {
		t.Errorf("missing value should be an error naming it: %v", err)
	}
}

func TestPairVarsSwap(t *testing.T) {
	req := JudgeRequest{Instruction: "q", Output1: "one", Output2: "two",
		Vars: map[string]string{"answer_a_1": "a1", "answer_b_1": "b1", "ref_answer_1": "ref"}}
	v := pairVars(req, true)
	if v["answer_a"] != "two" || v["output_1"] != "two" || v["answer_2"] != "one" {
		t.Errorf("swapped slots %v", v)
	}
	if v["answer_a_1"] != "b1" || v["answer_b_1"] != "a1" || v["ref_answer_1"] != "ref" {
		t.Errorf("swapped extra vars %v", v)
	}
	tp, _ := Template("arena-hard")
	msgs, err := tp.Render(pairVars(req, false))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msgs[1].Content, "<|The Start of Assistant A's Answer|>\none\n") || !strings.HasPrefix(msgs[0].Content, "Please act as an impartial judge") {
		t.Errorf("arena-hard render:\n%s", msgs[1].Content)
	}
}

func TestLoadTemplate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "mine.json")
	os.WriteFile(good, []byte(`{"kind": "pairwise", "parser": "abc", "user": "Q: {question}\nA: {answer_a}\nB: {answer_b}", "options": {"temperature": 0, "num_predict": 64}}`), 0o644)
	tp, err := LoadTemplate(good)
	if err != nil {
		t.Fatal(err)
	}
	if tp.Name != "mine" || tp.Parse(GenerateResult{Text: "[[B]]"}).Preference != 2 {
		t.Errorf("loaded %+v", tp)
	}
	for body, want := range map[string]string{
		`{"kind": "pairwise", "parser": "nope", "user": "x", "options": {"num_predict": 1}}`:       "unknown parser",
		`{"kind": "both", "parser": "abc", "user": "x", "options": {"num_predict": 1}}`:            "kind",
		`{"kind": "single", "parser": "rating", "user": "x"}`:                                      "num_predict",
		`{"kind": "single", "parser": "rating", "user": "x", "temperatur": 1}`:                     "unknown field",
		`{"kind": "pairwise", "parser": "logprob_mM", "user": "x", "options": {"num_predict": 1}}`: "logprobs",
	} {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := LoadTemplate(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one about %q", body, err, want)
		}
	}
	for _, tp := range Templates() {
		if err := tp.Validate(); err != nil {
			t.Errorf("embedded: %v", err)
		}
	}
}
