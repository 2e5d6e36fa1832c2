package objectives

import (
	"math"
	"strings"
	"testing"
)

// Boundaries the other tests do not reach: an empty batch, the hinge's kink, ties in the
// name suggestions, and the text of range errors.

// An empty batch has loss 0 and finite metrics for every objective.
func TestEmptyBatch(t *testing.T) {
	for _, v := range allVariants() {
		obj := mustNew(t, v)
		in := &Batch{}
		res, err := obj.Loss(in, NewGrad(obj, in))
		if err != nil {
			t.Errorf("%v: %v", v, err)
			continue
		}
		if res.Loss != 0 {
			t.Errorf("%v: empty batch loss %v, want 0", v, res.Loss)
		}
		for k, m := range res.Metrics {
			if math.IsNaN(m) || math.IsInf(m, 0) {
				t.Errorf("%v: empty batch metric %s = %v", v, k, m)
			}
		}
	}
}

// At the hinge's kink (x = 1 exactly) the loss is 0 and the gradient 0, as torch.relu's.
func TestHingeKink(t *testing.T) {
	// SimPO: x = beta (a_w - a_l - gamma_beta_ratio) = 2 (0.75 - 0.25) = 1.
	s := &SimPO{Beta: 2, GammaBetaRatio: 0.25, LossType: "hinge"}
	in := &Batch{PiW: []float64{-1, -1}, PiL: []float64{-1.75, -2}, LenW: []float64{1, 1}, LenL: []float64{1, 1}}
	g := NewGrad(s, in)
	res, err := s.Loss(in, g)
	if err != nil {
		t.Fatal(err)
	}
	// Example 1: x = 2 (1 - 0.25) = 1.5 > 1, loss 0 too.
	if res.Loss != 0 || g.PiW[0] != 0 || g.PiL[0] != 0 {
		t.Errorf("simpo hinge at the kink: loss %v grads %v %v, want 0", res.Loss, g.PiW[0], g.PiL[0])
	}
	// Just inside the kink the gradient is -beta/(n B).
	in.PiL[0] = -1.5 // x = 2 (0.5 - 0.25) = 0.5
	if _, err := s.Loss(in, g); err != nil || g.PiW[0] != -1 || g.PiL[0] != 1 {
		t.Errorf("simpo hinge inside: grads %v %v (%v), want -1 1", g.PiW[0], g.PiL[0], err)
	}
	// DPO: x = beta ((pi_w - ref_w) - (pi_l - ref_l)) = 0.5 * 2 = 1.
	d := &DPO{Beta: 0.5, LossType: "hinge"}
	din := &Batch{PiW: []float64{-3}, PiL: []float64{-4}, RefW: []float64{-4}, RefL: []float64{-3}, LenW: []float64{1}, LenL: []float64{1}}
	dg := NewGrad(d, din)
	res, err = d.Loss(din, dg)
	if err != nil || res.Loss != 0 || dg.PiW[0] != 0 || dg.PiL[0] != 0 {
		t.Errorf("dpo hinge at the kink: loss %v grads %v %v (%v), want 0", res.Loss, dg.PiW[0], dg.PiL[0], err)
	}
}

// Suggestions keep the first of equally close names.
func TestClosestKeepsTheFirstOnTies(t *testing.T) {
	if got := closest("ab", []string{"ac", "ad", "ab"}); got != "ab" {
		t.Errorf("exact match: %q", got)
	}
	if got := closest("ab", []string{"ac", "ad"}); got != "ac" {
		t.Errorf("tie: %q, want the first, \"ac\"", got)
	}
}

// Range errors print the interval with its open and closed ends, and inf for an open top.
func TestRangeErrorText(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{inRange("o", "x", -1, 0, posInf(), false, true), "x must lie in [0, inf), got -1"},
		{inRange("o", "x", 0, 0, 1, true, false), "x must lie in (0, 1], got 0"},
		{inRange("o", "x", 1, 0, 1, false, true), "x must lie in [0, 1), got 1"},
		{inRange("o", "x", math.NaN(), 0, 1, false, false), "x must lie in [0, 1], got NaN"},
		{positive("o", "x", math.Inf(1)), "x must be > 0 and finite, got +Inf"},
		{finite("o", "x", math.Inf(-1)), "x must be finite, got -Inf"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want %q", c.err, c.want)
		}
	}
	for _, ok := range []error{inRange("o", "x", 0, 0, 1, false, false), inRange("o", "x", 1, 0, 1, false, false), positive("o", "x", 1e-300), finite("o", "x", -1e300)} {
		if ok != nil {
			t.Errorf("in range: %v", ok)
		}
	}
}
