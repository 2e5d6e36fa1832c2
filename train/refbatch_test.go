package train

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestPrecomputeRefLogProbsOff: reference log-probs computed per micro-batch give the same
// losses and weights as the precomputed (cached) ones, and nothing is written to the cache.
func TestPrecomputeRefLogProbsOff(t *testing.T) {
	base := t.TempDir()
	sets := append([]string{"max_steps=3", "dataset.max_samples=8", "gradient_accumulation_steps=2"}, small...)
	a, b := filepath.Join(base, "a", "run"), filepath.Join(base, "b", "run")
	run(t, load(t, "dpo", sets...), a)
	run(t, load(t, "dpo", append(sets, "precompute_ref_log_probs=false")...), b)
	ma, _ := ReadMetrics(filepath.Join(a, "metrics.jsonl"))
	mb, _ := ReadMetrics(filepath.Join(b, "metrics.jsonl"))
	if len(ma) == 0 || len(ma) != len(mb) {
		t.Fatalf("%d vs %d metric rows", len(ma), len(mb))
	}
	for i := range ma {
		if ma[i].Values["loss"] != mb[i].Values["loss"] {
			t.Errorf("step %d: loss %v (precomputed) vs %v (per batch)", ma[i].Step, ma[i].Values["loss"], mb[i].Values["loss"])
		}
	}
	if !bytes.Equal(finalWeights(t, a), finalWeights(t, b)) {
		t.Error("precompute_ref_log_probs false trained to other weights")
	}
	if entries, _ := os.ReadDir(filepath.Join(base, "a", "cache", "refcache")); len(entries) != 1 {
		t.Errorf("the precomputed run cached %d files, want 1", len(entries))
	}
	if entries, _ := os.ReadDir(filepath.Join(base, "b", "cache", "refcache")); len(entries) != 0 {
		t.Errorf("the per-batch run cached %d files, want none", len(entries))
	}
}
