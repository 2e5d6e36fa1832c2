//go:build amd64 && !purego

package kernels

import "math"

// The AVX2+FMA implementation. Its assembly (simd_amd64.s) handles whole vectors of 8; the
// wrappers finish the last len%8 elements with the pure-Go twins. BLAS-1, the exp loops of the
// three-pass log-sum-exp, softmax and the cross-entropy backward, the SGEMM micro-kernel (6×16),
// RMSNorm, SiLU/SwiGLU, AdamW, RoPE and the two-pass log-sum-exp's accumulation are in assembly.
var avx2Impl = impl{
	name:  "avx2",
	dot:   dotAVX2Go,
	axpy:  axpyAVX2Go,
	scale: scaleAVX2Go,
	sum:   sumAVX2Go,
	max:   maxAVX2Go,
	lse3:  lse3AVX2,
	lse2:  lse2AVX2,
	// Measured (align bench kernels --kernel lse_ --isa avx2): the two-pass is 1.6-1.7× faster
	// at V=32000 and 128256, about even at V=1024.
	lse2From:    4096,
	expShift:    expShiftAVX2Go,
	ceRow:       ceRowAVX2Go,
	addScalar:   addScalarGeneric,
	sumSquares:  sumSquaresAVX2Go,
	mulScale:    mulScaleAVX2Go,
	rmsBackRow:  rmsBackRowAVX2Go,
	silu:        siluAVX2Go,
	siluBack:    siluBackAVX2Go,
	swigluF:     swigluFAVX2Go,
	swigluB:     swigluBAVX2Go,
	adamw:       adamwAVX2Go,
	rope:        ropeAVX2Go,
	dequantF16:  dequantF16Generic,
	dequantQ8_0: dequantQ8_0Generic,
	dequantQ4_1: dequantQ4_1AVX2,
	dequantQ5_0: dequantQ5_0AVX2,
	dequantQ5_1: dequantQ5_1AVX2,
	q2kBlock:    q2kBlockAVX2,
	q3kBlock:    q3kBlockAVX2,
	gemm: gemmKernel{mr: 6, nr: 16, kc: 512, mc: 1020, nc: 3072, bBytes: 1 << 20, fn: sgemmKernelAVX2Go,
		t8: transpose8Generic, rows48: packRows48Generic},
	fmaPeak:  fmaPeakAVX2,
	fmaFlops: 12 * 8 * 2,
}

func dotAVX2Go(x, y []float32) float32 {
	y = y[:len(x)]
	n := len(x) &^ 7
	s := float32(0)
	if n > 0 {
		s = dotAVX2(&x[0], &y[0], n)
	}
	return s + dotGeneric(x[n:], y[n:])
}

func sumAVX2Go(x []float32) float32 {
	n := len(x) &^ 7
	s := float32(0)
	if n > 0 {
		s = sumAVX2(&x[0], n)
	}
	return s + sumGeneric(x[n:])
}

func maxAVX2Go(x []float32) float32 {
	n := len(x) &^ 7
	m := float32(math.Inf(-1))
	if n > 0 {
		m = maxAVX2(&x[0], n)
	}
	return max(m, maxGeneric(x[n:]))
}

func axpyAVX2Go(alpha float32, x, y []float32) {
	y = y[:len(x)]
	n := len(x) &^ 7
	if n > 0 {
		axpyAVX2(alpha, &x[0], &y[0], n)
	}
	axpyGeneric(alpha, x[n:], y[n:])
}

func scaleAVX2Go(alpha float32, x []float32) {
	n := len(x) &^ 7
	if n > 0 {
		scaleAVX2(alpha, &x[0], n)
	}
	scaleGeneric(alpha, x[n:])
}

func lse3AVX2(x []float32) float32 {
	m := maxAVX2Go(x)
	if math.IsInf(float64(m), 0) || m != m {
		return m
	}
	n := len(x) &^ 7
	var s float64
	if n > 0 {
		s = float64(sumExpAVX2(&x[0], n, m))
	}
	mf := float64(m)
	for _, v := range x[n:] {
		s += math.Exp(float64(v) - mf)
	}
	return float32(mf + math.Log(s))
}

func expShiftAVX2Go(dst, x []float32, shift float32) float32 {
	dst = dst[:len(x)]
	n := len(x) &^ 7
	s := float32(0)
	if n > 0 {
		s = expShiftAVX2(&dst[0], &x[0], n, shift)
	}
	return s + expShiftGeneric(dst[n:], x[n:], shift)
}

func ceRowAVX2Go(dst, x []float32, lse, g float32) {
	dst = dst[:len(x)]
	n := len(x) &^ 7
	if n > 0 {
		ceRowAVX2(&dst[0], &x[0], n, lse, g)
	}
	ceRowGeneric(dst[n:], x[n:], lse, g)
}

