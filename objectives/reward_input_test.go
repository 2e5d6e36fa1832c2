package objectives

import (
	"math"
	"strings"
	"testing"
)

// TestRewardModelRejectsBadBatches: each malformed batch gets its own error, and a valid one
// next to it is accepted, so that a check that fires too often fails as well.
func TestRewardModelRejectsBadBatches(t *testing.T) {
	two := []float64{1, 2}
	for _, c := range []struct {
		name              string
		coef              float64
		rc, rr, m, gc, gr []float64
		want              string // "" = accepted
	}{
		{name: "valid", rc: two, rr: two, m: two, gc: make([]float64, 2), gr: make([]float64, 2)},
		{name: "valid without margins or gradients", rc: two, rr: two},
		{name: "empty", rc: nil, rr: nil, want: "empty batch"},
		{name: "rejected short", rc: two, rr: two[:1], want: "2 chosen rewards, 1 rejected"},
		{name: "margins short", rc: two, rr: two, m: two[:1], want: "1 margins for 2 pairs"},
		{name: "chosen gradient short", rc: two, rr: two, gc: make([]float64, 1), gr: make([]float64, 2), want: "gradient buffers of 1 and 2"},
		{name: "rejected gradient short", rc: two, rr: two, gc: make([]float64, 2), gr: make([]float64, 3), want: "gradient buffers of 2 and 3"},
		{name: "only the chosen gradient", rc: two, rr: two, gc: make([]float64, 2)},
		{name: "negative coefficient", coef: -0.5, rc: two, rr: two, want: "center_rewards_coefficient must be ≥ 0"},
		{name: "NaN coefficient", coef: math.NaN(), rc: two, rr: two, want: "center_rewards_coefficient must be ≥ 0"},
		{name: "zero coefficient", coef: 0, rc: two, rr: two},
	} {
		o := &RewardModel{CenterRewardsCoefficient: c.coef}
		_, err := o.Pairs(c.rc, c.rr, c.m, c.gc, c.gr)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestColumnLen: a scalar, an array and a nested column give their lengths; an unknown name
// gives −1, the mark the batch checks read as "no such input".
func TestColumnLen(t *testing.T) {
	b := &Batch{RC: make([]float64, 3), TokW: make([][]float64, 4), Toks: make([][][]float64, 2)}
	for name, want := range map[string]int{"r_chosen": 3, "tok_w": 4, "toks": 2, "no such column": -1} {
		if got := b.columnLen(name); got != want {
			t.Errorf("columnLen(%q) = %d, want %d", name, got, want)
		}
	}
}
