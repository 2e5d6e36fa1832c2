package train

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/recipes"
)

// small shrinks a recipe to a few seconds on stories260K.
var small = []string{
	"per_device_train_batch_size=2", "max_length=64", "max_prompt_length=24",
	"dataset.max_samples=8", "online.sampling.max_tokens=16", "logging_steps=1",
}

func load(t *testing.T, name string, sets ...string) recipes.Recipe {
	t.Helper()
	r, err := recipes.Load(name, sets)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func run(t *testing.T, r recipes.Recipe, dir string) *Result {
	t.Helper()
	res, err := Run(context.Background(), Options{Recipe: r, RunDir: dir, CacheDir: filepath.Join(filepath.Dir(dir), "cache")})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func finalWeights(t *testing.T, dir string) []byte {
	t.Helper()
	d, _, ok, err := LatestCheckpoint(dir)
	if err != nil || !ok {
		t.Fatalf("no checkpoint in %s: %v", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(d, "weights.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryEmbeddedRecipeTrains runs each embedded recipe for a few steps on stories260K; the
// online ones use the local sampler and the rule judge (the LLM judge runs through Ollama).
func TestEveryEmbeddedRecipeTrains(t *testing.T) {
	online := []string{"online.judge.kind=rule", "online.judge.words=happy,friends,smiled,fun,play,loved,big", "online.local_sampler=true",
		"online.iterations=2", "online.pairs.min_score=0", "online.pairs.min_gap=1", "dataset.max_samples=20"}
	for _, name := range recipes.Names() {
		if name == "quickstart" {
			continue // TestQuickstart
		}
		t.Run(name, func(t *testing.T) {
			extra := []string{"max_steps=2"}
			if name == "safety-dpo" {
				// Its example dataset path is relative to the repository root.
				extra = append(extra, "dataset.path=../testdata/data/xstest_refusal_pairs.jsonl")
			}
			r := load(t, name, append(extra, small...)...)
			if isReward(r) {
				// Its held-out prompts must leave some to train on (and the quickstart's asset
				// holds up to 28 pairs of each prompt).
				r = load(t, name, append(append(extra, small...), "dataset.max_samples=60", "eval.held_out=1")...)
			}
			if r.Online.Iterations > 0 && name != "hypo" {
				r = load(t, name, append(append([]string{"max_steps=2"}, small...), online...)...)
			}
			dir := filepath.Join(t.TempDir(), "run")
			res := run(t, r, dir)
			if res.Steps < 2 || math.IsNaN(res.FinalLoss) || res.Pairs == 0 {
				t.Errorf("result %+v", res)
			}
			ms, err := ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
			if err != nil || len(ms) != res.Steps {
				t.Fatalf("metrics: %d lines for %d steps (%v)", len(ms), res.Steps, err)
			}
			for _, k := range []string{"loss", "learning_rate", "grad_norm", "tokens/s", "mfu", "elapsed"} {
				if _, ok := ms[len(ms)-1].Values[k]; !ok {
					t.Errorf("metrics lack %q: %v", k, ms[len(ms)-1].Values)
				}
			}
			if mfu := ms[len(ms)-1].Values["mfu"]; !(mfu > 0 && mfu <= 1) {
				t.Errorf("mfu %g outside (0, 1]", mfu)
			}
			// Training moved the weights away from where the stage started.
			start, _ := os.ReadFile(filepath.Join(dir, "stage-1", "start-weights.bin"))
			if bytes.Equal(start, finalWeights(t, dir)) {
				t.Error("weights did not change")
			}
			if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
				t.Error(err)
			}
			if r.Online.Iterations > 0 && r.Online.Pairs.Rule != "none" {
				// The iteration's pairs are a Parquet dataset the data package reads back.
				ps, err := data.ReadPairs(filepath.Join(dir, "stage-1", "pairs.parquet"), data.Options{})
				if err != nil || len(ps) == 0 {
					t.Errorf("stage-1/pairs.parquet: %d pairs, %v", len(ps), err)
				}
			}
		})
	}
}

// TestDeterministic: the same recipe and seed give bit-identical losses and weights; another
// seed does not.
func TestDeterministic(t *testing.T) {
	sets := append([]string{"max_steps=4", "dataset.max_samples=12"}, small...)
	base := t.TempDir()
	a, b, c := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")
	run(t, load(t, "dpo", sets...), a)
	run(t, load(t, "dpo", sets...), b)
	run(t, load(t, "dpo", append(sets, "seed=7")...), c)
	if !bytes.Equal(finalWeights(t, a), finalWeights(t, b)) {
		t.Error("same seed, different weights")
	}
	if bytes.Equal(finalWeights(t, a), finalWeights(t, c)) {
		t.Error("another seed gave the same weights")
	}
	ma, _ := ReadMetrics(filepath.Join(a, "metrics.jsonl"))
	mb, _ := ReadMetrics(filepath.Join(b, "metrics.jsonl"))
	for i := range ma {
		if ma[i].Values["loss"] != mb[i].Values["loss"] {
			t.Errorf("step %d: loss %v vs %v", ma[i].Step, ma[i].Values["loss"], mb[i].Values["loss"])
		}
	}
	// The second run found the reference log-probs in the cache: same key, one file.
	entries, _ := os.ReadDir(filepath.Join(base, "cache", "refcache"))
	if len(entries) != 1 {
		t.Errorf("reference cache holds %d files, want 1 shared by both runs", len(entries))
	}
}

func TestBadRecipesFailClearly(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		sets []string
		want string
	}{
		{"missing dataset", []string{"dataset.path=" + filepath.Join(dir, "nope.jsonl")}, "no such file"},
		{"tokenizer mismatch", []string{"reference.path=../testdata/models/llama-2-tiny-random.gguf"}, "different tokenizers"},
		{"ranked objective given pairs", []string{"objective.name=curry-dpo"}, "needs ranked data"},
		{"pairs objective given prompts", []string{"dataset.path=asset:story_prompts.jsonl"}, "a prompts file?"},
		{"ranked objective given pairs (format auto)", []string{"objective.name=curry-dpo", "dataset.format=auto"}, "needs ranked data"},
		{"unknown objective param", []string{"objective.params.gama=1"}, `unknown parameter "gama"`},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := recipes.Load("dpo", append(append([]string{}, small...), c.sets...))
			if err == nil {
				_, err = Run(context.Background(), Options{Recipe: r, RunDir: filepath.Join(dir, fmt.Sprint(i)), CacheDir: filepath.Join(dir, "cache")})
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	_, err := recipes.Load("dpo", []string{"leaning_rate=1"})
	if err == nil || !strings.Contains(err.Error(), `did you mean "learning_rate"`) {
		t.Errorf("typo: %v", err)
	}
}

// TestQuickstart runs the quickstart at reduced size: fewer prompts and held-out prompts. The
// full-size figures are in docs/benchmarks.md.
func TestQuickstart(t *testing.T) {
	sets := []string{"dataset.max_samples=120", "eval.held_out=24", "eval.samples=2", "online.sampling.max_tokens=32"}
	if testing.Short() {
		sets = []string{"dataset.max_samples=88", "eval.held_out=24", "eval.samples=2", "online.sampling.max_tokens=24", "num_train_epochs=3"}
	}
	r := load(t, "quickstart", sets...)
	res := run(t, r, filepath.Join(t.TempDir(), "qs"))
	t.Logf("win rate before %.3f after %.3f KL %.2f steps %d pairs %d", res.WinRateBefore, res.WinRateAfter, res.KL, res.Steps, res.Pairs)
	if math.Abs(res.WinRateBefore-0.5) > 0.2 {
		t.Errorf("base against itself won %.2f, want about 0.5", res.WinRateBefore)
	}
	if res.WinRateAfter < 0.7 {
		t.Errorf("trained policy won %.2f against the base, want >= 0.7", res.WinRateAfter)
	}
	if res.KL <= 0 {
		t.Errorf("KL estimate %v, want > 0 after training", res.KL)
	}
	html, _ := os.ReadFile(res.Report)
	if !bytes.Contains(html, []byte("<svg")) {
		t.Error("report without charts")
	}
}

// TestMain lets the resume test re-execute this test binary as a training child process.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ALIGN_TRAIN_CHILD_DIR"); dir != "" {
		opt := Options{RunDir: dir, CacheDir: os.Getenv("ALIGN_TRAIN_CHILD_CACHE")}
		if os.Getenv("ALIGN_TRAIN_CHILD_RESUME") == "1" {
			opt.Resume = true
		} else {
			r, err := recipes.Load("dpo", strings.Split(os.Getenv("ALIGN_TRAIN_CHILD_SETS"), ";"))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			opt.Recipe = r
		}
		if _, err := Run(context.Background(), opt); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestResumeAfterKill kills the training with SIGKILL at a random step three times, resumes
// each time, and checks that the final weights are bit-identical to an uninterrupted run and that
// every checkpoint on disk is whole.
func TestResumeAfterKill(t *testing.T) {
	sets := append([]string{"max_steps=14", "save_steps=1", "save_total_limit=2", "dataset.max_samples=16", "lora_dropout=0"}, small...)
	base := t.TempDir()
	cache := filepath.Join(base, "cache")
	ref := filepath.Join(base, "ref")
	child := func(dir string, resume bool) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "ALIGN_TRAIN_CHILD_DIR="+dir, "ALIGN_TRAIN_CHILD_CACHE="+cache, "ALIGN_TRAIN_CHILD_SETS="+strings.Join(sets, ";"))
		if resume {
			cmd.Env = append(cmd.Env, "ALIGN_TRAIN_CHILD_RESUME=1")
		}
		return cmd
	}
	if out, err := child(ref, false).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	want := finalWeights(t, ref)

	dir := filepath.Join(base, "killed")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	lastStep := 0
	for kill := 0; kill < 3; kill++ {
		// Beyond any line a killed process left in metrics.jsonl, so the kill lands while the
		// resumed process trains.
		target := lastStep + 1 + rng.IntN(3)
		if ms, _ := ReadMetrics(filepath.Join(dir, "metrics.jsonl")); len(ms) > 0 {
			target = max(target, ms[len(ms)-1].Step+1+rng.IntN(2))
		}
		cmd := child(dir, kill > 0)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			ms, _ := ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
			if len(ms) > 0 && ms[len(ms)-1].Step >= target {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("child did not reach step %d: %s", target, stderr.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		_, step, ok, err := LatestCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			step = 0 // killed before the first checkpoint: the resume starts over
		}
		t.Logf("kill %d at about step %d; newest checkpoint %d", kill+1, target, step)
		checkWhole(t, dir)
		lastStep = step
	}
	if out, err := child(dir, true).CombinedOutput(); err != nil {
		t.Fatalf("final resume: %v\n%s", err, out)
	}
	if !bytes.Equal(finalWeights(t, dir), want) {
		t.Error("resumed run's final weights differ from the uninterrupted run's")
	}
	ma, _ := ReadMetrics(filepath.Join(ref, "metrics.jsonl"))
	mb, _ := ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
	if len(ma) != len(mb) {
		t.Fatalf("metrics: %d lines vs %d", len(ma), len(mb))
	}
	for i := range ma {
		if ma[i].Step != mb[i].Step || ma[i].Values["loss"] != mb[i].Values["loss"] {
			t.Errorf("metrics line %d: step %d loss %v vs step %d loss %v", i, ma[i].Step, ma[i].Values["loss"], mb[i].Step, mb[i].Values["loss"])
		}
	}
}

// checkWhole asserts that every checkpoint directory holds all its files, each readable.
func checkWhole(t *testing.T, dir string) {
	t.Helper()
	steps, _ := listCheckpoints(dir)
	for _, s := range steps {
		d := filepath.Join(dir, "checkpoints", fmt.Sprintf("checkpoint-%d", s))
		for _, f := range []string{"weights.bin", "optimizer.bin", "state.json", "recipe.yaml"} {
			st, err := os.Stat(filepath.Join(d, f))
			if err != nil || st.Size() == 0 {
				t.Errorf("checkpoint %d: %s missing or empty", s, f)
			}
		}
		if _, err := recipes.ParseFile(filepath.Join(d, "recipe.yaml")); err != nil {
			t.Errorf("checkpoint %d: %v", s, err)
		}
	}
}

// TestNaNStops poisons the weights of a checkpoint with NaN and resumes from it: the first loss
// is NaN, so the run stops with a clear message and writes no checkpoint after the last good one.
func TestNaNStops(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "run")
	run(t, load(t, "dpo", append([]string{"max_steps=4", "save_steps=1", "save_total_limit=0"}, small...)...), dir)
	root := filepath.Join(dir, "checkpoints")
	for _, s := range []string{"checkpoint-3", "checkpoint-4"} {
		os.RemoveAll(filepath.Join(root, s))
	}
	ck := filepath.Join(root, "checkpoint-2", "weights.bin")
	b, err := os.ReadFile(ck)
	if err != nil {
		t.Fatal(err)
	}
	// The file ends with float32 data: overwrite the last value with NaN (0x7fc00000).
	copy(b[len(b)-4:], []byte{0x00, 0x00, 0xc0, 0x7f})
	os.WriteFile(ck, b, 0o644)
	_, err = Run(context.Background(), Options{RunDir: dir, Resume: true, CacheDir: filepath.Join(base, "cache")})
	if err == nil || !strings.Contains(err.Error(), "loss is NaN at step 3") || !strings.Contains(err.Error(), "checkpoint-2") {
		t.Fatalf("error %v, want a NaN message naming step 3 and checkpoint-2", err)
	}
	if _, step, _, _ := LatestCheckpoint(dir); step != 2 {
		t.Errorf("newest checkpoint %d after the NaN, want 2", step)
	}
}

// TestRealDatasets trains a few steps on the repository's copies of public datasets, read
// through the data package: LLaMA-Factory's dpo_en_demo (pairs) and vicuna80_ranked (Curry-DPO).
func TestRealDatasets(t *testing.T) {
	for _, c := range []struct{ recipe, path string }{
		{"dpo", "../testdata/data/dpo_en_demo.json"},
		{"curry-dpo", "../testdata/data/vicuna80_ranked.jsonl"}, // row 74 has an empty response: skip_invalid
	} {
		t.Run(c.recipe, func(t *testing.T) {
			r := load(t, c.recipe, append(append([]string{}, small...), "dataset.path="+c.path, "dataset.format=auto", "dataset.skip_invalid=true", "max_steps=1", "dataset.max_samples=4")...)
			res := run(t, r, filepath.Join(t.TempDir(), "run"))
			if res.Steps < 1 || math.IsNaN(res.FinalLoss) {
				t.Errorf("%+v", res)
			}
		})
	}
}

func TestTruncateLikeTRL(t *testing.T) {
	// BOS=1, prompt 1 10 11 12 13, response 20 21 22.
	s := modelSeq([]int32{1, 10, 11, 12, 13, 20, 21, 22}, 5)
	got := truncate(s, 3, 5, 1, true)
	// The prompt keeps its end (12 13) behind the BOS; then the response is cut to fit 5 tokens.
	want := []int32{1, 12, 13, 20, 21}
	if fmt.Sprint(got.Tokens) != fmt.Sprint(want) || fmt.Sprint(got.Mask) != "[false false false true true]" {
		t.Errorf("got %v %v, want %v", got.Tokens, got.Mask, want)
	}
	if got := truncate(s, 8, 16, 1, true); len(got.Tokens) != 8 {
		t.Errorf("no truncation expected: %v", got.Tokens)
	}
}
