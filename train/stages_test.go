package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/recipes"
	"github.com/alignkit/align/runtime"
)

// TestCurryFromPrompts: Curry-DPO on the quickstart's prompts samples K completions per prompt,
// ranks them with the rule judge, and trains K-1 curriculum stages whose pairs are
// objectives.CurryPairs' order (stage 1: best against worst), each stage after the first
// against the previous stage's policy; the held-out evaluation runs as for the other objectives.
func TestCurryFromPrompts(t *testing.T) {
	r := load(t, "quickstart", "objective.name=curry-dpo", "dataset.max_samples=24", "eval.held_out=6", "eval.samples=1",
		"online.sampling.max_tokens=16", "max_steps=2", "logging_steps=1")
	dir := filepath.Join(t.TempDir(), "run")
	res := run(t, r, dir)
	k := r.Online.SamplesPerPrompt
	if res.Steps != 2*(k-1) || math.IsNaN(res.WinRateAfter) || math.IsNaN(res.KL) || res.Objective != "curry_dpo" {
		t.Errorf("result %+v: want %d stages of 2 steps and a measured win rate", res, k-1)
	}
	rows, err := readSampleFile(filepath.Join(dir, "stage-1", "samples.jsonl"))
	if err != nil || len(rows) != 24-6 {
		t.Fatalf("samples: %d rows, %v", len(rows), err)
	}
	judge := RuleJudge{Words: r.Online.Judge.Words, TargetLength: r.Online.Judge.TargetLength}
	total := 0
	for stage := 0; stage < k-1; stage++ {
		// Count the curriculum: stage s trains the s-th pair of each prompt that has one.
		n := 0
		for _, row := range rows {
			type c struct {
				text  string
				score float64
			}
			var cs []c
			for _, s := range row.Samples {
				cs = append(cs, c{s, judge.RankScore(s)})
			}
			// best_vs_rest, descending gap: (best, worst), (best, second worst), ...
			best := 0
			for i := range cs {
				if cs[i].score > cs[best].score {
					best = i
				}
			}
			var rest []c
			for i, x := range cs {
				if i != best && x.score < cs[best].score {
					rest = append(rest, x)
				}
			}
			if stage < len(rest) {
				n++
			}
		}
		total += n
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("stage-%d", stage+1), "start-weights.bin")); err != nil {
			t.Errorf("stage %d did not run: %v", stage+1, err)
		}
		if stage > 0 {
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("stage-%d", stage+1), "ref.bin")); err != nil {
				t.Errorf("stage %d has no previous-policy reference: %v", stage+1, err)
			}
		}
	}
	if res.Pairs != total {
		t.Errorf("%d training pairs, the curriculum over the ranked samples has %d", res.Pairs, total)
	}
}

// TestHyPOPerStepResume: HyPO's per-step online samples derive their seeds from the run seed and
// the step, so a run resumed from a middle checkpoint ends with the same weights; and they are
// not the per-iteration samples (the two modes train differently).
func TestHyPOPerStepResume(t *testing.T) {
	sets := append([]string{"max_steps=4", "save_steps=1", "save_total_limit=0", "dataset.max_samples=6", "online.samples_per_prompt=2"}, small...)
	base := t.TempDir()
	a := filepath.Join(base, "a")
	res := run(t, load(t, "hypo", sets...), a)
	if res.Steps != 4 || math.IsNaN(res.FinalLoss) {
		t.Fatalf("result %+v", res)
	}
	if _, err := os.Stat(filepath.Join(a, "stage-1", "online-samples.jsonl")); err == nil {
		t.Error("per-step sampling wrote per-iteration samples")
	}
	// Copy the run, drop the checkpoints after step 2, resume.
	b := filepath.Join(base, "b")
	if err := os.CopyFS(b, os.DirFS(a)); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(b, "checkpoints"))
	for _, e := range ents {
		var step int
		if _, err := fmt.Sscanf(e.Name(), "checkpoint-%d", &step); err == nil && step > 2 {
			os.RemoveAll(filepath.Join(b, "checkpoints", e.Name()))
		}
	}
	if _, err := Run(context.Background(), Options{RunDir: b, Resume: true, CacheDir: filepath.Join(base, "cache")}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(finalWeights(t, a), finalWeights(t, b)) {
		t.Error("resumed HyPO run (per-step samples) ends with other weights")
	}
	c := filepath.Join(base, "c")
	run(t, load(t, "hypo", append(sets, "online.kl_samples=per_iteration")...), c)
	if rows, err := readSampleFile(filepath.Join(c, "stage-1", "online-samples.jsonl")); err != nil || len(rows) == 0 {
		t.Errorf("per-iteration samples: %d rows, %v", len(rows), err)
	}
	if bytes.Equal(finalWeights(t, a), finalWeights(t, c)) {
		t.Error("per-step and per-iteration samples gave the same weights")
	}
	if _, err := recipes.Load("hypo", append(sets, "online.local_sampler=false")); err == nil || !strings.Contains(err.Error(), "per_step") {
		t.Errorf("per-step sampling through Ollama: %v, want an error naming per_step", err)
	}
}

