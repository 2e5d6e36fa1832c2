//go:build amd64 && !purego

package kernels

import (
	"math"
	"unsafe"
)

// The AVX-512 implementation: wrappers from slices to the avo-generated routines of
// simd_amd64.s (generator: internal/asmgen). Lengths are checked here; the assembly trusts them.

var avx512Impl = impl{
	name:     "avx512",
	dot:      func(x, y []float32) float32 { y = y[:len(x)]; return dot512(ptr(x), ptr(y), len(x)) },
	axpy:     func(alpha float32, x, y []float32) { y = y[:len(x)]; axpy512(alpha, ptr(x), ptr(y), len(x)) },
	scale:    func(alpha float32, x []float32) { scale512(alpha, ptr(x), len(x)) },
	sum:      func(x []float32) float32 { return sum512(ptr(x), len(x)) },
	max:      func(x []float32) float32 { return max512(ptr(x), len(x)) },
	lse3:     lse3AVX512,
	lse2:     lse2AVX512,
	lse2From: 4096,
	expShift: func(dst, x []float32, shift float32) float32 {
		dst = dst[:len(x)]
		return expShift512(ptr(dst), ptr(x), len(x), shift)
	},
	ceRow:      func(dst, x []float32, lse, g float32) { dst = dst[:len(x)]; ceRow512(ptr(dst), ptr(x), len(x), lse, g) },
	addScalar:  func(dst, x []float32, c float32) { dst = dst[:len(x)]; addScalar512(ptr(dst), ptr(x), len(x), c) },
	sumSquares: func(x []float32) float64 { return float64(sumSquares512(ptr(x), len(x))) },
	mulScale: func(out, x, w []float32, r float32) {
		out, w = out[:len(x)], w[:len(x)]
		mulScale512(ptr(out), ptr(x), ptr(w), len(x), r)
	},
	rmsBackRow: rmsBackRowAVX512,
	silu:       func(dst, x []float32) { dst = dst[:len(x)]; silu512(ptr(dst), ptr(x), len(x)) },
	siluBack: func(dx, dout, x []float32) {
		dx, dout = dx[:len(x)], dout[:len(x)]
		siluBack512(ptr(dx), ptr(dout), ptr(x), len(x))
	},
	swigluF: func(out, gate, up []float32) {
		out, up = out[:len(gate)], up[:len(gate)]
		swigluF512(ptr(out), ptr(gate), ptr(up), len(gate))
	},
	swigluB: func(dgate, dup, dout, gate, up []float32) {
		n := len(gate)
		dgate, dup, dout, up = dgate[:n], dup[:n], dout[:n], up[:n]
		swigluB512(ptr(dgate), ptr(dup), ptr(dout), ptr(gate), ptr(up), n)
	},
	adamw: adamwAVX512,
	rmsFwdRows: func(out, rstd, x, w []float32, rows, dim int, eps float32) {
		rmsFwdRows512(ptr(out), ptr(rstd), ptr(x), ptr(w), rows, dim, eps)
	},
	rmsBwdRows: func(dx, dw, dout, x, w, rstd []float32, rows, dim int) {
		rmsBwdRows512(ptr(dx), ptr(dw), ptr(dout), ptr(x), ptr(w), ptr(rstd), rows, dim)
	},
	rope:        rope512,
	dequantF16:  dequantF16AVX512,
	dequantQ8_0: dequantQ8_0AVX512,
	dequantQ4_1: dequantQ4_1AVX2,
	dequantQ5_0: dequantQ5_0AVX2,
	dequantQ5_1: dequantQ5_1AVX2,
	q2kBlock:    q2kBlockAVX2, // the AVX2 decoders (no AVX-512 ones)
	q3kBlock:    q3kBlockAVX2,
	q4kBlock: func(y []float32, q []byte, dm *[16]float32) {
		_, _ = y[255], q[127]
		dequantQ4KBlock512(&y[0], &q[0], dm)
	},
	gemm: gemmKernel{mr: 8, nr: 48, kc: 512, mc: 1024, nc: 3072, bBytes: 1 << 20, fn: sgemmKernelAVX512,
		t8: transpose8AVX512, rows48: packRows48AVX512},
	fmaPeak:  fmaPeak512,
	fmaFlops: 24 * 16 * 2,
	attnRows: &attnRows512,
}

// ptr returns the address of x[0], or nil for an empty slice (the routines then read nothing).
func ptr(x []float32) *float32 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.SliceData(x)
}

