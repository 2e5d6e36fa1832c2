package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alignkit/align/runtime"
)

// mtE2EOptions is the end-to-end run: stories260k answers all 80 questions (two turns each)
// and grades them, with structured outputs so that every rating parses.
func mtE2EOptions(out string) MTBenchOptions {
	jo := runtime.Options{Temperature: 0, TopP: 1, RepeatPenalty: 1, NumPredict: runtime.StructuredMinPredict}
	return MTBenchOptions{Models: []string{"stories260k"}, Judge: "stories260k", Out: out, MaxNewTokens: 24, Seed: 7,
		Structured: true, JudgeOptions: &jo, Concurrency: 4}
}

// TestMTBenchChildProcess is the process TestMTBenchEndToEnd kills; it does nothing unless
// started by it.
func TestMTBenchChildProcess(t *testing.T) {
	dir := os.Getenv("ALIGN_MTBENCH_CHILD_OUT")
	if dir == "" {
		return
	}
	pool, err := runtime.NewPool(nil, runtime.PoolOptions{RequestTimeout: 2 * time.Minute, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RunMTBench(context.Background(), pool, mtE2EOptions(dir)); err != nil {
		t.Fatal(err)
	}
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// killWhen runs the child until file has at least n lines, then SIGKILLs it.
func killWhen(t *testing.T, dir, file string, n int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMTBenchChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ALIGN_MTBENCH_CHILD_OUT="+dir)
	out, _ := os.CreateTemp(t.TempDir(), "child")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for countLines(file) < n {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("child never wrote %d lines to %s", n, file)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	b, _ := os.ReadFile(out.Name())
	if err == nil {
		t.Fatalf("child finished before it was killed:\n%s", b)
	}
	t.Logf("killed the run at %d lines of %s (%v)", countLines(file), filepath.Base(file), err)
}

// TestMTBenchEndToEnd runs MT-Bench against the real server with stories260k as model and
// judge: 80 questions × 2 turns answered through the model's chat template, graded with
// FastChat's judge prompts, scored. The run is SIGKILLed while answering and again while
// judging; the rerun completes it with every answer and judgment row exactly once.
func TestMTBenchEndToEnd(t *testing.T) {
	pool := ollamaPool(t)
	dir := t.TempDir()
	answers := MTAnswerPath(dir, "stories260k")
	judgments := MTJudgmentPath(dir, "stories260k", "single")
	killWhen(t, dir, answers, 30)
	killWhen(t, dir, judgments, 40)
	before := countLines(judgments)

	res, err := RunMTBench(context.Background(), pool, mtE2EOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rerun: answered %d (%d existing), judged %d (%d existing), failed %d, invalid %d",
		res.Answered, res.AnswersExisting, res.Judged, res.JudgmentsExisting, res.Failed, res.Invalid)
	if res.AnswersExisting+res.Answered != 80 || res.AnswersExisting < 30 {
		t.Errorf("answers: %d existing + %d new, want 80 with ≥ 30 from before the kill", res.AnswersExisting, res.Answered)
	}
	if res.JudgmentsExisting+res.Judged != 160 || res.JudgmentsExisting < before-1 || res.Failed != 0 {
		t.Errorf("judgments: %d existing + %d new (failed %d), want 160 with ≥ %d kept", res.JudgmentsExisting, res.Judged, res.Failed, before-1)
	}

	// every answer row once, two turns, FastChat's row format and the category temperatures
	qs := MTBenchQuestions()
	byID := map[string]MTQuestion{}
	for _, q := range qs {
		byID[q.ID.S] = q
	}
	seenA := map[string]int{}
	runtime.ScanAppendLog(answers, func(b []byte) error {
		var raw map[string]json.RawMessage
		json.Unmarshal(b, &raw)
		for _, k := range []string{"question_id", "answer_id", "model_id", "choices", "tstamp"} {
			if raw[k] == nil {
				t.Errorf("answer row lacks %s: %s", k, b)
			}
		}
		var a MTAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatal(err)
		}
		seenA[a.QuestionID.S]++
		q := byID[a.QuestionID.S]
		if len(a.Choices) != 1 || len(a.Choices[0].Turns) != 2 {
			t.Errorf("question %s: choices %+v", a.QuestionID, a.Choices)
		}
		if p := a.GenerateParams; p == nil || p.Temperature != mtTemperature(q.Category) || len(p.Seeds) != 2 || p.Seeds[0] == p.Seeds[1] {
			t.Errorf("question %s (%s): generate_params %+v", a.QuestionID, q.Category, a.GenerateParams)
		}
		return nil
	})
	if len(seenA) != 80 {
		t.Errorf("%d distinct questions answered", len(seenA))
	}
	for id, n := range seenA {
		if n != 1 {
			t.Errorf("question %s answered %d times", id, n)
		}
	}
	rows, err := ReadMTSingleJudgments(judgments)
	if err != nil {
		t.Fatal(err)
	}
	seenJ := map[string]int{}
	for _, r := range rows {
		seenJ[fmt.Sprintf("%s/%d", r.QuestionID, r.Turn)]++
		q := byID[r.QuestionID.S]
		if want := mtPromptFor("single", q, r.Turn); r.Judge != [2]string{"stories260k", want} {
			t.Errorf("question %s turn %d judged with %v, want %s", r.QuestionID, r.Turn, r.Judge, want)
		}
		if r.Score < 1 || r.Score > 10 {
			t.Errorf("question %s turn %d: score %v (raw %q)", r.QuestionID, r.Turn, r.Score, r.Judgment)
		}
		if mtNeedsReference(q.Category) && !strings.Contains(r.UserPrompt, "Reference") {
			t.Errorf("question %s (%s): no reference answer in the judge prompt", r.QuestionID, q.Category)
		}
		if r.Turn == 2 && !strings.Contains(r.UserPrompt, q.Turns[1]) {
			t.Errorf("question %s turn 2: the second question is not in the judge prompt", r.QuestionID)
		}
	}
	if len(rows) != 160 || len(seenJ) != 160 {
		t.Errorf("%d judgment rows, %d distinct (question, turn); want 160 each", len(rows), len(seenJ))
	}

	// the score table
	sc := res.Report.MTBenchScores
	if len(sc.Single) != 1 || sc.Single[0].N != 160 || sc.Invalid != 0 || len(sc.Categories) != 8 {
		t.Fatalf("scores %+v", sc)
	}
	s := sc.Single[0]
	t.Logf("stories260k judged by stories260k (structured): turn 1 %.3f, turn 2 %.3f, average %.3f, categories %v", s.Turn1, s.Turn2, s.Average, s.Categories)
	for _, f := range []string{"report.json", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	// a second rerun does nothing
	res2, err := RunMTBench(context.Background(), pool, mtE2EOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Answered != 0 || res2.Judged != 0 || res2.Report.MTBenchScores.Single[0].Average != s.Average {
		t.Errorf("second rerun answered %d, judged %d", res2.Answered, res2.Judged)
	}
}

// TestMTBenchSecondTurnSeesFirst: the second turn is asked with the model's own first answer in
// the conversation. Replaying that conversation for greedy (math) questions gives the recorded
// second answer again; the second question alone gives a different one for at least one.
func TestMTBenchSecondTurnSeesFirst(t *testing.T) {
	pool := ollamaPool(t)
	var qs []MTQuestion
	for _, q := range MTBenchQuestions() {
		if q.Category == "math" && len(qs) < 5 {
			qs = append(qs, q)
		}
	}
	opt := mtE2EOptions(t.TempDir())
	opt.Questions = qs
	res, err := RunMTBench(context.Background(), pool, opt)
	if err != nil {
		t.Fatal(err)
	}
	answers, err := ReadMTAnswers(res.AnswerFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]MTQuestion{}
	var replay []MTAnswer
	for _, q := range qs {
		byID[q.ID.S] = q
		replay = append(replay, answers[q.ID])
	}
	// the second turn was asked with the model's own first answer in the conversation:
	// replaying that conversation (greedy math questions) gives the recorded answer again,
	// and asking the second question alone gives a different one
	differs := 0
	for _, a := range replay {
		q := byID[a.QuestionID.S]
		o := a.GenerateParams.Options
		msgs := []runtime.Message{{Role: "user", Content: q.Turns[0]}, {Role: "assistant", Content: a.Choices[0].Turns[0]}, {Role: "user", Content: q.Turns[1]}}
		r, err := pool.Generate(context.Background(), runtime.GenerateRequest{Model: "stories260k", Messages: msgs, Seed: a.GenerateParams.Seeds[1], Options: o})
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(r.Text) != a.Choices[0].Turns[1] {
			t.Errorf("question %s: replaying the conversation gives %q, the recorded turn 2 is %q", a.QuestionID, r.Text, a.Choices[0].Turns[1])
		}
		alone, err := pool.Generate(context.Background(), runtime.GenerateRequest{Model: "stories260k", Messages: msgs[2:], Seed: a.GenerateParams.Seeds[1], Options: o})
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(alone.Text) != a.Choices[0].Turns[1] {
			differs++
		}
	}
	if len(replay) != 5 || differs == 0 {
		t.Errorf("%d replays; the second question alone gave the recorded answer in all but %d", len(replay), differs)
	}
}

// TestMTBenchPairwiseEndToEnd: pairwise mode against the real server, stories260k against
// tiny-random judged by stories260k with structured verdicts, on two general and one math
// question: every (question, turn) has one row with both games, FastChat's prompts, and
// winners mapped back to model_1/model_2.
func TestMTBenchPairwiseEndToEnd(t *testing.T) {
	pool := ollamaPool(t)
	var qs []MTQuestion
	for _, q := range MTBenchQuestions() {
		if (q.Category == "writing" && len(qs) < 2) || (q.Category == "math" && len(qs) == 2) {
			qs = append(qs, q)
		}
	}
	dir := t.TempDir()
	opt := mtE2EOptions(dir)
	opt.Questions, opt.Mode, opt.Baseline = qs, "pairwise", "tiny-random"
	res, err := RunMTBench(context.Background(), pool, opt)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadMTPairJudgments(MTJudgmentPath(dir, "stories260k", "pairwise"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || res.Judged != 6 {
		t.Fatalf("%d rows, judged %d; want 6", len(rows), res.Judged)
	}
	for _, r := range rows {
		q := qs[0]
		for _, x := range qs {
			if x.ID == r.QuestionID {
				q = x
			}
		}
		if want := mtPromptFor("pairwise", q, r.Turn); r.Judge[1] != want || r.Model1 != "stories260k" || r.Model2 != "tiny-random" {
			t.Errorf("row %+v, want prompt %s", r, want)
		}
		for _, w := range []string{r.G1Winner, r.G2Winner} {
			if w != "model_1" && w != "model_2" && w != "tie" {
				t.Errorf("winner %q (raw %q / %q)", w, r.G1Judgment, r.G2Judgment)
			}
		}
		if r.G1UserPrompt == r.G2UserPrompt {
			t.Errorf("question %s turn %d: both games showed the same order", r.QuestionID, r.Turn)
		}
	}
	p := res.Report.MTBenchScores.Pairwise
	if len(p) != 1 || p[0].Model != "stories260k" || p[0].Win+p[0].Loss+p[0].Tie != 6 {
		t.Errorf("pairwise table %+v", p)
	}
	t.Logf("stories260k vs tiny-random: %+v", p)
}

// TestMTBenchNoVerdictFails: a free-text tiny judge writes no [[rating]]; the rows are kept
// with score −1 and their raw text, counted, and the run fails saying so.
func TestMTBenchNoVerdictFails(t *testing.T) {
	pool := ollamaPool(t)
	dir := t.TempDir()
	opt := mtE2EOptions(dir)
	opt.Structured = false
	opt.JudgeOptions.NumPredict = 16
	opt.Questions = MTBenchQuestions()[:1]
	res, err := RunMTBench(context.Background(), pool, opt)
	if err == nil || !strings.Contains(err.Error(), "carries a verdict") {
		t.Fatalf("error %v", err)
	}
	rows, _ := ReadMTSingleJudgments(MTJudgmentPath(dir, "stories260k", "single"))
	if len(rows) != 2 || res.Invalid != 2 {
		t.Fatalf("%d rows, %d invalid", len(rows), res.Invalid)
	}
	for _, r := range rows {
		if r.Score != -1 || r.Judgment == "" {
			t.Errorf("row %+v", r)
		}
	}
}