// TestOnlineStructuredJudge runs a DNO iteration judged by stories260k on the real server with
// structured outputs, on prompts that carry a teacher response (and one that does not, answered
// by online.teacher_model through the server): every grade parses, the teacher is graded with
// the samples, the pairs are exactly DNO's rule over the recorded grades, and a step trains on
// them.
func TestOnlineStructuredJudge(t *testing.T) {
	host := ollamaHost(t)
	base := t.TempDir()
	prompts := []struct{ p, teacher string }{
		{"Once upon a time, Mia found a big box in the park.", "She opened it and found a happy puppy. They played all day and became best friends."},
		{"Tom was a little bird who lived in the forest.", "Every morning he sang a song, and all his friends smiled."},
		{"Lily wanted to bake a cake for her mom.", "She mixed flour and eggs, and her mom laughed with joy."},
		{"Ben had a red ball.", "He threw it high and his dog ran after it."},
		{"Sara saw a big cat.", ""}, // no reference: online.teacher_model answers it
	}
	var b strings.Builder
	for _, p := range prompts {
		rec := map[string]string{"prompt": p.p}
		if p.teacher != "" {
			rec["output"] = p.teacher
		}
		line, _ := json.Marshal(rec)
		b.Write(append(line, '\n'))
	}
	file := filepath.Join(base, "prompts.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := load(t, "dno", append(append([]string{}, small...), "dataset.path="+file, "dataset.format=prompts", "dataset.max_samples=0",
		"online.iterations=1", "online.local_sampler=true", "online.samples_per_prompt=3", "online.sampling.max_tokens=12",
		"online.judge.model=stories260k", "online.judge.structured=true", "online.judge.temperature=1", "online.pairs.min_score=0", "online.teacher_model=stories260k", "max_steps=1", "eval.held_out=0")...)
	if r.Online.Judge.Template != "dno-additive6" || r.Online.Pairs.MinGap != 2 || r.Online.Pairs.StudentGap != 1 {
		t.Fatalf("dno recipe changed: %+v", r.Online)
	}
	dir := filepath.Join(base, "run")
	res, runErr := Run(context.Background(), Options{Recipe: r, RunDir: dir, CacheDir: filepath.Join(base, "cache"), OllamaHosts: []string{host}})
	sd := filepath.Join(dir, "stage-1")
	rows, err := readSampleFile(filepath.Join(sd, "samples.jsonl"))
	if err != nil || len(rows) != len(prompts) {
		t.Fatalf("samples: %d rows, %v", len(rows), err)
	}
	grades := map[string]float64{}
	f, err := os.Open(filepath.Join(sd, "judgments.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l judgeLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Value == nil {
			t.Errorf("a structured grade did not parse: %q", l.Raw)
			continue
		}
		if !json.Valid([]byte(l.Raw[0])) {
			t.Errorf("raw answer %q is not JSON", l.Raw[0])
		}
		grades[l.Key] = *l.Value
	}
	var want, restrictive []pairRow
	tk := judgeTemplateKey(r.Online.Judge.Template, true, r.Online.Judge.Temperature)
	modelTeacher, err := runtime.ReadSamples(filepath.Join(sd, "teacher-samples.jsonl"))
	if err != nil || len(modelTeacher) != 1 || strings.TrimSpace(modelTeacher[0].Response) == "" {
		t.Fatalf("teacher-samples.jsonl: %+v, %v; want one response of the teacher model", modelTeacher, err)
	}
	prompts[len(prompts)-1].teacher = modelTeacher[0].Response
	for i, row := range rows {
		if row.Teacher != prompts[i].teacher {
			t.Fatalf("row %d: teacher %q, want the dataset's output %q", i, row.Teacher, prompts[i].teacher)
		}
		cands := row.candidates()
		scores := make([]float64, len(cands))
		for k, c := range cands {
			v, ok := grades[judgeKey("single", "stories260k", tk, row.Prompt[0].Content, c)]
			if !ok {
				t.Fatalf("no grade for candidate %d of prompt %d", k, i)
			}
			scores[k] = v
		}
		t.Logf("prompt %d grades (samples…, teacher): %v", i, scores)
		p := r.Online.Pairs
		for _, pi := range rubricPairs(scores, len(row.Samples), RubricRules{MinScore: p.MinScore, MinGap: p.MinGap, StudentGap: p.StudentGap}) {
			if strings.TrimSpace(cands[pi.w]) != strings.TrimSpace(cands[pi.l]) {
				want = append(want, pairRow{Prompt: row.Prompt, Chosen: cands[pi.w], Rejected: cands[pi.l]})
				if pi.l != len(row.Samples) {
					restrictive = append(restrictive, want[len(want)-1])
				}
			}
		}
	}
	if len(grades) != len(prompts)*4 {
		t.Errorf("%d grades, want %d (3 samples and the teacher per prompt)", len(grades), len(prompts)*4)
	}
	if runErr != nil {
		t.Fatal(runErr)
	}
	got, err := readPairFile(filepath.Join(sd, "pairs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pairs.jsonl %d pairs, DNO's rule over the grades gives %d:\n%v\n%v", len(got), len(want), got, want)
	}
	if res.Steps != 1 || res.Pairs != len(want) || len(want) == 0 || math.IsNaN(res.FinalLoss) {
		t.Errorf("result %+v", res)
	}

	// DNO-Restrictive on the same samples and grades (read back: the judge is not asked again)
	// drops the student-over-teacher pairs.
	dir2 := filepath.Join(base, "restrictive")
	for _, name := range []string{"samples.jsonl", "judgments.jsonl"} {
		b, err := os.ReadFile(filepath.Join(sd, name))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir2, "stage-1"), 0o755)
		if err := os.WriteFile(filepath.Join(dir2, "stage-1", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.Online.Pairs.Restrictive = true
	if _, err := Run(context.Background(), Options{Recipe: r, RunDir: dir2, CacheDir: filepath.Join(base, "cache"), OllamaHosts: []string{"127.0.0.1:1"}}); err != nil && len(restrictive) > 0 {
		t.Fatal(err)
	}
	got, _ = readPairFile(filepath.Join(dir2, "stage-1", "pairs.jsonl"))
	if fmt.Sprint(got) != fmt.Sprint(restrictive) || len(restrictive) == len(want) {
		t.Errorf("restrictive: %d pairs, want %d of the %d", len(got), len(restrictive), len(want))
	}
}