func lse3AVX512(x []float32) float32 {
	m := max512(ptr(x), len(x))
	if math.IsInf(float64(m), 0) || m != m {
		if len(x) > 0 && m != m {
			return m
		}
		return m
	}
	s := sumExp512(ptr(x), len(x), m)
	return float32(float64(m) + math.Log(float64(s)))
}

// lse2AVX512 reads x once (Dukhan & Ablavatski's accumulation), then combines the 16 lanes in
// float64. Rows with entries beyond ±1e6 (±Inf masks only, or huge values) take the exact
// three-pass path.
func lse2AVX512(x []float32) float32 {
	if len(x) == 0 {
		return float32(math.Inf(-1))
	}
	var acc [32]float32
	lse2Acc512(ptr(x), len(x), &acc[0])
	emax := math.Inf(-1)
	for _, e := range acc[16:] {
		emax = math.Max(emax, float64(e))
	}
	if emax > 1e6*math.Log2E-2 || emax < -1e6*math.Log2E+2 || emax != emax {
		return lse3AVX512(x)
	}
	var s float64
	for l := 0; l < 16; l++ {
		s += math.Ldexp(float64(acc[l]), int(float64(acc[16+l])-emax))
	}
	if s != s || math.IsInf(s, 0) {
		return lse3AVX512(x)
	}
	return float32(emax*math.Ln2 + math.Log(s))
}

func rmsBackRowAVX512(dx, dw, dout, x, w []float32, r float32) {
	n := len(x)
	dx, dw, dout, w = dx[:n], dw[:n], dout[:n], w[:n]
	if n == 0 {
		return
	}
	c := float64(dot3_512(ptr(w), ptr(dout), ptr(x), n)) / float64(n)
	rf := float64(r)
	kk := float32(rf * rf * rf * c)
	rmsBackRow512(ptr(dx), ptr(dw), ptr(dout), ptr(x), ptr(w), n, r, kk)
}

func adamwAVX512(p, g, m, v []float32, lr, beta1, beta2, eps, weightDecay float32, step int) {
	n := len(p)
	g, m, v = g[:n], m[:n], v[:n]
	if n == 0 {
		return
	}
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	prm := [8]float32{beta1, 1 - beta1, beta2, 1 - beta2, float32(float64(lr) / bc1),
		float32(1 / math.Sqrt(bc2)), eps, 1 - lr*weightDecay}
	adamW512(ptr(p), ptr(g), ptr(m), ptr(v), n, &prm)
}

func sgemmKernelAVX512(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[8*kc-1]
	_ = b[48*kc-1]
	_ = c[7*ldc+47]
	sgemmKernel512(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// ropeSign is the sign flip the RoPE routines apply to sin: 0 forward, the sign bit inverse.
func ropeSign(inverse bool) uint32 {
	if inverse {
		return 0x80000000
	}
	return 0
}

// ropeBounds checks that one row holds heads heads of stride floats and cs a whole table row.
func ropeBounds(x, cs []float32, heads, stride, ropeDim int) bool {
	if ropeDim < 2 || heads <= 0 {
		return false
	}
	_ = x[(heads-1)*stride+ropeDim-1]
	_ = cs[ropeDim-1]
	return true
}

func rope512(x, cs []float32, heads, stride, ropeDim int, neox, inverse bool) {
	if !ropeBounds(x, cs, heads, stride, ropeDim) {
		return
	}
	half := ropeDim / 2
	if neox {
		ropeNeox512(ptr(x), ptr(cs), heads, stride, half, half, ropeSign(inverse))
		return
	}
	ropeNorm512(ptr(x), ptr(cs), heads, stride, half, half, ropeSign(inverse))
}

// dequantF16AVX512 converts whole vectors of 16 in assembly, the rest with the Go twin (same
// bits: the assembly rebuilds NaN lanes as the twin does).
func dequantF16AVX512(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	n := len(dst) &^ 15
	if n > 0 {
		dequantF16_512(&dst[0], (*uint16)(unsafe.Pointer(&src[0])), n)
	}
	dequantF16Generic(dst[n:], src[2*n:])
}

func dequantQ8_0AVX512(dst []float32, src []byte) {
	nb := len(dst) / 32
	if nb == 0 {
		return
	}
	_ = src[nb*34-1]
	dequantQ8_0_512(&dst[0], &src[0], nb)
}
