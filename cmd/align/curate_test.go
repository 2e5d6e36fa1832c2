package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	if err == nil || !strings.Contains(out, "1 exact") || !strings.Contains(out, "Broadway") {
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
	args := []string{"--prompts", prompts, "--models", "stories260k", "--k", "3", "--judge", "stories260k",
		"--rubric", rubric, "--out", filepath.Join(dir, "ranked.parquet"), "--pairs", filepath.Join(dir, "pairs.jsonl"),
		"--work", filepath.Join(dir, "work"), "--num-predict", "24", "--keep-truncated", "--judge-attempts", "1", "--judge-num-predict", "16",
		"--check-contamination", alpacaEvalFile(), "--drop-contaminated", "--quiet"}
	return append(args, extra...)
}

func TestCurateOllamaEndToEnd(t *testing.T) {
	requireOllama(t)
	for _, tc := range []struct {
		rubric string
		extra  []string
	}{
		{curate.RubricUltraFeedback, nil},
		{curate.RubricDNO, []string{"--students", "stories260k"}},
		{curate.RubricPairwise, []string{"--tournament", "knockout"}},
	} {
		t.Run(tc.rubric, func(t *testing.T) {
			dir := t.TempDir()
			p := writeCurPrompts(t, dir)
			out, err := runCurate(t, append(curateArgs(dir, p, tc.rubric, tc.extra...), "--json")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var sum curate.Summary
			if err := json.Unmarshal([]byte(out), &sum); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			// 6 prompts: one duplicate and one contaminated dropped.
			if sum.PromptsIn != 6 || sum.Prompts != 4 || len(sum.PromptsRemoved) != 2 || sum.Contamination.Exact != 1 {
				t.Errorf("prompts: %d in, %d used, removed %v, contamination %+v", sum.PromptsIn, sum.Prompts, sum.PromptsRemoved, sum.Contamination)
			}
			if sum.Samples != 12 || sum.SamplesNew != 12 || sum.Filters.Total != 12 {
				t.Errorf("samples %d new %d filtered %d, want 12", sum.Samples, sum.SamplesNew, sum.Filters.Total)
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
			if len(rows) != 4 || n != 12 {
				t.Errorf("%d rows holding %d responses; want 4 and 12", len(rows), n)
			}
			for _, f := range []string{"report.json", "report.html"} {
				b, err := os.ReadFile(filepath.Join(dir, "work", f))
				if err != nil || len(b) == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
			t.Logf("%s: filters %+v, judge calls %d, invalid %d", tc.rubric, sum.Filters, sum.JudgeCalls, sum.JudgeInvalid)
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
	deadline := time.After(90 * time.Second)
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
	// 4 prompts × k 6: 24 samples; then one judge call per response that passes the filters.
	args := curateArgs(dir, p, curate.RubricUltraFeedback, "--k", "6", "--concurrency", "2", "--repetition", "keep")
	work := filepath.Join(dir, "work")
	killWhen(t, args, filepath.Join(work, "samples.jsonl"), 7)
	killWhen(t, args, filepath.Join(work, "judgments.jsonl"), 2)
	out, err := runCurate(t, append(args, "--json")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var sum curate.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.SamplesNew >= 24 || sum.JudgeNew >= sum.JudgeCalls {
		t.Errorf("the rerun redid finished work: %d new samples of 24, %d new judge calls of %d", sum.SamplesNew, sum.JudgeNew, sum.JudgeCalls)
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
	if lines != len(keys) || countFileLines(filepath.Join(work, "samples.jsonl")) != 24 ||
		countFileLines(filepath.Join(work, "judgments.jsonl")) != sum.JudgeCalls {
		t.Errorf("logs: %d lines, %d distinct keys, %d samples (want 24), %d judgments (want %d)", lines, len(keys),
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
	if len(seen) != 24 {
		t.Errorf("output holds %d distinct responses, want 24", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("response %s appears %d times", k, n)
		}
	}
}
