package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// forEachImpl runs f on every implementation this CPU can run (generic always).
func forEachImpl(t *testing.T, f func(t *testing.T, im *impl)) {
	t.Helper()
	for _, im := range availableImpls() {
		t.Run(im.name, func(t *testing.T) { f(t, im) })
	}
}

// testSizes covers 0, 1, every tail length mod 16 (and mod 64, the unrolled loops), and a few
// large sizes.
func testSizes() []int {
	var s []int
	for n := 0; n <= 80; n++ {
		s = append(s, n)
	}
	return append(s, 127, 128, 129, 255, 1000, 4095, 4096, 4097, 10007)
}

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

func closeRel(got, want, rel, abs float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	if math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= rel*math.Abs(want)+abs
}

func TestISAChoice(t *testing.T) {
	var warn bytesBuf
	if im := chooseImpl("generic", &warn); im.name != "generic" || warn.n != 0 {
		t.Fatalf("forcing generic: got %s, warning %q", im.name, warn.s)
	}
	best := availableImpls()[len(availableImpls())-1]
	if im := chooseImpl("", &warn); im != best {
		t.Fatalf("default: got %s, want best %s", im.name, best.name)
	}
	if im := chooseImpl("sse9", &warn); im != best || warn.n == 0 {
		t.Fatalf("unknown name: got %s, warning %q", im.name, warn.s)
	}
	for _, name := range ISAs() {
		warn = bytesBuf{}
		if im := chooseImpl(" "+strings.ToUpper(name), &warn); im.name != name || warn.n != 0 {
			t.Errorf("forcing %s: got %s, warning %q", name, im.name, warn.s)
		}
	}
	if ISA() == "" || implByName(ISA()) == nil {
		t.Fatalf("ISA() = %q is not an available implementation", ISA())
	}
	t.Logf("active %s, available %v", ISA(), ISAs())
}

type bytesBuf struct {
	s string
	n int
}

func (b *bytesBuf) Write(p []byte) (int, error) { b.s += string(p); b.n += len(p); return len(p), nil }

func TestBLAS1(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, n := range testSizes() {
			x, y := randVec(r, n, 1), randVec(r, n, 1)
			var dot, sum, sabs float64
			mx := math.Inf(-1)
			for i := range x {
				dot += float64(x[i]) * float64(y[i])
				sum += float64(x[i])
				sabs += math.Abs(float64(x[i])) + math.Abs(float64(x[i])*float64(y[i]))
				mx = math.Max(mx, float64(x[i]))
			}
			tol := 1e-6*sabs + 1e-7
			if got := float64(im.dot(x, y)); math.Abs(got-dot) > tol {
				t.Errorf("n=%d dot=%g want %g", n, got, dot)
			}
			if got := float64(im.sum(x)); math.Abs(got-sum) > tol {
				t.Errorf("n=%d sum=%g want %g", n, got, sum)
			}
			if got := float64(im.max(x)); got != mx {
				t.Errorf("n=%d max=%g want %g", n, got, mx)
			}
			yy := append([]float32(nil), y...)
			im.axpy(0.5, x, yy)
			for i := range yy {
				want := float64(y[i]) + 0.5*float64(x[i])
				if !closeRel(float64(yy[i]), want, 1e-6, 1e-7) {
					t.Fatalf("n=%d axpy[%d]=%g want %g", n, i, yy[i], want)
				}
			}
			xx := append([]float32(nil), x...)
			im.scale(-3, xx)
			for i := range xx {
				if xx[i] != -3*x[i] {
					t.Fatalf("n=%d scale[%d]=%g want %g", n, i, xx[i], -3*x[i])
				}
			}
		}
	})
}

func TestMaxSpecial(t *testing.T) {
	ninf := float32(math.Inf(-1))
	forEachImpl(t, func(t *testing.T, im *impl) {
		if got := im.max(nil); got != ninf {
			t.Errorf("max(empty)=%g", got)
		}
		for _, n := range []int{1, 5, 17, 33} {
			x := make([]float32, n)
			for i := range x {
				x[i] = ninf
			}
			if got := im.max(x); got != ninf {
				t.Errorf("max(all -inf, n=%d)=%g", n, got)
			}
			x[n-1] = -1e30 // in the tail
			if got := im.max(x); got != -1e30 {
				t.Errorf("max(tail, n=%d)=%g", n, got)
			}
		}
	})
}

