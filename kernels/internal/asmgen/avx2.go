package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2+FMA routines. They process whole vectors of 8 only (n is rounded down by the
// caller); the Go wrappers in avx2_amd64.go finish the remainder with the pure-Go twins.

func genAVX2() {
	genDot2()
	genSum2()
	genMax2()
	genAxpy2()
	genScale2()
	genSumExp2(false)
	genSumExp2(true)
	genCERow2()
	genSgemmKernel2()
	genFMAPeak2()
}

func bcastConst8(f float32) VecVirtual {
	y := YMM()
	t := GP32()
	MOVL(U32(math.Float32bits(f)), t)
	x := XMM()
	MOVD(t, x)
	VBROADCASTSS(x, y)
	return y
}

func bcastParam8(name string) VecVirtual {
	x := XMM()
	Load(Param(name), x)
	y := YMM()
	VBROADCASTSS(x, y)
	return y
}

// vecLoop8 loops over n (a multiple of 8) elements, unrolled unroll times then one vector at a time.
func vecLoop8(name string, n GPVirtual, ptrs []GPVirtual, unroll int, body func(u, off int)) {
	if unroll > 1 {
		Label(name + "_loopU")
		CMPQ(n, U32(8*unroll))
		JL(LabelRef(name + "_loop1"))
		for u := 0; u < unroll; u++ {
			body(u, 32*u)
		}
		for _, p := range ptrs {
			ADDQ(U32(32*unroll), p)
		}
		SUBQ(U32(8*unroll), n)
		JMP(LabelRef(name + "_loopU"))
	}
	Label(name + "_loop1")
	CMPQ(n, U32(8))
	JL(LabelRef(name + "_done"))
	body(0, 0)
	for _, p := range ptrs {
		ADDQ(U32(32), p)
	}
	SUBQ(U32(8), n)
	JMP(LabelRef(name + "_loop1"))
	Label(name + "_done")
}

func zeros8(n int) []VecVirtual {
	out := make([]VecVirtual, n)
	for i := range out {
		out[i] = YMM()
		VXORPS(out[i], out[i], out[i])
	}
	return out
}

func hsum8(y VecVirtual) VecVirtual {
	x := XMM()
	VEXTRACTF128(U8(1), y, x)
	VADDPS(x, y.AsX(), x)
	t := XMM()
	VMOVHLPS(x, x, t)
	VADDPS(t, x, x)
	VMOVSHDUP(x, t)
	VADDSS(t, x, x)
	return x
}

func hmax8(y VecVirtual) VecVirtual {
	x := XMM()
	VEXTRACTF128(U8(1), y, x)
	VMAXPS(x, y.AsX(), x)
	t := XMM()
	VMOVHLPS(x, x, t)
	VMAXPS(t, x, x)
	VMOVSHDUP(x, t)
	VMAXSS(t, x, x)
	return x
}

func genDot2() {
	TEXT("dotAVX2", NOSPLIT, "func(x, y *float32, n int) float32")
	x, y, n := ld("x"), ld("y"), ld("n")
	acc := zeros8(4)
	vecLoop8("dot2", n, []GPVirtual{x, y}, 4, func(u, off int) {
		a := YMM()
		VMOVUPS(mem(x, off), a)
		VFMADD231PS(mem(y, off), a, acc[u])
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := hsum8(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func genSum2() {
	TEXT("sumAVX2", NOSPLIT, "func(x *float32, n int) float32")
	x, n := ld("x"), ld("n")
	acc := zeros8(4)
	vecLoop8("sum2", n, []GPVirtual{x}, 4, func(u, off int) {
		VADDPS(mem(x, off), acc[u], acc[u])
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := hsum8(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func genMax2() {
	TEXT("maxAVX2", NOSPLIT, "func(x *float32, n int) float32")
	x, n := ld("x"), ld("n")
	ninf := bcastConst8(float32(math.Inf(-1)))
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = YMM()
		VMOVAPS(ninf, acc[i])
	}
	vecLoop8("max2", n, []GPVirtual{x}, 4, func(u, off int) {
		a := YMM()
		VMOVUPS(mem(x, off), a)
		VMAXPS(a, acc[u], acc[u]) // NaN elements are skipped: MAXPS returns the second source
	})
	VMAXPS(acc[1], acc[0], acc[0])
	VMAXPS(acc[3], acc[2], acc[2])
	VMAXPS(acc[2], acc[0], acc[0])
	r := hmax8(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func genAxpy2() {
	TEXT("axpyAVX2", NOSPLIT, "func(alpha float32, x, y *float32, n int)")
	al := bcastParam8("alpha")
	x, y, n := ld("x"), ld("y"), ld("n")
	vecLoop8("axpy2", n, []GPVirtual{x, y}, 4, func(u, off int) {
		b := YMM()
		VMOVUPS(mem(y, off), b)
		VFMADD231PS(mem(x, off), al, b)
		VMOVUPS(b, mem(y, off))
	})
	VZEROUPPER()
	RET()
}

func genScale2() {
	TEXT("scaleAVX2", NOSPLIT, "func(alpha float32, x *float32, n int)")
	al := bcastParam8("alpha")
	x, n := ld("x"), ld("n")
	vecLoop8("scale2", n, []GPVirtual{x}, 4, func(u, off int) {
		a := YMM()
		VMULPS(mem(x, off), al, a)
		VMOVUPS(a, mem(x, off))
	})
	VZEROUPPER()
	RET()
}

// exp8K: the rr2-p5 exp on AVX2. Without VSCALEFPS, 2^n is built in the exponent bits, so the
// argument is clamped at -87.33 (n >= -126 keeps the result normal) and lanes below are zeroed
// by a compare mask, as the AVX-512 path flushes them. The constants are read from a table
// (VEX encodings reach only 16 ymm registers).
type exp8K struct{ tab Mem }

var exp8Table Mem
var exp8Made bool

const (
	e8thr = iota
	e8log2e
	e8nln2hi
	e8nln2lo
	e8c5
	e8c4
	e8c3
	e8c2
	e8c1
	e8one
	e8bias
	e8count
)

func exp8Consts() exp8K {
	if !exp8Made {
		ln2hi := math.Float32frombits(0x3F317200)
		ln2lo := float32(math.Ln2 - float64(ln2hi))
		vals := [e8count]uint32{
			math.Float32bits(-87.33), math.Float32bits(float32(math.Log2E)),
			math.Float32bits(-ln2hi), math.Float32bits(-ln2lo),
			math.Float32bits(0x1.0F9F9Cp-7), math.Float32bits(0x1.573A1Ap-5),
			math.Float32bits(0x1.555A80p-3), math.Float32bits(0x1.FFFDC6p-2),
			math.Float32bits(0x1.FFFFF6p-1), math.Float32bits(1), 127,
		}
		exp8Table = GLOBL("exp8consts", RODATA|NOPTR)
		for i, v := range vals {
			for l := 0; l < 8; l++ {
				DATA(32*i+4*l, U32(v))
			}
		}
		exp8Made = true
	}
	return exp8K{tab: exp8Table}
}

func (c exp8K) k(i int) Mem { return c.tab.Offset(32 * i) }

func (c exp8K) exp(x, out VecVirtual) {
	m := YMM()
	VCMPPS(U8(0x05), c.k(e8thr), x, m) // m = !(x < thr)
	VMAXPS(c.k(e8thr), x, x)
	n := YMM()
	VMULPS(c.k(e8log2e), x, n)
	VROUNDPS(U8(0x08), n, n)
	t := YMM()
	VMOVAPS(x, t)
	VFMADD231PS(c.k(e8nln2hi), n, t)
	VFMADD231PS(c.k(e8nln2lo), n, t)
	p := YMM()
	VMOVUPS(c.k(e8c5), p)
	VFMADD213PS(c.k(e8c4), t, p)
	VFMADD213PS(c.k(e8c3), t, p)
	VFMADD213PS(c.k(e8c2), t, p)
	VFMADD213PS(c.k(e8c1), t, p)
	VFMADD213PS(c.k(e8one), t, p)
	VCVTPS2DQ(n, n)
	VPADDD(c.k(e8bias), n, n)
	VPSLLD(U8(23), n, n) // 2^n as float bits
	VMULPS(n, p, out)
	VANDPS(m, out, out)
}

// genSumExp2 emits sumExpAVX2 (Σ exp(x − shift), accumulated in float64) and, with store,
// expShiftAVX2, which also writes exp(x − shift) to dst.
func genSumExp2(store bool) {
	var dst, x, n GPVirtual
	if store {
		TEXT("expShiftAVX2", NOSPLIT, "func(dst, x *float32, n int, shift float32) float32")
		dst, x, n = ld("dst"), ld("x"), ld("n")
	} else {
		TEXT("sumExpAVX2", NOSPLIT, "func(x *float32, n int, shift float32) float32")
		x, n = ld("x"), ld("n")
	}
	sh := bcastParam8("shift")
	c := exp8Consts()
	acc := zeros8(2) // float64 accumulators, 4 lanes each
	label, ptrs := "sumexp2", []GPVirtual{x}
	if store {
		label, ptrs = "expshift2", []GPVirtual{dst, x}
	}
	vecLoop8(label, n, ptrs, 1, func(u, off int) {
		PREFETCHT0(mem(x, prefetchDist+off)) // as in the AVX-512 loops (two per line here)
		a := YMM()
		VMOVUPS(mem(x, off), a)
		VSUBPS(sh, a, a)
		e := YMM()
		c.exp(a, e)
		if store {
			VMOVUPS(e, mem(dst, off))
		}
		lo, hi := YMM(), YMM()
		VCVTPS2PD(e.AsX(), lo)
		xh := XMM()
		VEXTRACTF128(U8(1), e, xh)
		VCVTPS2PD(xh, hi)
		VADDPD(lo, acc[0], acc[0])
		VADDPD(hi, acc[1], acc[1])
	})
	VADDPD(acc[1], acc[0], acc[0])
	xh := XMM()
	VEXTRACTF128(U8(1), acc[0], xh)
	VADDPD(xh, acc[0].AsX(), xh)
	t := XMM()
	VPERMILPD(U8(1), xh, t)
	VADDSD(t, xh, xh)
	VCVTSD2SS(xh, xh, xh)
	VZEROUPPER()
	Store(xh, ReturnIndex(0))
	RET()
}

func genCERow2() {
	TEXT("ceRowAVX2", NOSPLIT, "func(dst, x *float32, n int, lse, gs float32)")
	dst, x, n := ld("dst"), ld("x"), ld("n")
	l := bcastParam8("lse")
	g := bcastParam8("gs")
	c := exp8Consts()
	vecLoop8("cerow2", n, []GPVirtual{dst, x}, 1, func(u, off int) {
		PREFETCHT0(mem(x, prefetchDist+off)) // as in the AVX-512 loops (two per line here)
		a := YMM()
		VMOVUPS(mem(x, off), a)
		VSUBPS(l, a, a)
		e := YMM()
		c.exp(a, e)
		VMULPS(g, e, e)
		VMOVUPS(e, mem(dst, off))
	})
	VZEROUPPER()
	RET()
}

// sgemmKernelAVX2 computes one full 6×16 tile (12 ymm accumulators, 2 B vectors, 1 broadcast).
func genSgemmKernel2() {
	const mr, nr = 6, 16
	TEXT("sgemmKernelAVX2", NOSPLIT, "func(kc int, a, b, c *float32, ldc int, alpha, beta float32)")
	kc, a, b := ld("kc"), ld("a"), ld("b")
	yr := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}
	for i := 0; i < 2*mr; i++ {
		VXORPS(yr[i], yr[i], yr[i])
	}
	step := func(koff int) {
		VMOVUPS(Mem{Base: b, Disp: koff * nr * 4}, Y12)
		VMOVUPS(Mem{Base: b, Disp: koff*nr*4 + 32}, Y13)
		for i := 0; i < mr; i++ {
			VBROADCASTSS(Mem{Base: a, Disp: koff*mr*4 + 4*i}, Y14)
			VFMADD231PS(Y12, Y14, yr[2*i])
			VFMADD231PS(Y13, Y14, yr[2*i+1])
		}
	}
	Label("gk2_loop4")
	CMPQ(kc, U8(4))
	JL(LabelRef("gk2_loop1"))
	for u := 0; u < 4; u++ {
		step(u)
	}
	ADDQ(U32(4*mr*4), a)
	ADDQ(U32(4*nr*4), b)
	SUBQ(U8(4), kc)
	JMP(LabelRef("gk2_loop4"))
	Label("gk2_loop1")
	TESTQ(kc, kc)
	JZ(LabelRef("gk2_store"))
	step(0)
	ADDQ(U32(mr*4), a)
	ADDQ(U32(nr*4), b)
	DECQ(kc)
	JMP(LabelRef("gk2_loop1"))

	Label("gk2_store")
	c := ld("c")
	ldc := ld("ldc")
	SHLQ(U8(2), ldc)
	VBROADCASTSS(paramAddr("alpha"), Y14)
	VBROADCASTSS(paramAddr("beta"), Y15)
	bb := GP32()
	MOVL(paramAddr("beta"), bb)
	ANDL(U32(0x7fffffff), bb)
	JZ(LabelRef("gk2_beta0"))
	for i := 0; i < mr; i++ {
		for j := 0; j < 2; j++ {
			VMULPS(Y14, yr[2*i+j], yr[2*i+j])
			VFMADD231PS(Mem{Base: c, Disp: 32 * j}, Y15, yr[2*i+j])
			VMOVUPS(yr[2*i+j], Mem{Base: c, Disp: 32 * j})
		}
		if i < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
	Label("gk2_beta0")
	for i := 0; i < mr; i++ {
		for j := 0; j < 2; j++ {
			VMULPS(Y14, yr[2*i+j], yr[2*i+j])
			VMOVUPS(yr[2*i+j], Mem{Base: c, Disp: 32 * j})
		}
		if i < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// fmaPeakAVX2: 12 independent ymm FMA chains, 192 flops per iteration.
func genFMAPeak2() {
	TEXT("fmaPeakAVX2", NOSPLIT, "func(iters int) float32")
	it := ld("iters")
	yr := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11}
	for _, y := range yr {
		VXORPS(y, y, y)
	}
	t := GP32()
	MOVL(U32(math.Float32bits(1e-7)), t)
	MOVD(t, X15)
	VBROADCASTSS(X15, Y15)
	MOVL(U32(math.Float32bits(0.999)), t)
	MOVD(t, X14)
	VBROADCASTSS(X14, Y14)
	Label("fp2_loop")
	for _, y := range yr {
		VFMADD231PS(Y15, Y14, y)
	}
	DECQ(it)
	JNZ(LabelRef("fp2_loop"))
	for _, y := range yr[1:] {
		VADDPS(y, Y0, Y0)
	}
	VZEROUPPER()
	Store(X0, ReturnIndex(0))
	RET()
}
