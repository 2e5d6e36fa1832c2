package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestRMSNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, dim := range rmsDims() {
			rows := 1 + dim%4 // 1 to 4: odd and even row counts (the avx512 backward pairs rows)
			x, w, dout := randVec(r, rows*dim, 2), randVec(r, dim, 1), randVec(r, rows*dim, 1)
			out, rstd := make([]float32, rows*dim), make([]float32, rows)
			rmsNormForwardWith(im, out, rstd, x, w, rows, dim, 1e-5)
			dx := make([]float32, rows*dim)
			dw := make([]float32, dim)
			for i := range dw {
				dw[i] = 0.5 // accumulated into
			}
			rmsNormBackwardWith(im, dx, dw, dout, x, w, rstd, rows, dim)
			wantDw := make([]float64, dim)
			for i := range wantDw {
				wantDw[i] = 0.5
			}
			for rr := 0; rr < rows; rr++ {
				xr := x[rr*dim : (rr+1)*dim]
				var ss float64
				for _, v := range xr {
					ss += float64(v) * float64(v)
				}
				rs := 1 / math.Sqrt(ss/float64(dim)+1e-5)
				if !closeRel(float64(rstd[rr]), rs, 1e-6, 0) {
					t.Fatalf("dim=%d rstd=%g want %g", dim, rstd[rr], rs)
				}
				var c float64
				for i := range xr {
					c += float64(w[i]) * float64(dout[rr*dim+i]) * float64(xr[i])
				}
				c /= float64(dim)
				for i := range xr {
					want := float64(xr[i]) * rs * float64(w[i])
					if !closeRel(float64(out[rr*dim+i]), want, 1e-6, 1e-7) {
						t.Fatalf("dim=%d out[%d]=%g want %g", dim, i, out[rr*dim+i], want)
					}
					d := float64(dout[rr*dim+i])
					wantDx := rs * (float64(w[i])*d - float64(xr[i])*rs*rs*c)
					if !closeRel(float64(dx[rr*dim+i]), wantDx, 1e-5, 1e-6) {
						t.Fatalf("dim=%d dx[%d]=%g want %g", dim, i, dx[rr*dim+i], wantDx)
					}
					wantDw[i] += d * float64(xr[i]) * rs
				}
			}
			for i := range dw {
				if !closeRel(float64(dw[i]), wantDw[i], 1e-5, 1e-6) {
					t.Fatalf("dim=%d dw[%d]=%g want %g", dim, i, dw[i], wantDw[i])
				}
			}
		}
	})
}

// TestRMSNormGradient checks the backward against finite differences of the forward (float64
// loss sum(out*dout)).
func TestRMSNormGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	dim := 7
	x, w, dout := randVec(r, dim, 1), randVec(r, dim, 1), randVec(r, dim, 1)
	loss := func(x, w []float32) float64 {
		out, rstd := make([]float32, dim), make([]float32, 1)
		RMSNormForward(out, rstd, x, w, 1, dim, 1e-5)
		var s float64
		for i := range out {
			s += float64(out[i]) * float64(dout[i])
		}
		return s
	}
	out, rstd := make([]float32, dim), make([]float32, 1)
	RMSNormForward(out, rstd, x, w, 1, dim, 1e-5)
	dx, dw := make([]float32, dim), make([]float32, dim)
	RMSNormBackward(dx, dw, dout, x, w, rstd, 1, dim)
	const h = 1e-2
	for i := 0; i < dim; i++ {
		xp, xm := append([]float32(nil), x...), append([]float32(nil), x...)
		xp[i] += h
		xm[i] -= h
		num := (loss(xp, w) - loss(xm, w)) / (2 * h)
		if math.Abs(num-float64(dx[i])) > 2e-3*math.Max(1, math.Abs(num)) {
			t.Errorf("dx[%d]=%g, finite difference %g", i, dx[i], num)
		}
		wp, wm := append([]float32(nil), w...), append([]float32(nil), w...)
		wp[i] += h
		wm[i] -= h
		num = (loss(x, wp) - loss(x, wm)) / (2 * h)
		if math.Abs(num-float64(dw[i])) > 2e-3*math.Max(1, math.Abs(num)) {
			t.Errorf("dw[%d]=%g, finite difference %g", i, dw[i], num)
		}
	}
}

func TestSiLUSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, n := range testSizes() {
			x, u, dout := randVec(r, n, 4), randVec(r, n, 1), randVec(r, n, 1)
			if n > 4 {
				x[0], x[1], x[2], x[3] = 80, -80, 100, -100
			}
			y, dx, dg, du := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			im.silu(y, x)
			im.siluBack(dx, dout, x)
			sw := make([]float32, n)
			im.swigluF(sw, x, u)
			im.swigluB(dg, du, dout, x, u)
			for i := range x {
				f := float64(x[i])
				s := 1 / (1 + math.Exp(-f))
				silu := f * s
				der := s * (1 + f*(1-s))
				d := float64(dout[i])
				// scale: the magnitude of the terms that cancel in silu' = s + x*s*(1-s)
				scale := math.Abs(d) * (s + math.Abs(f)*s*(1-s)) * math.Max(1, math.Abs(float64(u[i])))
				check := func(what string, got float32, want float64) {
					if !closeRel(float64(got), want, 2e-6, 2e-6*scale+1e-30) {
						t.Fatalf("n=%d %s(x=%g)=%g want %g", n, what, x[i], got, want)
					}
				}
				check("silu", y[i], silu)
				check("siluBack", dx[i], d*der)
				check("swiglu", sw[i], silu*float64(u[i]))
				check("swigluBack dgate", dg[i], d*float64(u[i])*der)
				check("swigluBack dup", du[i], d*silu)
			}
		}
	})
}

// ropeRef is the float64 reference rotation of one pair.
func ropeRef(a, b float64, pos int32, i, ropeDim int, theta float64, inverse bool) (float64, float64) {
	ang := float64(pos) * math.Pow(theta, -2*float64(i)/float64(ropeDim))
	if inverse {
		ang = -ang
	}
	s, c := math.Sincos(ang)
	return a*c - b*s, a*s + b*c
}