// lseRef is log-sum-exp in float64.
func lseRef(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// lseRows builds rows that exercise the softmax family: random logits of several scales,
// ±80 extremes, -Inf masks, all-equal rows, denormals.
func lseRows(r *rand.Rand, n int) map[string][]float32 {
	rows := map[string][]float32{}
	rows["normal"] = randVec(r, n, 3)
	rows["wide"] = randVec(r, n, 30)
	ext := randVec(r, n, 1)
	for i := range ext {
		if r.IntN(3) == 0 {
			ext[i] = 80
		} else if r.IntN(2) == 0 {
			ext[i] = -80
		}
	}
	rows["pm80"] = ext
	mask := randVec(r, n, 2)
	for i := range mask {
		if i%3 != 0 {
			mask[i] = float32(math.Inf(-1))
		}
	}
	rows["mask"] = mask
	eq := make([]float32, n)
	for i := range eq {
		eq[i] = 1.25
	}
	rows["equal"] = eq
	den := make([]float32, n)
	for i := range den {
		den[i] = math.Float32frombits(uint32(r.IntN(0x7fffff) + 1))
		if i%2 == 1 {
			den[i] = -den[i]
		}
	}
	rows["denormal"] = den
	lead := randVec(r, n, 2) // masks before the first finite value
	for i := 0; i < n/2; i++ {
		lead[i] = float32(math.Inf(-1))
	}
	rows["leadmask"] = lead
	allMask := make([]float32, n)
	for i := range allMask {
		allMask[i] = float32(math.Inf(-1))
	}
	rows["allmask"] = allMask
	return rows
}

func TestLogSumExp(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sizes := append(testSizes(), 32000, 262144)
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, n := range sizes {
			for name, x := range lseRows(r, n) {
				want := lseRef(x)
				for alg, f := range map[string]func([]float32) float32{"three-pass": im.lse3, "two-pass": im.lse2} {
					got := float64(f(x))
					if !closeRel(got, want, 1e-6, 1e-6) {
						t.Errorf("%s n=%d %s: lse=%.9g want %.9g (err %.3g)", alg, n, name, got, want, got-want)
					}
				}
			}
		}
	})
}

func TestLSESpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, f := range []func([]float32) float32{im.lse2, im.lse3} {
			if got := f(nil); !math.IsInf(float64(got), -1) {
				t.Errorf("lse(empty)=%g", got)
			}
			if got := f([]float32{1, inf, 2}); !math.IsInf(float64(got), 1) {
				t.Errorf("lse(+inf)=%g", got)
			}
			x := []float32{-2e6, -2e6 + 1}
			if got, want := float64(f(x)), lseRef(x); !closeRel(got, want, 1e-6, 1e-6) {
				t.Errorf("lse(huge negative)=%g want %g", got, want)
			}
		}
	})
}

func TestExpAccuracy(t *testing.T) {
	// exp(x) through expShift (shift 0) over [-87, 88]: at most 2 ulp.
	n := 1 << 16
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(-87 + 175*float64(i)/float64(n))
	}
	x = append(x, 0, -0, 1, -1, 0.5, 88.5, -100, -104)
	dst := make([]float32, len(x))
	forEachImpl(t, func(t *testing.T, im *impl) {
		im.expShift(dst, x, 0)
		worst := 0.0
		for i, v := range x {
			want := math.Exp(float64(v))
			if want < 0x1p-126 {
				// Results below the smallest normal float32 may be flushed to zero (the SIMD
				// paths do, to avoid denormal assists).
				if float64(dst[i]) > 0x1p-126 {
					t.Fatalf("exp(%g)=%g want %g or 0", v, dst[i], want)
				}
				continue
			}
			if im.name == "avx2" && v > 88 {
				continue // the AVX2 exp builds 2^n in the exponent bits: n = 128 overflows early
			}
			w32 := float32(want)
			ulp := float64(math.Nextafter32(w32, float32(math.Inf(1))) - w32)
			if w32 == 0 || ulp == 0 {
				continue
			}
			e := math.Abs(float64(dst[i])-want) / ulp
			if e > worst {
				worst = e
			}
			if e > 2 {
				t.Fatalf("exp(%g)=%g want %g: %.2f ulp", v, dst[i], want, e)
			}
		}
		t.Logf("worst %.2f ulp", worst)
	})
}

