package bench

import (
	"strings"
	"testing"
)

// TestPairsBench runs the prompt-sharing bench on a few HH pairs: both variants score the same
// log-probs (to rounding), the shared one packs each pair's prompt once (the rows saved equal
// the prompts' tokens, counted here from the masks), and every rate is positive. No timing is
// asserted.
func TestPairsBench(t *testing.T) {
	var shape Shape
	for _, s := range Shapes("../../testdata/models/stories260K.gguf") {
		if s.Name == "stories260K" {
			shape = s
		}
	}
	o := PairsOptions{Data: "../../testdata/data/harmless-base-test.jsonl.gz", Stories: shape.GGUF, Shape: shape, Mode: "lora",
		Pairs: 3, Batch: 2, MaxLen: 512, Iters: 1}
	r, err := PairsBench(o)
	if err != nil {
		t.Fatal(err)
	}
	if r.MaxLogProbDiff > 1e-5 {
		t.Errorf("shared and unshared log-probs differ by %g", r.MaxLogProbDiff)
	}
	saved := r.RowsUnshared - r.RowsShared
	if want := int(r.MeanPromptTokens*2*3 + 0.5); saved*2 != want {
		t.Errorf("sharing saved %d rows; the pairs' prompts hold %d tokens per copy", saved, want/2)
	}
	if r.UnsharedPairsPerS <= 0 || r.SharedPairsPerS <= 0 || r.Ratio <= 0 || r.CPURatio <= 0 {
		t.Errorf("rates %+v", r)
	}
	o.Pairs = 0
	if _, err := PairsBench(o); err == nil || !strings.Contains(err.Error(), "want each above 0") {
		t.Errorf("pairs 0: %v", err)
	}
	o.Pairs, o.MaxLen = 3, 4
	if _, err := PairsBench(o); err == nil || !strings.Contains(err.Error(), "only 0 pairs fit 4 tokens") {
		t.Errorf("max len 4: %v", err)
	}
}