// TestRoPE checks every path, both layouts, both directions and the table API against a float64
// reference, for every pair-count tail (1..40 pairs: the vectors hold 8 adjacent or 16 NeoX
// pairs), several heads and dims past ropeDim; the SIMD paths and the table must give the same
// bits as the pure-Go twin of RoPEForward.
func TestRoPE(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	T := 6
	pos := []int32{0, 1, 2, 17, 18, 4099}
	const theta = 10000
	tb := NewRoPETable(4100, 0, theta)
	if tb.MaxPos() != 4100 || tb.RopeDim() != 0 || tb.Theta() != theta {
		t.Fatalf("table accessors: %d %d %g", tb.MaxPos(), tb.RopeDim(), tb.Theta())
	}
	for half := 0; half <= 40; half++ {
		ropeDim := 2 * half
		tb := NewRoPETable(4100, ropeDim, theta)
		for _, heads := range []int{1, 3} {
			headDim := ropeDim + half%3
			x := randVec(r, T*heads*headDim, 2)
			for _, neox := range []bool{false, true} {
				for _, inverse := range []bool{false, true} {
					var want []float32
					for _, im := range availableImpls() {
						y := append([]float32(nil), x...)
						ropeWith(im, y, pos, T, heads, headDim, ropeDim, theta, neox, inverse)
						yt := append([]float32(nil), x...)
						tb.apply(im, yt, pos, T, heads, headDim, neox, inverse)
						for i := range y {
							if math.Float32bits(y[i]) != math.Float32bits(yt[i]) {
								t.Fatalf("%s ropeDim=%d neox=%v inverse=%v: table [%d]=%g, per-call %g", im.name, ropeDim, neox, inverse, i, yt[i], y[i])
							}
						}
						if want == nil {
							want = y // generic, first
						}
						for i := range y {
							if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s ropeDim=%d heads=%d neox=%v inverse=%v: [%d]=%g, generic %g", im.name, ropeDim, heads, neox, inverse, i, y[i], want[i])
							}
						}
						for tt := 0; tt < T; tt++ {
							for h := 0; h < heads; h++ {
								base := (tt*heads + h) * headDim
								for i := 0; i < half; i++ {
									i0, i1 := base+2*i, base+2*i+1
									if neox {
										i0, i1 = base+i, base+i+half
									}
									a, b := float64(x[i0]), float64(x[i1])
									w0, w1 := ropeRef(a, b, pos[tt], i, ropeDim, theta, inverse)
									tol := 3e-7 * (math.Abs(a) + math.Abs(b))
									if math.Abs(float64(y[i0])-w0) > tol || math.Abs(float64(y[i1])-w1) > tol {
										t.Fatalf("%s neox=%v ropeDim=%d t=%d h=%d i=%d: (%g,%g) want (%g,%g)", im.name, neox, ropeDim, tt, h, i, y[i0], y[i1], w0, w1)
									}
								}
								for i := ropeDim; i < headDim; i++ { // dims past ropeDim untouched
									if y[base+i] != x[base+i] {
										t.Fatalf("%s: dim %d past ropeDim %d changed", im.name, i, ropeDim)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestRoPEInverse checks that the backward undoes the forward (rotations are orthogonal, so
// the backward is also the transpose), through the exported API.
func TestRoPEInverse(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	T, H, D := 5, 3, 16
	pos := []int32{0, 1, 2, 7, 1000}
	for _, neox := range []bool{false, true} {
		for _, ropeDim := range []int{16, 8} {
			x := randVec(r, T*H*D, 1)
			y := append([]float32(nil), x...)
			RoPEForward(y, pos, T, H, D, ropeDim, 10000, neox)
			RoPEBackward(y, pos, T, H, D, ropeDim, 10000, neox)
			tb := NewRoPETable(1001, ropeDim, 10000)
			z := append([]float32(nil), x...)
			tb.Forward(z, pos, T, H, D, neox)
			tb.Backward(z, pos, T, H, D, neox)
			for i := range x {
				if !closeRel(float64(y[i]), float64(x[i]), 1e-6, 1e-6) || !closeRel(float64(z[i]), float64(x[i]), 1e-6, 1e-6) {
					t.Fatalf("neox=%v: backward∘forward[%d]=%g (table %g) want %g", neox, i, y[i], z[i], x[i])
				}
			}
		}
	}
}

// TestRoPETable checks the cos/sin table (anchors plus float64 steps) against float64 math.Sincos:
// at most one float32 ulp apart, at positions up to 100000 and every theta the models use.
func TestRoPETable(t *testing.T) {
	for _, theta := range []float32{10000, 500000, 1e6} {
		const maxPos, ropeDim = 100000, 64
		tb := NewRoPETable(maxPos, ropeDim, theta)
		half := ropeDim / 2
		exact := 0
		for p := 0; p < maxPos; p += 7 {
			row := tb.cs[p*ropeDim : (p+1)*ropeDim]
			for i := 0; i < half; i++ {
				s, c := math.Sincos(float64(p) * math.Pow(float64(theta), -2*float64(i)/ropeDim))
				for k, pair := range [2][2]float64{{float64(row[i]), c}, {float64(row[half+i]), s}} {
					got, want := pair[0], pair[1]
					// The reference itself is off by the rounding of p*freq: 2^-53 of the angle.
					ang := float64(p) * math.Pow(float64(theta), -2*float64(i)/ropeDim)
					ulp := math.Abs(float64(math.Nextafter32(float32(want), float32(math.Inf(1))) - float32(want)))
					if math.Abs(got-want) > ulp+0x1p-52*ang {
						t.Fatalf("theta=%g p=%d i=%d (%d): %g want %g", theta, p, i, k, got, want)
					}
					if float32(want) == float32(got) {
						exact++
					}
				}
			}
		}
		t.Logf("theta=%g: %d of %d values equal float32(math.Sincos)", theta, exact, (maxPos+6)/7*ropeDim)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a position outside the table did not panic")
		}
	}()
	NewRoPETable(4, 2, 10000).Forward(make([]float32, 2), []int32{4}, 1, 1, 2, false)
}

func TestAdamW(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, n := range append(rmsDims(), 0) {
			p, g := randVec(r, n, 1), randVec(r, n, 1)
			m, v := randVec(r, n, 0.1), randVec(r, n, 0.01)
			for i := range v {
				v[i] = float32(math.Abs(float64(v[i])))
			}
			p0, m0, v0 := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
			f := func(v float64) float64 { return float64(float32(v)) } // the float32 hyperparameters
			lr, b1, b2, eps, wd, step := f(1e-3), f(0.9), f(0.999), f(1e-8), f(0.1), 3
			im.adamw(p, g, m, v, float32(lr), float32(b1), float32(b2), float32(eps), float32(wd), step)
			for i := range p {
				gi := float64(g[i])
				mi := b1*float64(m0[i]) + (1-b1)*gi
				vi := b2*float64(v0[i]) + (1-b2)*gi*gi
				mh := mi / (1 - math.Pow(b1, float64(step)))
				vh := vi / (1 - math.Pow(b2, float64(step)))
				want := float64(p0[i])*(1-lr*wd) - lr*mh/(math.Sqrt(vh)+eps)
				mTol := 1e-6 * (b1*math.Abs(float64(m0[i])) + (1-b1)*math.Abs(gi))
				if !closeRel(float64(m[i]), mi, 1e-6, mTol) || !closeRel(float64(v[i]), vi, 1e-6, 1e-12) {
					t.Fatalf("n=%d m/v[%d]=%g,%g want %g,%g", n, i, m[i], v[i], mi, vi)
				}
				if !closeRel(float64(p[i]), want, 1e-6, 1e-7+lr*mTol/(math.Sqrt(vh)+eps)) {
					t.Fatalf("n=%d p[%d]=%g want %g", n, i, p[i], want)
				}
			}
		}
	})
}

// rmsDims covers every tail mod 16 (and the unrolled loop's 64) plus the model widths.
func rmsDims() []int {
	var d []int
	for n := 1; n <= 70; n++ {
		d = append(d, n)
	}
	return append(d, 100, 127, 128, 129, 576)
}
