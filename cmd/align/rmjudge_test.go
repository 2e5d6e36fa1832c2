package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/data/curate"
	"github.com/alignkit/align/pairs"
	"github.com/alignkit/align/recipes"
	"github.com/alignkit/align/train"
)

// TestEvalWinRateRewardJudge is issue 18's check of align eval win-rate --judge rm:RUN against
// the real server: stories260k and tiny-random answer the prompts through Ollama, a reward
// model trained here (a few steps of the reward recipe on stories260K) judges every pair on
// align's engine, and not one verdict is invalid. Each judgment's preference is recomputed
// from the rewards in its raw field as 1 + σ(r_2 − r_1) (1.5 under the tie threshold); a
// second run judges nothing; a DPO run as the judge is refused by name.
func TestEvalWinRateRewardJudge(t *testing.T) {
	requireOllama(t)
	dir := t.TempDir()
	rm := trainRewardRun(t, dir)
	prompts := filepath.Join(dir, "prompts.jsonl")
	var lines []string
	for _, p := range []string{"Once upon a time", "Tom had a red ball.", "The sun was hot.", "Lily saw a cat.", "One day, a bird", "Sam was sad."} {
		b, _ := json.Marshal(map[string]string{"prompt": p})
		lines = append(lines, string(b))
	}
	if err := os.WriteFile(prompts, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "eval")
	args := []string{"win-rate", "--model", "stories260k", "--baseline", "tiny-random", "--prompts", prompts,
		"--judge", "rm:" + rm, "--max-tokens", "24", "--out", out, "--json"}
	res, err := runEval(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Stats []struct {
			Judge    string `json:"judge"`
			NTotal   int    `json:"n_total"`
			NInvalid int    `json:"n_invalid"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(res), &rep); err != nil {
		t.Fatalf("%v: %s", err, res)
	}
	if len(rep.Stats) != 1 || rep.Stats[0].NInvalid != 0 || rep.Stats[0].NTotal != 6 || rep.Stats[0].Judge != "rm:"+rm {
		t.Fatalf("stats %+v, want 6 pairs judged by rm:%s, 0 invalid", rep.Stats, rm)
	}

	f, err := os.Open(filepath.Join(out, "judgments.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var j struct {
			Preference *float64 `json:"preference"`
			Raw        string   `json:"raw"`
		}
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatalf("judgment %q: %v", sc.Text(), err)
		}
		n++
		if j.Preference == nil {
			t.Fatalf("judgment %d has no preference: %s", n, sc.Text())
		}
		rs := rewardsIn(t, j.Raw)
		want := 1 + 1/(1+math.Exp(-(rs[1]-rs[0])))
		if math.Abs(rs[1]-rs[0]) < 0.05 {
			want = 1.5
		}
		if math.Abs(*j.Preference-want) > 1e-9 {
			t.Errorf("judgment %d: preference %g, rewards %v give %g", n, *j.Preference, rs, want)
		}
	}
	if n != 6 {
		t.Fatalf("%d judgments in the file, want 6", n)
	}

	// Rerun: everything is in the file already; nothing is judged twice.
	if res, err = runEval(t, args...); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	rep.Stats = nil
	if err := json.Unmarshal([]byte(res), &rep); err != nil || len(rep.Stats) != 1 || rep.Stats[0].NTotal != 6 || rep.Stats[0].NInvalid != 0 {
		t.Fatalf("rerun: %v %s", err, res)
	}
	if got := countFileLines(filepath.Join(out, "judgments.jsonl")); got != 6 {
		t.Errorf("rerun: %d judgments in the file, want still 6", got)
	}

	// A run without a reward head is refused, naming what it needs.
	dpo := filepath.Join(dir, "dpo")
	r, err := recipes.Load("dpo", []string{"per_device_train_batch_size=2", "max_length=64", "max_prompt_length=24", "dataset.max_samples=4", "max_steps=1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := train.Run(context.Background(), train.Options{Recipe: r, RunDir: dpo, CacheDir: filepath.Join(dir, "cache")}); err != nil {
		t.Fatal(err)
	}
	args[8] = "rm:" + dpo
	args[len(args)-2] = filepath.Join(dir, "eval2")
	if _, err := runEval(t, args...); err == nil || !strings.Contains(err.Error(), "--recipe reward") {
		t.Errorf("a DPO run as rm: judge: %v", err)
	}
}

// rewardsIn reads the two rewards a reward judge writes in a judgment's raw field
// ({"reward_1": r1, "reward_2": r2}, eval's rewardRaw).
func rewardsIn(t *testing.T, raw string) [2]float64 {
	t.Helper()
	var r struct {
		R1 *float64 `json:"reward_1"`
		R2 *float64 `json:"reward_2"`
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil || r.R1 == nil || r.R2 == nil {
		t.Fatalf("raw %q does not hold two rewards (%v)", raw, err)
	}
	return [2]float64{*r.R1, *r.R2}
}

// trainRewardRun trains a few steps of the reward recipe on stories260K into dir/rm: a reward
// model whose quality is beside the point, only that it serves rewards.
func trainRewardRun(t *testing.T, dir string) string {
	t.Helper()
	rm := filepath.Join(dir, "rm")
	r, err := recipes.Load("reward", []string{"per_device_train_batch_size=2", "max_length=64", "max_prompt_length=24",
		"dataset.max_samples=40", "eval.held_out=1", "max_steps=3"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := train.Run(context.Background(), train.Options{Recipe: r, RunDir: rm, CacheDir: filepath.Join(dir, "cache")}); err != nil {
		t.Fatal(err)
	}
	return rm
}

// TestCurateRewardJudge: align data curate --judge rm:RUN samples through the real server and
// grades with the reward model: no judgment is invalid, every ranked response's score is the
// reward the run itself gives that (prompt, response) (read back through train.OpenRewardModel,
// not through curation), best first; the pairwise rubric's preferences follow the rewards;
// a rerun judges nothing; the dno rubric is refused with the reason.
func TestCurateRewardJudge(t *testing.T) {
	requireOllama(t)
	dir := t.TempDir()
	rm := trainRewardRun(t, dir)
	p := filepath.Join(dir, "prompts.txt")
	if err := os.WriteFile(p, []byte("Once upon a time there was a little cat\nTom had a red ball.\nThe sun was hot.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(rubric, sub string) []string {
		return []string{"--prompts", p, "--models", "stories260k", "--k", "3", "--judge", "rm:" + rm, "--rubric", rubric,
			"--out", filepath.Join(dir, sub, "ranked.jsonl"), "--pairs", filepath.Join(dir, sub, "pairs.jsonl"),
			"--work", filepath.Join(dir, sub, "work"), "--num-predict", "24", "--keep-truncated", "--quiet", "--json"}
	}
	model, err := train.OpenRewardModel(context.Background(), rm, train.RewardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()

	out, err := runCurate(t, args(pairs.RubricUltraFeedback, "uf")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var sum pairs.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sum.Judge != "rm:"+rm || sum.JudgeInvalid != 0 || sum.JudgeCalls != sum.Filters.Judged || sum.JudgeCalls == 0 {
		t.Fatalf("summary: judge %q, %d calls, %d invalid, %d judged candidates", sum.Judge, sum.JudgeCalls, sum.JudgeInvalid, sum.Filters.Judged)
	}
	rows, err := curate.ReadRanked(filepath.Join(dir, "uf", "ranked.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	scored := 0
	for _, row := range rows {
		instr := row.Prompt[len(row.Prompt)-1].Content
		for i, x := range row.Responses {
			if x.AutoNegative {
				continue
			}
			rs, err := model.Rewards(context.Background(), instr, []string{x.Text()})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(x.Score-rs[0]) > 1e-4*(1+math.Abs(rs[0])) {
				t.Errorf("%s response %d: score %g, the reward model gives %g", row.ID, i, x.Score, rs[0])
			}
			if i > 0 && x.Score > row.Responses[i-1].Score && !row.Responses[i-1].AutoNegative {
				t.Errorf("%s: responses not best first: %g after %g", row.ID, x.Score, row.Responses[i-1].Score)
			}
			scored++
		}
	}
	t.Logf("ultrafeedback: %d prompts, %d judged candidates, %d scored in the ranked file", len(rows), sum.Filters.Judged, scored)
	if scored != sum.Filters.Judged {
		t.Errorf("%d scored responses in the ranked file, %d judged", scored, sum.Filters.Judged)
	}
	if out, err = runCurate(t, args(pairs.RubricUltraFeedback, "uf")...); err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.JudgeNew != 0 {
		t.Errorf("rerun judged %d again (%v)", sum.JudgeNew, err)
	}

	out, err = runCurate(t, args(pairs.RubricPairwise, "pw")...)
	if err != nil {
		t.Fatalf("pairwise: %v\n%s", err, out)
	}
	sum = pairs.Summary{}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.JudgeInvalid != 0 || sum.JudgeCalls == 0 {
		t.Fatalf("pairwise summary %+v (%v)", sum, err)
	}

	if out, err := runCurate(t, args(pairs.RubricDNO, "dno")...); err == nil || !strings.Contains(err.Error(), "6-point rubric") {
		t.Errorf("dno rubric with a reward judge: %v\n%s", err, out)
	}
}

// TestRewardJudgeRefused: the judges that must answer in words (safety's classifier, MT-Bench's
// rubric rating) refuse rm:RUN up front, naming the reason and where rm: does judge.
func TestRewardJudgeRefused(t *testing.T) {
	for _, c := range []struct {
		run  func(*testing.T, ...string) (string, error)
		args []string
	}{
		{runSafety, []string{"build-pairs", "--prompts", "p.jsonl", "--model", "m", "--judge", "rm:runs/x", "--out", "o.jsonl"}},
		{runSafety, []string{"report", "--base", "b", "--model", "m", "--prompts", "p", "--general", "g", "--judge", "rm:runs/x", "--out", "o"}},
		{runEval, []string{"safety", "--model", "m", "--prompts", "p", "--judge", "rm:runs/x"}},
		{runEval, []string{"mt-bench", "--model", "m", "--judge", "rm:runs/x"}},
	} {
		_, err := c.run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), "rm:runs/x is a reward model") || !strings.Contains(err.Error(), "align eval win-rate") {
			t.Errorf("%v: %v", c.args, err)
		}
	}
}

// TestScoreReward: align score --reward RUN prints the reward the run's model gives the
// (prompt, response), as train.OpenRewardModel serves it.
func TestScoreReward(t *testing.T) {
	dir := t.TempDir()
	rm := trainRewardRun(t, dir)
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs([]string{"score", "--reward", rm, "--prompt", "Tom was a little bird.", "--response", "He was happy with his friends.", "--json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Reward *float64 `json:"reward"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.Reward == nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	m, err := train.OpenRewardModel(context.Background(), rm, train.RewardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rs, err := m.Rewards(context.Background(), "Tom was a little bird.", []string{"He was happy with his friends."})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Reward != rs[0] {
		t.Errorf("align score --reward printed %g, the reward model gives %g", *got.Reward, rs[0])
	}
}
