package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTranspose8 compares every ISA's t8 (the gather step of SGEMM packing) with the pure-Go
// twin, bit for bit, over widths, destination and source strides, and checks that it writes
// nothing outside the 8 values of each column.
func TestTranspose8(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, n := range []int{0, 16, 32, 48, 64, 160, 512} {
			for _, ds := range []int{8, 13, 48} {
				for _, pad := range []int{0, 1, 5, 16} {
					ld := n + pad
					src := randVec(r, max(8*ld, 1), 1)
					size := max((n-1)*ds+8, 0) + 3
					got := make([]float32, size)
					want := make([]float32, size)
					for i := range got {
						got[i] = float32(math.NaN())
						want[i] = got[i]
					}
					im.gemm.t8(got, ds, src, ld, n)
					transpose8Generic(want, ds, src, ld, n)
					for c := 0; c < n; c++ {
						for i := 0; i < 8; i++ {
							if w := src[i*ld+c]; math.Float32bits(want[c*ds+i]) != math.Float32bits(w) {
								t.Fatalf("generic n=%d ds=%d ld=%d: [%d,%d]=%g want %g", n, ds, ld, c, i, want[c*ds+i], w)
							}
						}
					}
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("n=%d ds=%d ld=%d: dst[%d]=%g, generic %g", n, ds, ld, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

func TestKcSplit(t *testing.T) {
	for _, kcMax := range []int{32, 256, 512} {
		for k := 1; k <= 3000; k += 7 {
			kc := kcSplit(k, kcMax)
			slices := (k + kc - 1) / kc
			if kc > kcMax || kc < 1 || slices != (k+kcMax-1)/kcMax {
				t.Fatalf("kcSplit(%d, %d) = %d: %d slices", k, kcMax, kc, slices)
			}
		}
	}
}

// sgemmCheckRef fails t unless got (m×n, stride ldc) is within 1e-5 relative Frobenius error of
// the float64 reference want and the padding of C is untouched.
func sgemmCheckRef(t *testing.T, what string, got, c []float32, want []float64, m, n, ldc int) {
	t.Helper()
	var num, den float64
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			d := float64(got[i*ldc+j]) - want[i*n+j]
			num += d * d
			den += want[i*n+j] * want[i*n+j]
		}
		for j := n; j < ldc && i*ldc+j < len(c); j++ {
			if math.Float32bits(got[i*ldc+j]) != math.Float32bits(c[i*ldc+j]) {
				t.Fatalf("%s: C padding written at row %d col %d", what, i, j)
			}
		}
	}
	if den > 0 && math.Sqrt(num/den) > 1e-5 || math.IsNaN(num) {
		t.Errorf("%s: relative Frobenius error %.3g", what, math.Sqrt(num/den))
	}
}

// TestSgemmBlocked runs every ISA's kernel with small blocks, so that the shapes cross several K
// slices (the last one shorter), A row blocks and B column blocks, in all four transposition
// cases with ld strides; every result must match the float64 reference, and the blocks (which
// do not change the K slices) must not change a single bit.
func TestSgemmBlocked(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	type sh struct{ m, n, k int }
	shapes := []sh{{1, 1, 100}, {9, 50, 70}, {23, 101, 129}, {37, 150, 200}}
	forEachImpl(t, func(t *testing.T, im *impl) {
		small := *im
		g := &small.gemm
		g.kc, g.mc, g.nc, g.bBytes = 48, 3*g.mr, 2*g.nr, 4*48*g.nr // B blocks of one panel at kc 48
		tiny := small
		tiny.gemm.mc, tiny.gemm.nc = tiny.gemm.mr, tiny.gemm.nr
		for _, s := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, ab := range [][2]float32{{1, 0}, {-0.5, 1.5}} {
					ta, tb := tr[0], tr[1]
					lda, ldb, ldc := s.k+1, s.n+3, s.n+5
					ar, br := s.m, s.k
					if ta {
						lda, ar = s.m+4, s.k
					}
					if tb {
						ldb, br = s.k+2, s.n
					}
					a := randVec(r, ar*lda, 1)
					b := randVec(r, br*ldb, 1)
					c := randVec(r, s.m*ldc, 1)
					want := sgemmRef(ta, tb, s.m, s.n, s.k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
					got := append([]float32(nil), c...)
					sgemmWith(&small, 1, ta, tb, s.m, s.n, s.k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
					sgemmCheckRef(t, "small blocks", got, c, want, s.m, s.n, ldc)
					got2 := append([]float32(nil), c...)
					sgemmWith(&tiny, 2, ta, tb, s.m, s.n, s.k, ab[0], a, lda, b, ldb, ab[1], got2, ldc)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(got2[i]) {
							t.Fatalf("%v trans=%v: tiny blocks differ from small blocks at %d: %g vs %g", s, tr, i, got2[i], got[i])
						}
					}
				}
			}
		}
	})
}

// TestSgemmDeepKThreads covers a K deeper than the production kc (several K slices) with the
// production blocking: float64 reference, and bit-identical results on 1, 2 and 3 threads for
// both split directions.
func TestSgemmDeepKThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	forEachImpl(t, func(t *testing.T, im *impl) {
		k := 2*im.gemm.kc + 37
		for _, s := range [][2]int{{20, 150}, {150, 20}} { // split N, split M
			m, n := s[0], s[1]
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}} {
				ta, tb := tr[0], tr[1]
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				a, b := randVec(r, m*k, 1), randVec(r, k*n, 1)
				want := sgemmRef(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, nil, n)
				var ref []float32
				for _, th := range []int{1, 2, 3} {
					c := make([]float32, m*n)
					sgemmWith(im, th, ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n)
					if ref == nil {
						sgemmCheckRef(t, "deep K", c, c, want, m, n, n)
						ref = c
						continue
					}
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(ref[i]) {
							t.Fatalf("m=%d n=%d k=%d trans=%v: %d threads differ from 1 at %d", m, n, k, tr, th, i)
						}
					}
				}
			}
		}
	})
}

// TestPackRows48 compares every ISA's rows48 (rows of B into 48-wide panels) with the pure-Go
// twin and with its definition, and checks that nothing outside the panels' rows is written.
func TestPackRows48(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, kc := range []int{1, 5, 16, 33} {
			for _, rows := range []int{1, kc / 2, kc} {
				for _, panels := range []int{1, 2, 5} {
					for _, pad := range []int{0, 3, 48} {
						if rows == 0 {
							continue
						}
						ld := panels*48 + pad
						src := randVec(r, rows*ld, 1)
						size := panels*48*kc + 5
						got, want := make([]float32, size), make([]float32, size)
						for i := range got {
							got[i] = float32(math.NaN())
							want[i] = got[i]
						}
						im.gemm.rows48(got, kc, src, ld, rows, panels)
						packRows48Generic(want, kc, src, ld, rows, panels)
						for p := 0; p < rows; p++ {
							for c := 0; c < panels; c++ {
								for j := 0; j < 48; j++ {
									if w, g := src[p*ld+c*48+j], want[c*48*kc+p*48+j]; math.Float32bits(w) != math.Float32bits(g) {
										t.Fatalf("generic kc=%d p=%d c=%d j=%d: %g want %g", kc, p, c, j, g, w)
									}
								}
							}
						}
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("kc=%d rows=%d panels=%d ld=%d: dst[%d]=%g, generic %g", kc, rows, panels, ld, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	})
}
