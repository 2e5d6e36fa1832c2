package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQuantizeQ4K: Dequantize(QuantizeQ4K(x)) is within one quantization step of x, for every
// value, and the 6-bit scales round-trip through scaleMinK4.
func TestQuantizeQ4K(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	x := randVec(r, 4*qkK, 0.02)
	x[5] = 0.2 // one large value in a sub-block
	raw := make([]byte, 4*144)
	if err := QuantizeQ4K(raw, x); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(x))
	if err := Dequantize(TypeQ4_K, y, raw); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 4; b++ {
		for j := 0; j < 8; j++ {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, v := range x[b*qkK+32*j : b*qkK+32*j+32] {
				lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
			}
			step := (hi - math.Min(lo, 0)) / 15
			for i := b*qkK + 32*j; i < b*qkK+32*j+32; i++ {
				// Half a step of rounding plus the 6-bit rounding of scale and min.
				if d := math.Abs(float64(y[i] - x[i])); d > 1.5*step {
					t.Fatalf("block %d sub %d [%d]: %g decodes to %g (step %g)", b, j, i, x[i], y[i], step)
				}
			}
		}
	}
	if err := QuantizeQ4K(raw, x[:100]); err == nil {
		t.Error("100 values accepted")
	}
}
