package curate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/recipes"
)

// TestSafetyDPORecipe checks the safety-dpo recipe file (the same one recipes/ embeds) against the
// recipe schema, and that its example data reads as pairs.
func TestSafetyDPORecipe(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "recipes", "safety-dpo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := recipes.Parse(src, "safety-dpo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "safety-dpo" || r.Objective.Name != "dpo" || r.Dataset.Format != "pairs" {
		t.Errorf("recipe %+v", r)
	}
	pairs, err := data.ReadPairs(filepath.Join("..", "..", r.Dataset.Path), data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 976 {
		t.Errorf("%s: %d pairs, want 976", r.Dataset.Path, len(pairs))
	}
}
