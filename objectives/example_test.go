package objectives_test

import (
	"fmt"

	"github.com/alignkit/align/objectives"
)

// A training step fills the per-sequence sums, calls Loss, and reads dL/dpi back per example.
func Example() {
	obj, err := objectives.New("dpo", map[string]string{"beta": "0.1"})
	if err != nil {
		panic(err)
	}
	in := &objectives.Batch{
		PiW: []float64{-10, -20}, PiL: []float64{-12, -18},
		RefW: []float64{-11, -20}, RefL: []float64{-11, -20},
		LenW: []float64{5, 9}, LenL: []float64{6, 8},
	}
	grad := objectives.NewGrad(obj, in)
	res, err := obj.Loss(in, grad)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f accuracy %.1f\n", res.Loss, res.Metrics["rewards/accuracies"])
	fmt.Printf("dL/dpi_w %.4f %.4f\n", grad.PiW[0], grad.PiW[1])
	// Output:
	// loss 0.6981 accuracy 0.5
	// dL/dpi_w -0.0225 -0.0275
}

// Curry-DPO's pairs of one prompt, easiest first.
func ExampleCurryPairs() {
	pairs, err := objectives.CurryPairs([]float64{9, 9, 9, 8.5, 8}, "best_vs_rest", "score_gap", 0)
	if err != nil {
		panic(err)
	}
	for k, p := range pairs {
		fmt.Printf("stage %d: chosen %d, rejected %d, gap %g\n", k+1, p.W, p.L, p.Gap)
	}
	// Output:
	// stage 1: chosen 0, rejected 4, gap 1
	// stage 2: chosen 0, rejected 3, gap 0.5
}