func sgemmKernelAVX2Go(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[6*kc-1]
	_ = b[16*kc-1]
	_ = c[5*ldc+15]
	sgemmKernelAVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func sumSquaresAVX2Go(x []float32) float64 {
	n := len(x) &^ 7
	var s float64
	if n > 0 {
		s = float64(sumSquaresAVX2(&x[0], n))
	}
	return s + sumSquaresGeneric(x[n:])
}

func mulScaleAVX2Go(out, x, w []float32, r float32) {
	out, w = out[:len(x)], w[:len(x)]
	n := len(x) &^ 7
	if n > 0 {
		mulScaleAVX2(&out[0], &x[0], &w[0], n, r)
	}
	mulScaleGeneric(out[n:], x[n:], w[n:], r)
}

// rmsBackRowAVX2Go is rmsBackRowGeneric with the assembly's float32 formulas: c from dot3 (the
// tail in float64), then dw += (dout*r)*x, dx = (dout*r)*w - x*kk.
func rmsBackRowAVX2Go(dx, dw, dout, x, w []float32, r float32) {
	nn := len(x)
	dx, dw, dout, w = dx[:nn], dw[:nn], dout[:nn], w[:nn]
	if nn == 0 {
		return
	}
	n := nn &^ 7
	var c float64
	if n > 0 {
		c = float64(dot3AVX2(&w[0], &dout[0], &x[0], n))
	}
	for i := n; i < nn; i++ {
		c += float64(w[i]) * float64(dout[i]) * float64(x[i])
	}
	c /= float64(nn)
	rf := float64(r)
	kk := float32(rf * rf * rf * c)
	if n > 0 {
		rmsBackRowAVX2(&dx[0], &dw[0], &dout[0], &x[0], &w[0], n, r, kk)
	}
	for i := n; i < nn; i++ {
		t := dout[i] * r
		dw[i] += t * x[i]
		dx[i] = t*w[i] - x[i]*kk
	}
}

func siluAVX2Go(dst, x []float32) {
	dst = dst[:len(x)]
	n := len(x) &^ 7
	if n > 0 {
		siluAVX2(&dst[0], &x[0], n)
	}
	siluGeneric(dst[n:], x[n:])
}

func siluBackAVX2Go(dx, dout, x []float32) {
	dx, dout = dx[:len(x)], dout[:len(x)]
	n := len(x) &^ 7
	if n > 0 {
		siluBackAVX2(&dx[0], &dout[0], &x[0], n)
	}
	siluBackwardGeneric(dx[n:], dout[n:], x[n:])
}

func swigluFAVX2Go(out, gate, up []float32) {
	out, up = out[:len(gate)], up[:len(gate)]
	n := len(gate) &^ 7
	if n > 0 {
		swigluFAVX2(&out[0], &gate[0], &up[0], n)
	}
	swigluForwardGeneric(out[n:], gate[n:], up[n:])
}

func swigluBAVX2Go(dgate, dup, dout, gate, up []float32) {
	nn := len(gate)
	dgate, dup, dout, up = dgate[:nn], dup[:nn], dout[:nn], up[:nn]
	n := nn &^ 7
	if n > 0 {
		swigluBAVX2(&dgate[0], &dup[0], &dout[0], &gate[0], &up[0], n)
	}
	swigluBackwardGeneric(dgate[n:], dup[n:], dout[n:], gate[n:], up[n:])
}

func adamwAVX2Go(p, g, m, v []float32, lr, beta1, beta2, eps, weightDecay float32, step int) {
	nn := len(p)
	g, m, v = g[:nn], m[:nn], v[:nn]
	n := nn &^ 7
	if n > 0 {
		bc1 := 1 - math.Pow(float64(beta1), float64(step))
		bc2 := 1 - math.Pow(float64(beta2), float64(step))
		prm := [8]float32{beta1, 1 - beta1, beta2, 1 - beta2, float32(float64(lr) / bc1),
			float32(1 / math.Sqrt(bc2)), eps, 1 - lr*weightDecay}
		adamWAVX2(&p[0], &g[0], &m[0], &v[0], n, &prm)
	}
	adamwGeneric(p[n:], g[n:], m[n:], v[n:], lr, beta1, beta2, eps, weightDecay, step)
}

// ropeAVX2Go rotates the whole vectors of pairs in assembly (4 adjacent pairs or 8 NeoX pairs
// per ymm) and the remaining pairs with the pure-Go twin, which rounds identically.
func ropeAVX2Go(x, cs []float32, heads, stride, ropeDim int, neox, inverse bool) {
	if !ropeBounds(x, cs, heads, stride, ropeDim) {
		return
	}
	half := ropeDim / 2
	var n int
	if neox {
		n = half &^ 7
		if n > 0 {
			ropeNeoxAVX2(&x[0], &cs[0], heads, stride, half, n, ropeSign(inverse))
		}
	} else {
		n = half &^ 3
		if n > 0 {
			ropeNormAVX2(&x[0], &cs[0], heads, stride, half, n, ropeSign(inverse))
		}
	}
	if n < half {
		ropeRowGeneric(x, cs, heads, stride, ropeDim, n, neox, inverse)
	}
}

// lse2AVX2 reads x once (lse2AccAVX2, the whole vectors), combines the 8 lanes in float64, then
// adds the last len%8 elements. Rows with entries beyond ±1e6 (±Inf masks only, or huge values)
// take the exact three-pass path.
func lse2AVX2(x []float32) float32 {
	n := len(x) &^ 7
	if n == 0 {
		return lse3AVX2(x)
	}
	var acc [16]float32
	lse2AccAVX2(&x[0], n, &acc[0])
	emax := math.Inf(-1)
	for _, e := range acc[8:] {
		emax = math.Max(emax, float64(e))
	}
	if emax > 1e6*math.Log2E-2 || emax < -1e6*math.Log2E+2 || emax != emax {
		return lse3AVX2(x)
	}
	var s float64
	for l := 0; l < 8; l++ {
		s += math.Ldexp(float64(acc[l]), int(float64(acc[8+l])-emax))
	}
	if s != s || math.IsInf(s, 0) || s <= 0 {
		return lse3AVX2(x)
	}
	l := emax*math.Ln2 + math.Log(s)
	for _, v := range x[n:] {
		f := float64(v)
		if f != f || math.IsInf(f, 1) {
			return lse3AVX2(x)
		}
		m := math.Max(l, f)
		l = m + math.Log(math.Exp(l-m)+math.Exp(f-m))
	}
	return float32(l)
}
