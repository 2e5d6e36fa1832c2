package model

import (
	"math"
	"testing"
)

// TestGGMLVExpf checks the SSE2 ggml_v_expf re-enactment against float64 exp: within the
// routine's documented 1.45+0.5 ulp, and its overflow/underflow lanes.
func TestGGMLVExpf(t *testing.T) {
	for x := float32(-103); x < 88; x += 0.0137 {
		got, want := float64(ggmlVExpf(x)), math.Exp(float64(x))
		ulp := float64(math.Nextafter32(float32(want), float32(math.Inf(1))) - float32(want))
		if d := math.Abs(got-want) / ulp; d > 2 {
			t.Fatalf("ggmlVExpf(%g) = %g, exp = %g (%.2f ulp)", x, got, want, d)
		}
	}
	if v := ggmlVExpf(100); !math.IsInf(float64(v), 1) {
		t.Errorf("ggmlVExpf(100) = %g, want +Inf", v)
	}
	if v := ggmlVExpf(-110); v != 0 {
		t.Errorf("ggmlVExpf(-110) = %g, want 0", v)
	}
}

// TestGGMLLogProbsBatch checks that the F16KV path scores a packed batch exactly as each
// sequence alone, and stays close to the training path.
func TestGGMLLogProbsBatch(t *testing.T) {
	ref := loadT(t, storiesPath, LoadOptions{F16KV: true})
	fast := loadT(t, storiesPath, LoadOptions{})
	var seqs []Sequence
	for _, text := range []string{"Once upon a time there was a cat.", "Tom saw a big dog. It was happy.", "Hi"} {
		toks, err := ref.Tokenize(text, true)
		if err != nil {
			t.Fatal(err)
		}
		mask := make([]bool, len(toks))
		for i := 1; i < len(toks); i++ {
			mask[i] = i%3 != 2
		}
		seqs = append(seqs, Sequence{Tokens: toks, Mask: mask})
	}
	batch, err := ref.LogProbs(seqs)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := fast.LogProbs(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		one, err := ref.LogProbs([]Sequence{s})
		if err != nil {
			t.Fatal(err)
		}
		if len(one[0]) != len(batch[i]) || len(fb[i]) != len(batch[i]) {
			t.Fatalf("sequence %d: %d log-probs alone, %d in the batch, %d on the training path", i, len(one[0]), len(batch[i]), len(fb[i]))
		}
		for j := range one[0] {
			if one[0][j] != batch[i][j] {
				t.Errorf("sequence %d token %d: %g alone, %g in the batch", i, j, one[0][j], batch[i][j])
			}
			if d := math.Abs(float64(fb[i][j] - batch[i][j])); d > 1e-2 {
				t.Errorf("sequence %d token %d: F16KV %g, training path %g (|Δ| %.1e)", i, j, batch[i][j], fb[i][j], d)
			}
		}
	}
}
