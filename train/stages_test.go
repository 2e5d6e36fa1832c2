package train

import (
	"bytes"
	"context"
	"fmt"
	"github.com/alignkit/align/pairs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/recipes"
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
	judge := pairs.RuleJudge{Words: r.Online.Judge.Words, TargetLength: r.Online.Judge.TargetLength}
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
