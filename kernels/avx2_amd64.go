//go:build amd64 && !purego

package kernels

import "math"

// The AVX2+FMA implementation. Its assembly (simd_amd64.s) handles whole vectors of 8; the
// wrappers finish the last len%8 elements with the pure-Go twins. BLAS-1, the exp loops of the
// three-pass log-sum-exp, softmax and the cross-entropy backward, and the SGEMM micro-kernel
// (6×16) are in assembly; the rest (two-pass log-sum-exp, RMSNorm, SiLU/SwiGLU, AdamW) uses the
// pure-Go loops.
var avx2Impl = impl{
	name:  "avx2",
	dot:   dotAVX2Go,
	axpy:  axpyAVX2Go,
	scale: scaleAVX2Go,
	sum:   sumAVX2Go,
	max:   maxAVX2Go,
	lse3:  lse3AVX2,
	lse2:  lse2Generic,
	// The online scalar two-pass is slower than the three-pass at every size.
	lse2From:   1 << 62,
	expShift:   expShiftAVX2Go,
	ceRow:      ceRowAVX2Go,
	addScalar:  addScalarGeneric,
	sumSquares: sumSquaresGeneric,
	mulScale:   mulScaleGeneric,
	rmsBackRow: rmsBackRowGeneric,
	silu:       siluGeneric,
	siluBack:   siluBackwardGeneric,
	swigluF:    swigluForwardGeneric,
	swigluB:    swigluBackwardGeneric,
	adamw:      adamwGeneric,
	gemm:       gemmKernel{mr: 6, nr: 16, kc: 256, mc: 96, nc: 2048, fn: sgemmKernelAVX2Go},
	fmaPeak:    fmaPeakAVX2,
	fmaFlops:   12 * 8 * 2,
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