func TestSoftmaxFamily(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, n := range append(testSizes(), 32000) {
			for name, x := range lseRows(r, n) {
				l := lseRef(x)
				dst := make([]float32, n)
				softmaxWith(im, dst, x)
				for i := range x {
					want := 0.0
					if !math.IsInf(l, -1) {
						want = math.Exp(float64(x[i]) - l)
					}
					if !closeRel(float64(dst[i]), want, 4e-6, 1e-7) {
						t.Fatalf("softmax n=%d %s [%d]=%g want %g", n, name, i, dst[i], want)
					}
				}
			}
		}
	})
}

func refTokenLogProbs(logits []float32, targets []int32, T, V int) (out, lse []float64) {
	out, lse = make([]float64, T), make([]float64, T)
	for t := 0; t < T; t++ {
		row := logits[t*V : (t+1)*V]
		lse[t] = lseRef(row)
		if targets[t] >= 0 {
			out[t] = float64(row[targets[t]]) - lse[t]
		}
	}
	return out, lse
}

func TestTokenLogProbsAndBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type shape struct{ T, V int }
	shapes := []shape{{1, 1}, {3, 17}, {5, 100}, {4, 4097}, {2, 32000}, {1, 262144}}
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, s := range shapes {
			for name, row := range lseRows(r, s.V) {
				if name == "allmask" {
					continue
				}
				logits := make([]float32, 0, s.T*s.V)
				for i := 0; i < s.T; i++ {
					logits = append(logits, row...)
				}
				// vary rows a little so rows differ
				for i := 0; i < s.T; i++ {
					logits[i*s.V] += float32(i)
				}
				targets := make([]int32, s.T)
				for i := range targets {
					targets[i] = int32(r.IntN(s.V))
					if math.IsInf(float64(logits[i*s.V+int(targets[i])]), -1) {
						targets[i] = 0 // keep the target unmasked
					}
				}
				if s.T > 2 {
					targets[1] = -1 // ignored position
				}
				out := make([]float32, s.T)
				lse := make([]float32, s.T)
				tokenLogProbsWith(im, 2, out, lse, logits, targets, s.T, s.V)
				wOut, wLse := refTokenLogProbs(logits, targets, s.T, s.V)
				for i := range out {
					tol := 2e-6 * math.Max(1, math.Max(math.Abs(wOut[i]), math.Abs(wLse[i])))
					if math.Abs(float64(out[i])-wOut[i]) > tol || !closeRel(float64(lse[i]), wLse[i], 1e-6, 1e-6) {
						t.Errorf("T=%d V=%d %s row %d: out=%.9g want %.9g, lse=%.9g want %.9g",
							s.T, s.V, name, i, out[i], wOut[i], lse[i], wLse[i])
					}
				}
				g := randVec(r, s.T, 1)
				d := make([]float32, len(logits))
				ceBackwardWith(im, 2, d, logits, lse, g, targets, s.T, s.V)
				inplace := append([]float32(nil), logits...)
				ceBackwardWith(im, 2, inplace, inplace, lse, g, targets, s.T, s.V)
				for i := 0; i < s.T; i++ {
					for v := 0; v < s.V; v++ {
						want := math.Exp(float64(logits[i*s.V+v]) - wLse[i])
						if int32(v) == targets[i] {
							want -= 1
						}
						want *= float64(g[i])
						got := float64(d[i*s.V+v])
						// lse is handed over in float32: its rounding (|lse|·2^-24) moves every
						// softmax value by that much relatively, and 1-p at the target absolutely.
						if !closeRel(got, want, 1e-5, 1e-7+math.Abs(float64(g[i]))*1.2e-7*math.Max(1, math.Abs(wLse[i]))) {
							t.Fatalf("T=%d V=%d %s dlogits[%d][%d]=%g want %g", s.T, s.V, name, i, v, got, want)
						}
						if inplace[i*s.V+v] != d[i*s.V+v] {
							t.Fatalf("in-place backward differs at [%d][%d]", i, v)
						}
					}
				}
			}
		}
	})
}

func TestLogSoftmaxAndRows(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := randVec(r, 3*1001, 5)
	out := make([]float32, 3)
	LogSumExpRows(out, x, 3, 1001)
	for i := range out {
		if want := lseRef(x[i*1001 : (i+1)*1001]); !closeRel(float64(out[i]), want, 1e-6, 1e-6) {
			t.Errorf("row %d: %g want %g", i, out[i], want)
		}
	}
	row := append([]float32(nil), x[:1001]...)
	LogSoftmax(row, row)
	l := lseRef(x[:1001])
	for i := range row {
		if want := float64(x[i]) - l; !closeRel(float64(row[i]), want, 1e-6, 2e-6) {
			t.Fatalf("logsoftmax[%d]=%g want %g", i, row[i], want)
		}
	}
}

