package train

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/assets"
	"github.com/alignkit/align/recipes"
)

// TestMemoryPlan: the estimate's inputs from a recipe — the policy sequences one step packs, and
// whether a second copy of the weights is loaded, by the rules loadModels applies.
func TestMemoryPlan(t *testing.T) {
	for _, c := range []struct {
		recipe string
		sets   []string
		tokens int
		ref    bool
	}{
		{"dpo", nil, 8 * 2 * 512, true}, // chosen and rejected; the base as reference
		{"simpo", []string{"eval.held_out=0"}, 0, false},
		{"simpo", []string{"eval.held_out=8"}, 0, true},                       // the base for evaluation
		{"dpo", []string{"reference.free=true", "eval.held_out=0"}, 0, false}, // reference-free DPO
		{"dpo", []string{"per_device_train_batch_size=2", "max_length=300"}, 2 * 2 * 300, true},
	} {
		r, err := recipes.Load(c.recipe, c.sets)
		if err != nil {
			t.Fatal(err)
		}
		p, err := MemoryPlan(r)
		if err != nil {
			t.Fatalf("%s %v: %v", c.recipe, c.sets, err)
		}
		want := c.tokens
		if want == 0 {
			want = r.PerDeviceTrainBatchSize * 2 * r.MaxLength
		}
		if p.Tokens != want || p.Reference != c.ref || p.LoRARank != r.LoraR || p.LowMemory != r.Model.LowMemory {
			t.Errorf("%s %v: plan %+v, want %d tokens, reference %v", c.recipe, c.sets, p, want, c.ref)
		}
	}
}

// TestMemoryRefusal: a run whose estimated peak memory exceeds the memory it may take (a 1 MB
// limit, injected through Options) is refused before the models load, with the estimate in the
// error, and nothing is written; with Force it starts, says so, prints the warm-up step's time per
// epoch, and trains.
func TestMemoryRefusal(t *testing.T) {
	r := load(t, "dpo", append([]string{"max_steps=1"}, small...)...)
	base := t.TempDir()
	dir := filepath.Join(base, "run")
	path, err := assets.Resolve(r.Model.Path, filepath.Join(base, "cache", "assets"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := EstimateMemory(path, r)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	opt := Options{Recipe: r, RunDir: dir, CacheDir: filepath.Join(base, "cache"), MemAvailable: 1e6, Progress: &log}
	_, err = Run(context.Background(), opt)
	if err == nil || !strings.Contains(err.Error(), "will not fit in memory") || !strings.Contains(err.Error(), want.String()) ||
		!strings.Contains(err.Error(), "1 MB available") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("error %v, want the refusal with the estimate %s and 1 MB available", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "recipe.yaml")); !os.IsNotExist(err) {
		t.Errorf("the refused run wrote its directory: %v", err)
	}

	log.Reset()
	opt.Force = true
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatalf("--force: %v", err)
	}
	if res.Steps != 1 {
		t.Errorf("--force run took %d steps, want 1", res.Steps)
	}
	out := log.String()
	for _, s := range []string{"estimated peak memory " + want.String() + "; 1 MB available", "--force: starting", "estimated time per epoch"} {
		if !strings.Contains(out, s) {
			t.Errorf("progress output lacks %q:\n%s", s, out)
		}
	}

	// Enough memory: no refusal, no --force note.
	log.Reset()
	opt.Force, opt.MemAvailable, opt.RunDir = false, 1<<40, filepath.Join(base, "run2")
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "--force") {
		t.Errorf("a run that fits printed the --force note:\n%s", log.String())
	}
}
