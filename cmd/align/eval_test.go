package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/alignkit/align/assets"
	"github.com/alignkit/align/eval"
	"github.com/alignkit/align/recipes"
	"github.com/alignkit/align/train"
)

func runEval(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(append([]string{"eval"}, args...))
	err := root.Execute()
	return out.String(), err
}

func writeJudgments(t *testing.T, path string, js []eval.Judgment) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := eval.WriteJudgments(f, js); err != nil {
		t.Fatal(err)
	}
}

func TestEvalStatsCLI(t *testing.T) {
	dir := t.TempDir()
	var js []eval.Judgment
	// 8 judgments: preferences 2,2,2,1,1.5,1.75,null,1 → valid x = 1,1,1,0,0.5,0.75,0 → mean 4.25/7
	prefs := []float64{2, 2, 2, 1, 1.5, 1.75, math.NaN(), 1}
	for i, p := range prefs {
		js = append(js, eval.Judgment{Instruction: "q" + strconv.Itoa(i), Output1: strings.Repeat("x", 10+i), Output2: strings.Repeat("y", 20+3*i),
			Generator1: "base", Generator2: "m", Preference: p, Judge: "j", Raw: "m", Dataset: []string{"a", "b"}[i%2]})
	}
	path := filepath.Join(dir, "judgments.jsonl")
	writeJudgments(t, path, js)
	out, err := runEval(t, "stats", "--judgments", path, "--json", "--out", filepath.Join(dir, "rep"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rows) != 3 {
		t.Fatalf("want overall + 2 datasets, got %d", len(rows))
	}
	r := rows[0]
	if wr := r["win_rate"].(float64); math.Abs(wr-100*4.25/7) > 1e-9 || r["n_total"].(float64) != 7 || r["n_invalid"].(float64) != 1 || r["n_draws"].(float64) != 1 {
		t.Errorf("row %v", r)
	}
	if r["length_controlled_winrate"] == nil || r["lc"] == nil {
		t.Errorf("no LC: %v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "rep", "report.html")); err != nil {
		t.Errorf("no report: %v", err)
	}
	// text output shows the invalid judgment and its warning (1 of 8 = 12.5% > 10%)
	out, err = runEval(t, "stats", "--judgments", path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "WARNING") || !strings.Contains(out, "invalid") || !strings.Contains(out, "(all)") {
		t.Errorf("text output:\n%s", out)
	}
}

func TestEvalLeaderboardCLI(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"good", "bad"} {
		var js []eval.Judgment
		for i := 0; i < 20; i++ {
			v1, v2 := "[[B>A]]", "[[A>B]]" // model wins both games
			if m == "bad" || i%5 == 0 {
				v1, v2 = "[[A>>B]]", "[[B>A]]"
			}
			base := eval.Judgment{Instruction: "q" + strconv.Itoa(i), Output1: "b", Output2: m, Generator1: "base", Generator2: m, Judge: "j", Template: "arena-hard", Preference: math.NaN()}
			g1, g2 := base, base
			g1.Raw, g2.Raw, g2.Swapped = v1, v2, true
			js = append(js, g1, g2)
		}
		writeJudgments(t, filepath.Join(dir, m+".jsonl"), js)
	}
	out, err := runEval(t, "leaderboard", "--judgments", dir, "--baseline", "base", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var lb struct {
		Baseline string `json:"baseline"`
		Rows     []struct {
			Model   string  `json:"model"`
			WinRate float64 `json:"win_rate"`
			Lower   float64 `json:"lower"`
			Upper   float64 `json:"upper"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &lb); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if lb.Baseline != "base" || len(lb.Rows) != 3 || lb.Rows[0].Model != "good" || lb.Rows[2].Model != "bad" || lb.Rows[1].WinRate != 50 {
		t.Errorf("leaderboard %+v", lb)
	}
	if r := lb.Rows[0]; !(r.Lower <= r.WinRate && r.WinRate <= r.Upper && r.WinRate > 50) {
		t.Errorf("good row %+v", r)
	}
	out, err = runEval(t, "leaderboard", "--judgments", dir, "--baseline", "base")
	if err != nil || !strings.Contains(out, "win rate vs base") {
		t.Errorf("text: %v\n%s", err, out)
	}
	csvPath := filepath.Join(t.TempDir(), "lb.csv")
	out, err = runEval(t, "leaderboard", "--judgments", dir, "--style-control", "--rounds", "10", "--csv", csvPath)
	if err != nil || !strings.Contains(out, "style-controlled score vs base") || !strings.Contains(out, "does not vary") {
		t.Errorf("style control: %v\n%s", err, out)
	}
	b, err := os.ReadFile(csvPath)
	if err != nil || !strings.HasPrefix(string(b), "model,score,rating_q025,rating_q975,CI,avg_tokens,date\ngood,") {
		t.Errorf("csv %v: %s", err, b)
	}
}

func TestEvalCLIErrors(t *testing.T) {
	if _, err := runEval(t, "win-rate", "--model", "m", "--prompts", "p.jsonl", "--judge", "j"); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("missing baseline: %v", err)
	}
	if _, err := runEval(t, "stats"); err == nil {
		t.Errorf("stats without --judgments accepted")
	}
	if _, err := runEval(t, "stats", "--judgments", filepath.Join(t.TempDir(), "missing.jsonl")); err == nil {
		t.Errorf("missing file accepted")
	}
}

// TestEvalRewardsCLI trains two tiny DPO runs on stories260K and reads their implicit rewards
// back: with a learning rate of 1e-12 the policy is the reference to float32 precision, so every
// reward is (near) 0; after real training the margins on the training pairs are positive.
func TestEvalRewardsCLI(t *testing.T) {
	dir := t.TempDir()
	pairsPath, err := assets.Path("stories_pairs.jsonl", filepath.Join(dir, "assets"))
	if err != nil {
		t.Fatal(err)
	}
	small := []string{"per_device_train_batch_size=2", "max_length=64", "max_prompt_length=24", "dataset.max_samples=8", "logging_steps=1"}
	trainRun := func(name string, sets ...string) string {
		r, err := recipes.Load("dpo", append(append([]string{}, small...), sets...))
		if err != nil {
			t.Fatal(err)
		}
		rd := filepath.Join(dir, name)
		if _, err := train.Run(context.Background(), train.Options{Recipe: r, RunDir: rd, CacheDir: filepath.Join(dir, "cache")}); err != nil {
			t.Fatal(err)
		}
		return rd
	}
	read := func(rd string) map[string]float64 {
		out, err := runEval(t, "rewards", "--run", rd, "--data", pairsPath, "--limit", "8", "--json", "--out", filepath.Join(rd, "rewards"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]float64
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return m
	}
	frozen := read(trainRun("frozen", "learning_rate=1e-12"))
	t.Logf("frozen: %v", frozen)
	if frozen["n"] != 8 || math.Abs(frozen["rewards/margins"]) > 1e-4 || math.Abs(frozen["rewards/chosen"]) > 1e-4 || math.Abs(frozen["rewards/rejected"]) > 1e-4 {
		t.Errorf("an untrained policy must have zero rewards: %v", frozen)
	}
	trained := read(trainRun("trained", "learning_rate=2e-3", "num_train_epochs=3"))
	t.Logf("trained: %v", trained)
	if trained["n"] != 8 || trained["beta"] != 0.1 || !(trained["rewards/margins"] > 0) || trained["rewards/accuracies"] < 0.5 {
		t.Errorf("after DPO on these pairs the margins should be positive: %v", trained)
	}
	if _, err := os.Stat(filepath.Join(dir, "trained", "rewards", "rewards.jsonl")); err != nil {
		t.Errorf("no per-pair file: %v", err)
	}
}