// sgemmRef computes alpha*op(A)*op(B) + beta*C in float64.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			out[i*n+j] = float64(alpha) * s
			if beta != 0 {
				out[i*n+j] += float64(beta) * float64(c[i*ldc+j])
			}
		}
	}
	return out
}

func TestSgemm(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	type sh struct{ m, n, k int }
	shapes := []sh{{0, 3, 3}, {3, 0, 3}, {2, 3, 0}, {1, 1, 1}, {7, 5, 3}, {8, 48, 16}, {9, 49, 17},
		{17, 95, 33}, {33, 130, 300}, {64, 96, 257}, {130, 61, 77}}
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, s := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
					ta, tb := tr[0], tr[1]
					lda, ldb, ldc := s.k+3, s.n+1, s.n+2
					ar, br := s.m, s.k
					if ta {
						lda, ar = s.m+2, s.k
					}
					if tb {
						ldb, br = s.k+1, s.n
					}
					a := randVec(r, max(ar*lda, 1), 1)
					b := randVec(r, max(br*ldb, 1), 1)
					c := randVec(r, max(s.m*ldc, 1), 1)
					if ab[1] == 0 {
						for i := range c {
							c[i] = float32(math.NaN()) // beta 0 must not read C
						}
					}
					want := sgemmRef(ta, tb, s.m, s.n, s.k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
					got := append([]float32(nil), c...)
					sgemmWith(im, 2, ta, tb, s.m, s.n, s.k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
					var num, den float64
					for i := 0; i < s.m; i++ {
						for j := 0; j < s.n; j++ {
							d := float64(got[i*ldc+j]) - want[i*s.n+j]
							num += d * d
							den += want[i*s.n+j] * want[i*s.n+j]
						}
						for j := s.n; j < ldc && i*ldc+j < len(c); j++ { // padding untouched
							if math.Float32bits(got[i*ldc+j]) != math.Float32bits(c[i*ldc+j]) {
								t.Fatalf("%v: C padding written at row %d col %d", s, i, j)
							}
						}
					}
					if den > 0 && math.Sqrt(num/den) > 1e-5 || math.IsNaN(num) {
						t.Errorf("%v trans=%v alpha,beta=%v: relative Frobenius error %.3g", s, tr, ab, math.Sqrt(num/den))
					}
				}
			}
		}
	})
}

func TestSgemmThreadsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	m, n, k := 70, 300, 260
	a, b := randVec(r, m*k, 1), randVec(r, k*n, 1)
	forEachImpl(t, func(t *testing.T, im *impl) {
		var ref []float32
		for _, th := range []int{1, 2, 3, 4, 7} {
			c := make([]float32, m*n)
			sgemmWith(im, th, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
			if ref == nil {
				ref = c
				continue
			}
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("threads=%d differs from 1 thread at %d: %g vs %g", th, i, c[i], ref[i])
				}
			}
		}
		// tall: split by rows
		mt, nt := 300, 50
		at, bt := randVec(r, mt*k, 1), randVec(r, k*nt, 1)
		var ref2 []float32
		for _, th := range []int{1, 2, 5} {
			c := make([]float32, mt*nt)
			sgemmWith(im, th, false, true, mt, nt, k, 1, at, k, bt, k, 0, c, nt)
			if ref2 == nil {
				ref2 = c
				continue
			}
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(ref2[i]) {
					t.Fatalf("tall threads=%d differs at %d", th, i)
				}
			}
		}
	})
}

func TestSgemmExported(t *testing.T) {
	// Sgemm and SgemmThreads go through the active implementation.
	a := []float32{1, 2, 3, 4, 5, 6}    // 2×3
	b := []float32{7, 8, 9, 10, 11, 12} // 3×2
	c := make([]float32, 4)
	Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	want := []float32{58, 64, 139, 154}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("C=%v want %v", c, want)
		}
	}
	SgemmThreads(1, true, true, 2, 2, 3, 1, []float32{1, 4, 2, 5, 3, 6}, 2, []float32{7, 9, 11, 8, 10, 12}, 3, 1, c, 2)
	for i := range c {
		if c[i] != 2*want[i] {
			t.Fatalf("TT: C=%v want %v", c, want)
		}
	}
}

func ExampleSgemm() {
	a := []float32{1, 2, 3, 4} // 2×2
	b := []float32{5, 6, 7, 8}
	c := make([]float32, 4)
	Sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
	fmt.Println(c)
	// Output: [19 22 43 50]
}
