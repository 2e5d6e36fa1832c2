package train

import (
	"testing"

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
