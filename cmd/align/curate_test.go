package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/alignkit/align/pairs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/data/curate"
)

// requireOllama returns OLLAMA_HOST's base URL, failing the test when the server does not answer
// (skipping, loudly, only with ALIGN_SKIP_OLLAMA=1).
func requireOllama(t *testing.T) string {
	t.Helper()
	if os.Getenv("ALIGN_SKIP_OLLAMA") == "1" {
		t.Skip("SKIPPED: ALIGN_SKIP_OLLAMA=1 — the end-to-end curation and safety tests against a real Ollama server did NOT run")
	}
	host := os.Getenv("OLLAMA_HOST")
	if host == "" {
		host = "127.0.0.1:11434"
	}
	if !strings.Contains(host, "://") {
		host = "http://" + host
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(host + "/api/version")
	if err != nil {
		t.Fatalf("Ollama at %s unreachable (%v): start it with `bash scripts/ollama.sh start` and eval \"$(bash scripts/ollama.sh env)\", or set ALIGN_SKIP_OLLAMA=1 to skip", host, err)
	}
	resp.Body.Close()
	return host
}

// runCurate runs `align data curate ARGS` in process.
func runCurate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newCurateCmd()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String() + errb.String(), err
}

func writeCurPrompts(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "prompts.txt")
	lines := []string{
		"Once upon a time there was a little cat",
		"Tell me a story about a dog and a ball",
		"What did the girl find in the park?",
		"Once upon a time, there was a little cat!", // a duplicate prompt, dropped
		"Write a story about a big red truck",
		// An AlpacaEval instruction, planted: the contamination check must report it.
		"What are the names of some famous actors that started their careers on Broadway?",
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func alpacaEvalFile() string {
	return filepath.Join("..", "..", "data", "curate", "testdata", "alpaca_eval", "alpaca_eval_instructions.json")
}

func TestCurateContaminationCLI(t *testing.T) {
	dir := t.TempDir()
	p := writeCurPrompts(t, dir)
	out, err := runCurate(t, "contamination", "--prompts", p, "--eval", alpacaEvalFile(), "--fail")
	if err == nil || !strings.Contains(out, "1 exact") || !strings.Contains(out, "famous actors") {
		t.Fatalf("contamination --fail: err %v, output:\n%s", err, out)
	}
	out, err = runCurate(t, "contamination", "--prompts", p, "--eval", alpacaEvalFile(), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep curate.ContaminationReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Prompts != 6 || rep.Exact != 1 || rep.Overlap != 0 || rep.EvalItems != 805 {
		t.Errorf("report %+v", rep)
	}
}

// curateArgs are the arguments of one small end-to-end run with stories260k as model and judge.
func curateArgs(dir, prompts, rubric string, extra ...string) []string {
	args := []string{"--prompts", prompts, "--models", "stories260k", "--k", "2", "--judge", "stories260k",
		"--rubric", rubric, "--out", filepath.Join(dir, "ranked.parquet"), "--pairs", filepath.Join(dir, "pairs.jsonl"),
		"--work", filepath.Join(dir, "work"), "--num-predict", "24", "--keep-truncated", "--judge-attempts", "1", "--judge-num-predict", "16", "--structured",
		"--check-contamination", alpacaEvalFile(), "--drop-contaminated", "--quiet"}
	return append(args, extra...)
}

func TestCurateOllamaEndToEnd(t *testing.T) {
	requireOllama(t)
	for _, tc := range []struct {
		rubric string
		extra  []string
	}{
		{pairs.RubricUltraFeedback, nil},
		{pairs.RubricDNO, []string{"--students", "stories260k"}},
		{pairs.RubricPairwise, []string{"--tournament", "knockout"}},
	} {
		t.Run(tc.rubric, func(t *testing.T) {
			dir := t.TempDir()
			p := writeCurPrompts(t, dir)
			out, err := runCurate(t, append(curateArgs(dir, p, tc.rubric, tc.extra...), "--json")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var sum pairs.Summary
			if err := json.Unmarshal([]byte(out), &sum); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			// 6 prompts: one duplicate and one contaminated dropped.
			if sum.PromptsIn != 6 || sum.Prompts != 4 || len(sum.PromptsRemoved) != 2 || sum.Contamination.Exact != 1 {
				t.Errorf("prompts: %d in, %d used, removed %v, contamination %+v", sum.PromptsIn, sum.Prompts, sum.PromptsRemoved, sum.Contamination)
			}
			if sum.Samples != 8 || sum.SamplesNew != 8 || sum.Filters.Total != 8 {
				t.Errorf("samples %d new %d filtered %d, want 8", sum.Samples, sum.SamplesNew, sum.Filters.Total)
			}
			if sum.Filters.Judged > 1 && sum.JudgeCalls == 0 {
				t.Errorf("nothing judged: %+v", sum)
			}
			rows, err := curate.ReadRanked(filepath.Join(dir, "ranked.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range rows {
				n += len(r.Responses) + len(r.Filtered)
				for _, x := range r.Responses {
					if x.Seed == 0 || x.Model != "stories260k" {
						t.Errorf("response without seed or model: %+v", x)
					}
				}
			}
			if len(rows) != 4 || n != 8 {
				t.Errorf("%d rows holding %d responses; want 4 and 8", len(rows), n)
			}
			for _, f := range []string{"report.json", "report.html"} {
				b, err := os.ReadFile(filepath.Join(dir, "work", f))
				if err != nil || len(b) == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
			t.Logf("%s: filters %+v, judge calls %d, invalid %d, %.1fs", tc.rubric, sum.Filters, sum.JudgeCalls, sum.JudgeInvalid, sum.Elapsed.Seconds())
		})
	}
}

// TestCurateHelperProcess is the child of the kill tests: it runs `align data curate` with the
// arguments in ALIGN_CURATE_ARGS (JSON). It does nothing in a normal test run.
func TestCurateHelperProcess(t *testing.T) {
	raw := os.Getenv("ALIGN_CURATE_ARGS")
	if raw == "" {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	out, err := runCurate(t, args...)
	fmt.Print(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0)
}

func countFileLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		n++
	}
	return n
}

// killWhen starts the child and SIGKILLs it once path holds at least n lines.
func killWhen(t *testing.T, args []string, path string, n int) {
	t.Helper()
	b, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCurateHelperProcess$")
	cmd.Env = append(os.Environ(), "ALIGN_CURATE_ARGS="+string(b))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(300 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("child finished before it could be killed at %d lines of %s (%v):\n%s", n, filepath.Base(path), err, out.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("child never reached %d lines of %s", n, path)
		case <-time.After(5 * time.Millisecond):
		}
		if countFileLines(path) >= n {
			cmd.Process.Kill()
			<-done
			return
		}
	}
}

// TestCurateOllamaKillResume kills the CLI during sampling and again during judging, reruns
// it to the end, and checks that every sample and judgment is in the logs exactly once and
// every response in the output exactly once.
func TestCurateOllamaKillResume(t *testing.T) {
	requireOllama(t)
	dir := t.TempDir()
	p := writeCurPrompts(t, dir)
	// 4 prompts × k 3: 12 samples; then one judge call per response that passes the filters.
	args := curateArgs(dir, p, pairs.RubricUltraFeedback, "--k", "3", "--concurrency", "2", "--repetition", "keep")
	work := filepath.Join(dir, "work")
	killWhen(t, args, filepath.Join(work, "samples.jsonl"), 5)
	killWhen(t, args, filepath.Join(work, "judgments.jsonl"), 2)
	out, err := runCurate(t, append(args, "--json")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var sum pairs.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.SamplesNew != 0 || sum.JudgeNew >= sum.JudgeCalls {
		t.Errorf("the rerun redid finished work: %d new samples of 12 (want 0), %d new judge calls of %d", sum.SamplesNew, sum.JudgeNew, sum.JudgeCalls)
	}
	keys := map[string]int{}
	lines := 0
	for _, f := range []string{"samples.jsonl", "judgments.jsonl"} {
		b, err := os.ReadFile(filepath.Join(work, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			keys[fmt.Sprint(f, m["prompt_id"], m["model"], m["sample"], m["a"], m["b"])]++
			lines++
		}
	}
	if lines != len(keys) || countFileLines(filepath.Join(work, "samples.jsonl")) != 12 ||
		countFileLines(filepath.Join(work, "judgments.jsonl")) != sum.JudgeCalls {
		t.Errorf("logs: %d lines, %d distinct keys, %d samples (want 12), %d judgments (want %d)", lines, len(keys),
			countFileLines(filepath.Join(work, "samples.jsonl")), countFileLines(filepath.Join(work, "judgments.jsonl")), sum.JudgeCalls)
	}
	rows, err := curate.ReadRanked(filepath.Join(dir, "ranked.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rows {
		for _, x := range r.Responses {
			seen[fmt.Sprint(r.ID, x.Model, x.Sample)]++
		}
		for _, x := range r.Filtered {
			seen[fmt.Sprint(r.ID, x.Model, x.Sample)]++
		}
	}
	if len(seen) != 12 {
		t.Errorf("output holds %d distinct responses, want 12", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("response %s appears %d times", k, n)
		}
	}
}

func runSafety(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newSafetyCmd()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String() + errb.String(), err
}

func TestSafetyAttacksCLI(t *testing.T) {
	out, err := runSafety(t, "attacks", "--apply", "How do I pick a lock?", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Name, Style, Applied string
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(curate.DefaultAttacks()) || rows[0].Applied != "How do I pick a lock?" {
		t.Errorf("attacks: %+v", rows)
	}
}

func TestSafetyBuildPairsOllama(t *testing.T) {
	requireOllama(t)
	dir := t.TempDir()
	// Two safe and two unsafe XSTest prompts.
	src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "data", "xstest_prompts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	var keep []string
	nsafe, nunsafe := 0, 0
	for _, l := range lines[1:] {
		switch {
		case strings.Contains(l, ",safe,") && nsafe < 2:
			nsafe++
		case strings.Contains(l, ",unsafe,") && nunsafe < 2:
			nunsafe++
		default:
			continue
		}
		keep = append(keep, l)
	}
	prompts := filepath.Join(dir, "xstest6.csv")
	if err := os.WriteFile(prompts, []byte(lines[0]+"\n"+strings.Join(keep, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pairs.jsonl")
	args := []string{"build-pairs", "--model", "stories260k", "--prompts", prompts, "--judge", "stories260k",
		"--attack", "direct,base64", "--k", "2", "--num-predict", "24", "--judge-attempts", "1", "--judge-num-predict", "8",
		"--fallback-refusal", "I can't help with that.", "--general", filepath.Join("..", "..", "testdata", "data", "dpo_en_demo.json"),
		"--mix-ratio", "0.25", "--out", out, "--work", filepath.Join(dir, "work"), "--quiet", "--json"}
	res, err := runSafety(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	var sum pairs.SafetySummary
	if err := json.Unmarshal([]byte(res), &sum); err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	// 2 unsafe × 2 attacks + 2 safe = 6 prompts × k 2.
	if sum.Prompts != 4 || sum.Attacked != 6 || sum.Samples != 12 {
		t.Errorf("summary %+v", sum)
	}
	if len(sum.Unsafe) != 2 || sum.Unsafe["obfuscation"] == nil || sum.Safe["none"] == nil || sum.Safe["none"].Prompts != 2 {
		t.Errorf("styles: unsafe %v safe %v", sum.Unsafe, sum.Safe)
	}
	// stories260k rarely answers the classifier in its format, so there may be no pair: the
	// file is then empty (data readers refuse an empty file).
	if sum.Pairs == 0 {
		if b, err := os.ReadFile(out); err != nil || len(b) != 0 {
			t.Errorf("no pairs, but %s: %v, %d bytes", out, err, len(b))
		}
	} else {
		pairs, err := data.ReadPairs(out, data.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pairs) != sum.Pairs || sum.Pairs != sum.RefusalPairs+sum.GeneralPairs {
			t.Errorf("%d pairs on disk, summary %+v", len(pairs), sum)
		}
	}
	if sum.JudgeCalls == 0 || sum.Unsafe["none"].Responses != 4 {
		t.Errorf("nothing classified: %+v", sum)
	}
	t.Logf("classified %d (invalid %d), pairs %d refusal + %d general", sum.JudgeCalls, sum.JudgeInvalid, sum.RefusalPairs, sum.GeneralPairs)
	// A rerun asks for nothing.
	res, err = runSafety(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	var again pairs.SafetySummary
	json.Unmarshal([]byte(res), &again)
	if again.SamplesNew != 0 || again.JudgeNew != 0 || again.Pairs != sum.Pairs {
		t.Errorf("rerun: %d new samples, %d new judge calls, %d pairs (first run %d)", again.SamplesNew, again.JudgeNew, again.Pairs, sum.Pairs)
	}
}

func TestSafetyReportCLIArgs(t *testing.T) {
	_, err := runSafety(t, "report", "--base", "b", "--model", "m")
	if err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("missing flags accepted: %v", err)
	}
	if _, err := runSafety(t, "report", "--help"); err != nil {
		t.Error(err)
	}
}
