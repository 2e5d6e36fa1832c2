package train

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/alignkit/align/assets"
	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/pairs"
)

// TestOnlineIterationWiring runs two INPO iterations with the local sampler and the rule
// judge on the same prompts (online.reuse_prompts) and checks what each stage was given:
// stage 2 starts from stage 1's final weights, its prev log-probs are that policy's (computed
// here afresh from those weights), its samples come from it (the same seeds as stage 1, other
// texts), and ref holds the frozen base model's log-probs in both stages.
func TestOnlineIterationWiring(t *testing.T) {
	r := load(t, "inpo", append(append([]string{}, small...), "online.judge.kind=rule", "online.judge.words=happy,friends,smiled,fun,the",
		"online.local_sampler=true", "online.iterations=2", "online.reuse_prompts=true", "online.samples_per_prompt=4",
		"dataset.max_samples=6", "eval.held_out=0", "max_steps=3", "learning_rate=0.005", "lr_scheduler_type=constant", "warmup_ratio=0")...)
	base := t.TempDir()
	dir := filepath.Join(base, "run")
	cache := filepath.Join(base, "cache")
	res, err := Run(context.Background(), Options{Recipe: r, RunDir: dir, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 6 {
		t.Fatalf("%d steps, want 3 per stage", res.Steps)
	}
	s1, err := readSampleFile(filepath.Join(dir, "stage-1", "samples.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := readSampleFile(filepath.Join(dir, "stage-2", "samples.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) != 6 || len(s2) != 6 {
		t.Fatalf("samples: %d and %d rows, want 6 prompts each", len(s1), len(s2))
	}
	// Rows are appended as prompts finish; match them by prompt id.
	byID := map[string]pairs.SampleRow{}
	for _, row := range s2 {
		byID[row.ID] = row
	}
	differ := 0
	for _, a := range s1 {
		b, ok := byID[a.ID]
		if !ok || len(a.Seeds) != 4 || !sameSeeds(a.Seeds, b.Seeds) {
			t.Fatalf("prompt %s: stage 1 seeds %v, stage 2 %v: want the same prompt and seeds", a.ID, a.Seeds, b.Seeds)
		}
		for j := range a.Samples {
			if a.Samples[j] != b.Samples[j] {
				differ++
			}
		}
	}
	if differ == 0 {
		t.Error("stage 2's samples equal stage 1's at every seed: it did not sample the updated policy")
	}
	t.Logf("%d of 24 samples differ between the stages at the same seeds", differ)

	// Stage 2 starts from the weights stage 1 ended with (its last checkpoint, step 3).
	start2, err := os.ReadFile(filepath.Join(dir, "stage-2", "start-weights.bin"))
	if err != nil {
		t.Fatal(err)
	}
	end1, err := os.ReadFile(filepath.Join(dir, "checkpoints", "checkpoint-3", "weights.bin"))
	if err != nil {
		t.Fatal(err)
	}
	start1, _ := os.ReadFile(filepath.Join(dir, "stage-1", "start-weights.bin"))
	if !bytes.Equal(start2, end1) || bytes.Equal(start1, start2) {
		t.Fatalf("stage 2's start weights equal stage 1's end: %v; stage 1's start: %v", bytes.Equal(start2, end1), bytes.Equal(start1, start2))
	}

	// Recompute, from the weights on disk, what prev and ref must hold for each stage's pairs.
	gguf, err := assets.Path("stories260K.gguf", filepath.Join(cache, "assets"))
	if err != nil {
		t.Fatal(err)
	}
	baseM, err := model.Load(gguf, model.LoadOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer baseM.Close()
	pol, err := model.Load(gguf, model.LoadOptions{Threads: 1, LoRA: &model.LoRAConfig{Rank: r.LoraR, Alpha: float32(r.LoraAlpha), Targets: r.LoraTargetModules, Seed: r.Seed}})
	if err != nil {
		t.Fatal(err)
	}
	defer pol.Close()
	// The recorded seeds reproduce each stage's samples from the weights it started with:
	// stage 1's from the base, stage 2's from stage 1's final weights.
	for stage, start := range [][]byte{start1, start2} {
		if err := loadParams(bytes.NewReader(start), pol.Params()); err != nil {
			t.Fatal(err)
		}
		pol.SetTraining(false)
		tr := &trainer{r: r, enc: &encoder{m: pol, maxPrompt: r.MaxPromptLength, maxLength: r.MaxLength}}
		row := [][]pairs.SampleRow{s1, s2}[stage][0]
		for j, seed := range row.Seeds[:2] {
			got, err := tr.sampleText(context.Background(), pol, row.Messages, uint64(seed))
			if err != nil {
				t.Fatal(err)
			}
			if got != row.Samples[j] {
				t.Errorf("stage %d, prompt %s, seed %d: the start weights sample %q, the stage recorded %q", stage+1, row.ID, seed, got, row.Samples[j])
			}
		}
	}
	for stage, start := range [][]byte{start1, start2} {
		sd := filepath.Join(dir, "stage-"+string(rune('1'+stage)))
		ps, err := pairs.ReadPairs(filepath.Join(sd, "pairs.jsonl"))
		if err != nil || len(ps) == 0 {
			t.Fatalf("stage %d pairs: %d, %v", stage+1, len(ps), err)
		}
		if err := loadParams(bytes.NewReader(start), pol.Params()); err != nil {
			t.Fatal(err)
		}
		pol.SetTraining(false)
		enc := &encoder{m: pol, maxPrompt: r.MaxPromptLength, maxLength: r.MaxLength}
		var seqs []model.Sequence
		for _, p := range ps {
			for _, resp := range []string{p.Chosen, p.Rejected} { // the loop's order: w, then l
				s, err := enc.encode(p.Prompt, []data.Message{{Role: "assistant", Content: resp}})
				if err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, s)
			}
		}
		wantPrev, err := pol.LogProbs(seqs)
		if err != nil {
			t.Fatal(err)
		}
		wantRef, err := baseM.LogProbs(seqs)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := (RefCache{Dir: sd}).Load("prev")
		if !ok || len(got) != len(seqs) {
			t.Fatalf("stage %d: prev.bin: %d sequences, want %d", stage+1, len(got), len(seqs))
		}
		prevDiff, refGap := 0.0, 0.0
		for i := range seqs {
			g := sum64(got[i])
			prevDiff = math.Max(prevDiff, math.Abs(g-sum64(wantPrev[i])))
			refGap = math.Max(refGap, math.Abs(g-sum64(wantRef[i])))
		}
		if prevDiff > 1e-3 {
			t.Errorf("stage %d: prev log-probs differ from the start-of-stage policy's by up to %g", stage+1, prevDiff)
		}
		// pi_1 is the base model (LoRA starts at zero), so stage 1's prev equals ref; stage 2's
		// prev is the trained iterate, which differs from the base.
		if stage == 0 && refGap > 1e-3 {
			t.Errorf("stage 1: prev differs from the base by %g, but pi_1 is the base", refGap)
		}
		if stage == 1 && refGap < 1e-3 {
			t.Errorf("stage 2: prev equals the base's log-probs (gap %g): it is not the updated policy", refGap)
		}
		// ref: the frozen base in every stage (the reference cache, keyed by the sequences).
		key := RefCacheKey(hashSequences(seqs), baseM.Digest(), baseM.TemplateName(), r.MaxLength, r.MaxPromptLength, "w,l")
		ref, ok := (RefCache{Dir: filepath.Join(cache, "refcache")}).Load(key)
		if !ok || len(ref) != len(seqs) {
			t.Fatalf("stage %d: no reference log-probs cached for its pairs (%d)", stage+1, len(ref))
		}
		for i := range ref {
			if d := math.Abs(sum64(ref[i]) - sum64(wantRef[i])); d > 1e-3 {
				t.Fatalf("stage %d: ref differs from the base model by %g", stage+1, d)
			}
		}
	}
}

func sameSeeds(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
