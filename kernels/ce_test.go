package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCERowSizes checks every ISA's cross-entropy backward row, g*exp(x-lse), against float64
// at every length of testSizes (all tails of the unrolled and single-vector loops), in place and
// not, and that nothing past the row is written.
func TestCERowSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, n := range testSizes() {
			x := randVec(r, n+3, 4)
			l := lseRef(x[:n])
			if n == 0 {
				l = 0
			}
			g := float32(-0.75)
			dst := make([]float32, n+3)
			for i := range dst {
				dst[i] = 42
			}
			im.ceRow(dst[:n], x[:n], float32(l), g)
			in := append([]float32(nil), x...)
			im.ceRow(in[:n], in[:n], float32(l), g)
			for i := 0; i < n; i++ {
				want := float64(g) * math.Exp(float64(x[i])-float64(float32(l)))
				if !closeRel(float64(dst[i]), want, 2e-6, 1e-30) {
					t.Fatalf("n=%d: dst[%d]=%g want %g", n, i, dst[i], want)
				}
				if dst[i] != in[i] {
					t.Fatalf("n=%d: in place [%d]=%g, out of place %g", n, i, in[i], dst[i])
				}
			}
			for i := n; i < n+3; i++ {
				if dst[i] != 42 || in[i] != x[i] {
					t.Fatalf("n=%d: element %d past the row written", n, i)
				}
			}
		}
	})
}
