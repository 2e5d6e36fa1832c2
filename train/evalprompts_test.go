package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalPromptsFile: eval.prompts holds the evaluation out of a separate file. A pairs
// dataset (HyPO's, an offline objective's) has no prompts of its own to hold out; with
// eval.prompts its first eval.held_out prompts are the held-out set and the dataset stays whole.
func TestEvalPromptsFile(t *testing.T) {
	dir := t.TempDir()
	held := filepath.Join(dir, "held.jsonl")
	if err := os.WriteFile(held, []byte(`{"prompt": "Held one."}`+"\n"+`{"prompt": "Held two."}`+"\n"+`{"prompt": "Held three."}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := load(t, "quickstart", "eval.prompts="+held, "eval.held_out=2", "dataset.max_samples=10")
	tr := &trainer{r: r, assetDir: filepath.Join(dir, "assets")}
	if err := tr.loadData(); err != nil {
		t.Fatal(err)
	}
	train, h := tr.splitPrompts()
	if len(train) != 10 {
		t.Errorf("%d training prompts, want all 10 of the dataset", len(train))
	}
	if len(h) != 2 || h[0][len(h[0])-1].Content != "Held one." || h[1][len(h[1])-1].Content != "Held two." {
		t.Errorf("held-out prompts %v, want the file's first two", h)
	}

	// Without eval.prompts the last held_out prompts of the dataset are held out.
	r = load(t, "quickstart", "eval.held_out=2", "dataset.max_samples=10")
	tr = &trainer{r: r, assetDir: filepath.Join(dir, "assets")}
	if err := tr.loadData(); err != nil {
		t.Fatal(err)
	}
	if train, h = tr.splitPrompts(); len(train) != 8 || len(h) != 2 {
		t.Errorf("%d training and %d held-out prompts, want 8 and 2", len(train), len(h))
	}

	// A file without prompts is an error naming the field.
	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r = load(t, "quickstart", "eval.prompts="+empty, "eval.held_out=2")
	tr = &trainer{r: r, assetDir: filepath.Join(dir, "assets")}
	if err := tr.loadData(); err == nil || !strings.Contains(err.Error(), "eval.prompts") {
		t.Errorf("empty eval.prompts: error %v, want one naming eval.prompts", err)
	}
}
