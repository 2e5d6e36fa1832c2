package model

import (
	"math"
	"strings"
	"testing"
)

// TestKeptLogits: a training pass keeps its logits within headKeepBytes (not with Recompute, not
// past the limit), and the LoRA log-probs and gradients over the kept
// logits are bit-identical to those that recompute them headRows rows at a time in the backward,
// at 1 and 2 threads; full training's gradients (the head's own summed in another order) agree
// to float32 rounding.
func TestKeptLogits(t *testing.T) {
	seqs := func(m *Model) []Sequence {
		var out []Sequence
		for _, pr := range [][2]string{{"Once upon a time", ", there was a little girl named Lily who liked to play outside with her friends."}, {"Tom had a dog", ". The dog liked to run in the park."}} {
			s, err := m.Encode([]Message{{Role: "user", Content: pr[0]}}, []Message{{Role: "assistant", Content: strings.Repeat(pr[1], 3)}})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	kept := func(m *Model) bool {
		p, err := m.Forward(seqs(m))
		if err != nil {
			t.Fatal(err)
		}
		return p.logits != nil && len(p.logits) == len(p.rows)*m.cfg.Vocab && len(p.rows) > headRows
	}
	run := func(m *Model) ([]float32, []float32) { return stepGrads(t, m, seqs(m)) }
	for _, th := range []int{1, 2} {
		keep := loraOn(t, storiesPath, LoadOptions{Threads: th})
		recompute := loraOn(t, storiesPath, LoadOptions{Threads: th})
		recompute.headKeep = -1
		if !kept(keep) || kept(recompute) {
			t.Fatalf("threads %d: logits kept %v by default, %v with no room", th, kept(keep), kept(recompute))
		}
		if kept(loraOn(t, storiesPath, LoadOptions{Threads: th, Recompute: true})) {
			t.Fatal("a Recompute pass kept its logits")
		}
		small := loraOn(t, storiesPath, LoadOptions{Threads: th})
		small.headKeep = 4 * int64(small.cfg.Vocab) * headRows // fewer rows than the pass scores
		if kept(small) {
			t.Fatal("logits kept past the limit")
		}
		wantLP, wantG := run(recompute)
		gotLP, gotG := run(keep)
		for i := range wantLP {
			if math.Float32bits(gotLP[i]) != math.Float32bits(wantLP[i]) {
				t.Fatalf("threads %d: log-prob %d: kept %g, recomputed %g", th, i, gotLP[i], wantLP[i])
			}
		}
		for i := range wantG {
			if math.Float32bits(gotG[i]) != math.Float32bits(wantG[i]) {
				t.Fatalf("threads %d: gradient %d: kept %g, recomputed %g", th, i, gotG[i], wantG[i])
			}
		}
	}
	full := loadT(t, storiesPath, LoadOptions{Full: true})
	fullR := loadT(t, storiesPath, LoadOptions{Full: true})
	fullR.headKeep = -1
	_, want := run(fullR)
	_, got := run(full)
	var num, den float64
	for i := range want {
		d := float64(got[i] - want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if math.IsNaN(num) || math.Sqrt(num/den) > 1e-5 {
		t.Fatalf("full training: kept and recomputed gradients differ by %.3g (relative)", math.Sqrt(num/den))
	}
}
