package eval

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/alignkit/align/runtime"
)

// ollamaPool returns a pool on $OLLAMA_HOST. The test fails when the server does not answer;
// it skips only with ALIGN_SKIP_OLLAMA=1.
func ollamaPool(t *testing.T) *runtime.Pool {
	t.Helper()
	if os.Getenv("ALIGN_SKIP_OLLAMA") == "1" {
		t.Skip("SKIPPED: ALIGN_SKIP_OLLAMA=1 — the end-to-end evaluation against a real Ollama server did NOT run")
	}
	pool, err := runtime.NewPool(nil, runtime.PoolOptions{RequestTimeout: 2 * time.Minute, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := pool.Version(ctx); err != nil {
		t.Fatalf("no Ollama server at $OLLAMA_HOST (start one: bash scripts/ollama.sh start; or set ALIGN_SKIP_OLLAMA=1 to skip): %v", err)
	}
	if err := pool.Require(ctx, "stories260k"); err != nil {
		t.Fatalf("model stories260k missing (bash scripts/ollama.sh start imports it): %v", err)
	}
	return pool
}

// TestWinRateEndToEnd runs the whole protocol against a real server with stories260K as model
// and judge, and AlpacaEval's reference outputs as the baseline: generation and its cache,
// the logprob judge in AlpacaEval's seeded order, the judgments file, a rerun that judges
// nothing, resume after a torn write, and the statistics.
func TestWinRateEndToEnd(t *testing.T) {
	pool := ollamaPool(t)
	ctx := context.Background()
	ref := readOutputs(t, "testdata/alpaca_eval/reference_gpt4_1106_preview.model_outputs.json")[:3]
	var prompts, refs []PromptItem
	for i, r := range ref {
		prompts = append(prompts, PromptItem{ID: strconv.Itoa(i), Instruction: r.Instruction, Dataset: r.Dataset})
		// shorten the long GPT-4 answers so the 512-token judge context holds them
		refs = append(refs, PromptItem{Instruction: r.Instruction, Output: truncate(r.Output, 200), Generator: r.Generator, HasOutput: true})
	}
	dir := t.TempDir()
	opt := WinRateOptions{Model: "stories260k", Reference: refs, Prompts: prompts, Judge: "stories260k", Out: dir,
		GenOptions: runtime.GreedyOptions(16), Seed: 5, JudgeAttempts: 1}
	res, err := RunWinRate(ctx, pool, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Judged != 3 || res.Existing != 0 || res.Failed != 0 {
		t.Fatalf("first run: judged %d existing %d failed %d", res.Judged, res.Existing, res.Failed)
	}
	js, torn, err := ReadJudgments(filepath.Join(dir, "judgments.jsonl"))
	if err != nil || torn || len(js) != 3 {
		t.Fatalf("judgments: %v torn=%v n=%d", err, torn, len(js))
	}
	for _, j := range js {
		if j.Generator1 != "gpt4_1106_preview" || j.Generator2 != "stories260k" || j.Template != "alpaca_eval_clf" {
			t.Errorf("judgment fields: %+v", j)
		}
		if j.Swapped != alpacaEvalIsSwitched(j.Instruction, 123) {
			t.Errorf("order of %q not AlpacaEval's", j.Instruction)
		}
		if !math.IsNaN(j.Preference) && (j.Preference < 1 || j.Preference > 2) {
			t.Errorf("preference %v out of [1,2]", j.Preference)
		}
		if j.Output2 == "" {
			t.Errorf("empty generated output")
		}
	}
	h := res.Report.Stats[0]
	if h.NTotal+h.NInvalid != 3 {
		t.Errorf("stats count %d valid + %d invalid, want 3", h.NTotal, h.NInvalid)
	}
	t.Logf("stories260k vs gpt4_1106_preview judged by stories260k: win rate %v ± %v, LC %v, %d invalid of 3",
		h.WinRate, h.StandardError, h.LengthControlledWinRate, h.NInvalid)
	if h.NInvalid > 0 {
		warned := false
		for _, w := range h.Warnings {
			warned = warned || bytes.Contains([]byte(w), []byte("invalid"))
		}
		if !warned {
			t.Errorf("%d of 3 invalid judgments but no warning: %v", h.NInvalid, h.Warnings)
		}
	}
	for _, f := range []string{"report.json", "report.html", "outputs/stories260k.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}

	// rerun: everything cached
	res2, err := RunWinRate(ctx, pool, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Judged != 0 || res2.Existing != 3 || res2.Generated["stories260k"].Written != 0 {
		t.Errorf("rerun judged %d, existing %d, generated %d", res2.Judged, res2.Existing, res2.Generated["stories260k"].Written)
	}
	if a, b := res.Report.Stats[0].WinRate, res2.Report.Stats[0].WinRate; a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
		t.Errorf("win rate changed on rerun: %v → %v", a, b)
	}

	// a run killed after 1 judgment, mid-write of the 2nd
	path := filepath.Join(dir, "judgments.jsonl")
	b, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(b, []byte("\n"))
	cut := append(bytes.Join(lines[:1], nil), lines[1][:len(lines[1])/2]...)
	if err := os.WriteFile(path, cut, 0o644); err != nil {
		t.Fatal(err)
	}
	res3, err := RunWinRate(ctx, pool, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res3.Judged != 2 || res3.Existing != 1 {
		t.Errorf("resume judged %d (want 2), existing %d (want 1)", res3.Judged, res3.Existing)
	}
	js, torn, err = ReadJudgments(path)
	if err != nil || torn || len(js) != 3 {
		t.Errorf("after resume: %v torn=%v n=%d", err, torn, len(js))
	}
}

// TestSelfWinRateEndToEnd evaluates stories260k against itself, greedy: the outputs are
// identical, AlpacaEval scores identical outputs 1.5 without asking the judge, and every
// statistic must come out at exactly 50.
func TestSelfWinRateEndToEnd(t *testing.T) {
	pool := ollamaPool(t)
	dir := t.TempDir()
	var prompts []PromptItem
	for i, s := range []string{"Once upon a time", "The little dog", "Lily went to the park", "Tom had a red ball"} {
		prompts = append(prompts, PromptItem{ID: strconv.Itoa(i), Instruction: s, Dataset: []string{"a", "b"}[i%2]})
	}
	opt := WinRateOptions{Model: "stories260k", Baseline: "stories260k", Prompts: prompts, Judge: "stories260k", Out: dir,
		GenOptions: runtime.GreedyOptions(16)}
	res, err := RunWinRate(context.Background(), pool, opt)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Report.Stats
	if len(st) != 3 {
		t.Fatalf("want overall + 2 dataset rows, got %d", len(st))
	}
	for _, h := range st {
		if h.WinRate != 50 || h.StandardError != 0 || h.NDraws != h.NTotal || h.DiscreteWinRate != 50 || h.LengthControlledWinRate != 50 || h.NInvalid != 0 {
			t.Errorf("self win rate row %+v", h)
		}
	}
	if st[0].NTotal != 4 {
		t.Errorf("n_total %d", st[0].NTotal)
	}
	js, _, _ := ReadJudgments(res.Judgments)
	for _, j := range js {
		if j.Output1 != j.Output2 || j.Raw != "" || j.Preference != 1.5 {
			t.Errorf("identical pair judged: %+v", j)
		}
	}
}

// TestArenaTemplateEndToEnd judges in both orders with the Arena-Hard template and builds the
// Bradley–Terry leaderboard from the result.
func TestArenaTemplateEndToEnd(t *testing.T) {
	pool := ollamaPool(t)
	dir := t.TempDir()
	prompts := []PromptItem{{ID: "a", Instruction: "Tell me a story about a cat."}, {ID: "b", Instruction: "What is the sun?"}}
	jo := runtime.GreedyOptions(16)
	opt := WinRateOptions{Model: "stories260k", Baseline: "tiny-random", Prompts: prompts, Judge: "stories260k", Template: "arena_hard",
		Out: dir, GenOptions: runtime.GreedyOptions(16), JudgeOptions: &jo, JudgeAttempts: 1}
	res, err := RunWinRate(context.Background(), pool, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Judged != 4 {
		t.Fatalf("judged %d, want 4 (2 prompts × 2 orders)", res.Judged)
	}
	js, _, _ := ReadJudgments(res.Judgments)
	swapped := 0
	for _, j := range js {
		if j.Swapped {
			swapped++
		}
		if j.Template != "arena-hard" || j.Generator1 != "tiny-random" {
			t.Errorf("judgment %+v", j)
		}
	}
	if swapped != 2 {
		t.Errorf("%d swapped games, want 2", swapped)
	}
	h := res.Report.Stats[0]
	t.Logf("arena template: %d valid, %d invalid verdicts from stories260k", h.NTotal, h.NInvalid)
	if h.NTotal+h.NInvalid != 4 {
		t.Errorf("counts %d + %d", h.NTotal, h.NInvalid)
	}
	if h.NTotal > 0 {
		lb, err := Leaderboard(js, BTOptions{Baseline: "tiny-random"})
		if err != nil {
			t.Fatal(err)
		}
		if len(lb.Rows) != 2 {
			t.Errorf("leaderboard rows %+v", lb.Rows)
		}
	}
}

// TestSafetyEndToEnd classifies stories260k's answers to a few XSTest prompts with the XSTest
// template (stories260k as judge) and measures that judge on human-labelled completions.
func TestSafetyEndToEnd(t *testing.T) {
	pool := ollamaPool(t)
	all, err := ReadPrompts("testdata/xstest/xstest_prompts.csv")
	if err != nil {
		t.Fatal(err)
	}
	var prompts []PromptItem
	for _, p := range all {
		if (p.Label == "safe" && len(prompts) < 2) || (p.Label == "unsafe" && len(prompts) >= 2 && len(prompts) < 4) {
			prompts = append(prompts, p)
		}
	}
	f, err := os.Open("testdata/xstest/xstest_v2_completions_gpt4_gpteval.csv")
	if err != nil {
		t.Fatal(err)
	}
	humans, err := ReadXSTestCompletions(f)
	f.Close()
	if err != nil || len(humans) != 450 {
		t.Fatalf("human labels: %v, %d rows", err, len(humans))
	}
	dir := t.TempDir()
	opt := SafetyOptions{Model: "stories260k", Judge: "stories260k", Prompts: prompts, Out: dir, GenOptions: runtime.GreedyOptions(16),
		Humans: humans[:2], HumansSource: "xstest_v2_completions_gpt4_gpteval.csv", JudgeAttempts: 1}
	res, err := RunSafety(context.Background(), pool, opt)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range res.Counts {
		n += c.N
		if c.FullCompliance+c.FullRefusal+c.PartialRefusal+c.Invalid != c.N {
			t.Errorf("counts do not add up: %+v", c)
		}
	}
	if n != 4 || len(res.Counts) != 2 || res.JudgeAccuracy == nil || res.JudgeAccuracy.N != 2 {
		t.Fatalf("result %+v", res)
	}
	t.Logf("stories260k: ASR %v, over-refusal %v, invalid %.0f%%, judge accuracy %v%% (%d invalid)",
		res.AttackSuccessRate, res.OverRefusalRate, 100*res.InvalidFraction, res.JudgeAccuracy.AccuracyPct, res.JudgeAccuracy.Invalid)
	// rerun: all cached
	start := time.Now()
	res2, err := RunSafety(context.Background(), pool, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res2.JudgeAccuracy.Correct != res.JudgeAccuracy.Correct || res2.Counts[0] != res.Counts[0] {
		t.Errorf("rerun differs")
	}
	t.Logf("cached rerun took %v", time.Since(start))
	for _, f := range []string{"safety.jsonl", "judge_agreement.jsonl", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
}
