package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Element-wise and normalisation routines: RoPE (AVX-512 and AVX2), the fused RMSNorm row loops
// (AVX-512), and the AVX2 ports of RMSNorm, SiLU/SwiGLU and AdamW. Registered by
// genElementwise (main.go).

func genElementwise() {
	genRoPENorm512()
	genRoPENeox512()
	genRMSFwdRows512()
	genRMSBwdRows512()
	genRoPENorm2()
	genRoPENeox2()
	genSumSquares2()
	genMulScale2()
	genDot3_2()
	genRMSBackRow2()
	genSiLU2()
	genSiLUBack2()
	genSwiGLUF2()
	genSwiGLUB2()
	genAdamW2()
	genLSE2Acc2()
	genDequantF16_512()
	genDequantQ8_0_512()
	genDequantQ4KBlock512()
}

// ewTable holds the constants of this file: the lane index pattern 0,0,1,1,…,7,7 (VPERMPS
// duplicates 8 cos values into 16 pair lanes), the sign pattern of adjacent-pair RoPE (-, +, -,
// +, …), and the AVX2 constants 80 (the clamp of sigmoid's exp argument) and 1.
var ewTable Mem
var ewMade bool

const (
	ewIdx  = 0   // 16 int32
	ewAlt  = 64  // 16 uint32
	ewC80  = 128 // 8 float32
	ewOne  = 160 // 8 float32
	ewM127 = 192 // 8 float32: -127, the exponent that scale8 turns into 0
	ewLo   = 224 // 8 float32: -1e6, the lower clamp of the two-pass log-sum-exp
	ewSize = 256
)

func ewConsts() Mem {
	if !ewMade {
		ewTable = GLOBL("ewconsts", RODATA|NOPTR)
		for l := 0; l < 16; l++ { // DATA must come in increasing offsets
			DATA(ewIdx+4*l, U32(l/2))
		}
		for l := 0; l < 16; l++ {
			sign := uint32(0)
			if l%2 == 0 {
				sign = 0x80000000
			}
			DATA(ewAlt+4*l, U32(sign))
		}
		for l := 0; l < 8; l++ {
			DATA(ewC80+4*l, U32(math.Float32bits(80)))
		}
		for l := 0; l < 8; l++ {
			DATA(ewOne+4*l, U32(math.Float32bits(1)))
		}
		for l := 0; l < 8; l++ {
			DATA(ewM127+4*l, U32(math.Float32bits(-127)))
		}
		for l := 0; l < 8; l++ {
			DATA(ewLo+4*l, U32(math.Float32bits(-1e6)))
		}
		ewMade = true
	}
	return ewTable
}

// ---- RoPE ----
//
// One row of x: heads heads, stride floats apart; cs = [cos(half) | sin(half)] of the row's
// position. n pairs are rotated (n = half for AVX-512, which masks the tail; the AVX2 caller
// rounds n down to whole vectors and finishes in Go). sgn is 0, or 0x80000000 for the inverse
// rotation (it flips the sign of sin). The loops go over chunks of the pair index, outermost,
// then over heads, so the cos/sin vectors of a chunk are loaded (and, for adjacent pairs,
// expanded) once per row and reused for every head. Products are rounded separately, then
// added (no FMA), as the pure-Go twin computes them.

const ropeSig = "func(x, cs *float32, heads, stride, half, n int, sgn uint32)"

// ropeNorm512: adjacent pairs. out = x*C + swap(x)*S', C = (c0,c0,c1,c1,…),
// S' = (-s0,s0,-s1,s1,…) (xor sgn), swap exchanging the lanes of each pair.
func genRoPENorm512() {
	TEXT("ropeNorm512", NOSPLIT, ropeSig)
	x, cs, heads, stride, half, rem := ld("x"), ld("cs"), ld("heads"), ld("stride"), ld("half"), ld("n")
	SHLQ(U8(2), stride)
	sn := GP64()
	LEAQ(Mem{Base: cs, Index: half, Scale: 4}, sn)
	tab := ewConsts()
	sg := GP32()
	Load(Param("sgn"), sg)
	sv := ZMM()
	VPBROADCASTD(sg, sv)
	VPXORD(tab.Offset(ewAlt), sv, sv)
	idx := ZMM()
	VMOVDQU32(tab.Offset(ewIdx), idx)
	Label("rn_chunk")
	TESTQ(rem, rem)
	JZ(LabelRef("rn_done"))
	r8 := GP64()
	MOVQ(U32(8), r8)
	CMPQ(rem, r8)
	CMOVQLT(rem, r8)
	m := GP32()
	MOVL(U32(0xFFFF), m)
	BZHIL(r8.As32(), m, m)
	KMOVW(m, K1)
	r16 := GP64()
	LEAQ(Mem{Base: r8, Index: r8, Scale: 1}, r16)
	MOVL(U32(0xFFFF), m)
	BZHIL(r16.As32(), m, m)
	KMOVW(m, K2)
	c8, s8, C, S := ZMM(), ZMM(), ZMM(), ZMM()
	VMOVUPS_Z(mem(cs, 0), K1, c8)
	VMOVUPS_Z(mem(sn, 0), K1, s8)
	VPERMPS(c8, idx, C)
	VPERMPS(s8, idx, S)
	VPXORD(sv, S, S)
	p, h := GP64(), GP64()
	MOVQ(x, p)
	MOVQ(heads, h)
	Label("rn_head")
	TESTQ(h, h)
	JZ(LabelRef("rn_next"))
	X, Y := ZMM(), ZMM()
	VMOVUPS_Z(mem(p, 0), K2, X)
	VPERMILPS(U8(0xB1), X, Y)
	VMULPS(C, X, X)
	VMULPS(S, Y, Y)
	VADDPS(Y, X, X)
	VMOVUPS(X, K2, mem(p, 0))
	ADDQ(stride, p)
	DECQ(h)
	JMP(LabelRef("rn_head"))
	Label("rn_next")
	ADDQ(U32(64), x)
	ADDQ(U32(32), cs)
	ADDQ(U32(32), sn)
	SUBQ(r8, rem)
	JMP(LabelRef("rn_chunk"))
	Label("rn_done")
	VZEROUPPER()
	RET()
}

// ropeNeox512: halves. a' = a*c - b*s, b' = a*s + b*c, 16 pairs per vector.
func genRoPENeox512() {
	TEXT("ropeNeox512", NOSPLIT, ropeSig)
	x, cs, heads, stride, half, rem := ld("x"), ld("cs"), ld("heads"), ld("stride"), ld("half"), ld("n")
	SHLQ(U8(2), stride)
	SHLQ(U8(2), half) // bytes: offset of b in a head, and of sin in cs
	sg := GP32()
	Load(Param("sgn"), sg)
	sv := ZMM()
	VPBROADCASTD(sg, sv)
	Label("rx_chunk")
	TESTQ(rem, rem)
	JZ(LabelRef("rx_done"))
	r16 := GP64()
	MOVQ(U32(16), r16)
	CMPQ(rem, r16)
	CMOVQLT(rem, r16)
	m := GP32()
	MOVL(U32(0xFFFF), m)
	BZHIL(r16.As32(), m, m)
	KMOVW(m, K1)
	C, S := ZMM(), ZMM()
	VMOVUPS_Z(mem(cs, 0), K1, C)
	VMOVUPS_Z(Mem{Base: cs, Index: half, Scale: 1}, K1, S)
	VPXORD(sv, S, S)
	p, h := GP64(), GP64()
	MOVQ(x, p)
	MOVQ(heads, h)
	Label("rx_head")
	TESTQ(h, h)
	JZ(LabelRef("rx_next"))
	A, B, t1, t2 := ZMM(), ZMM(), ZMM(), ZMM()
	VMOVUPS_Z(mem(p, 0), K1, A)
	VMOVUPS_Z(Mem{Base: p, Index: half, Scale: 1}, K1, B)
	VMULPS(C, A, t1)
	VMULPS(S, B, t2)
	VSUBPS(t2, t1, t1) // a*c - b*s
	VMULPS(S, A, A)
	VMULPS(C, B, B)
	VADDPS(B, A, A) // a*s + b*c
	VMOVUPS(t1, K1, mem(p, 0))
	VMOVUPS(A, K1, Mem{Base: p, Index: half, Scale: 1})
	ADDQ(stride, p)
	DECQ(h)
	JMP(LabelRef("rx_head"))
	Label("rx_next")
	ADDQ(U32(64), x)
	ADDQ(U32(64), cs)
	SUBQ(r16, rem)
	JMP(LabelRef("rx_chunk"))
	Label("rx_done")
	VZEROUPPER()
	RET()
}

// ropeNormAVX2: as ropeNorm512, 4 pairs per ymm; n is a multiple of 4.
func genRoPENorm2() {
	TEXT("ropeNormAVX2", NOSPLIT, ropeSig)
	x, cs, heads, stride, half, rem := ld("x"), ld("cs"), ld("heads"), ld("stride"), ld("half"), ld("n")
	SHLQ(U8(2), stride)
	sn := GP64()
	LEAQ(Mem{Base: cs, Index: half, Scale: 4}, sn)
	tab := ewConsts()
	sg := GP32()
	Load(Param("sgn"), sg)
	sx := XMM()
	MOVD(sg, sx)
	sv := YMM()
	VPBROADCASTD(sx, sv)
	VXORPS(tab.Offset(ewAlt), sv, sv)
	idx := YMM()
	VMOVDQU(tab.Offset(ewIdx), idx)
	Label("rn2_chunk")
	CMPQ(rem, U8(4))
	JL(LabelRef("rn2_done"))
	c4, s4, C, S := XMM(), XMM(), YMM(), YMM()
	VMOVUPS(mem(cs, 0), c4)
	VMOVUPS(mem(sn, 0), s4)
	VPERMPS(c4.AsY(), idx, C)
	VPERMPS(s4.AsY(), idx, S)
	VXORPS(sv, S, S)
	p, h := GP64(), GP64()
	MOVQ(x, p)
	MOVQ(heads, h)
	Label("rn2_head")
	TESTQ(h, h)
	JZ(LabelRef("rn2_next"))
	X, Y := YMM(), YMM()
	VMOVUPS(mem(p, 0), X)
	VPERMILPS(U8(0xB1), X, Y)
	VMULPS(C, X, X)
	VMULPS(S, Y, Y)
	VADDPS(Y, X, X)
	VMOVUPS(X, mem(p, 0))
	ADDQ(stride, p)
	DECQ(h)
	JMP(LabelRef("rn2_head"))
	Label("rn2_next")
	ADDQ(U32(32), x)
	ADDQ(U32(16), cs)
	ADDQ(U32(16), sn)
	SUBQ(U8(4), rem)
	JMP(LabelRef("rn2_chunk"))
	Label("rn2_done")
	VZEROUPPER()
	RET()
}

// ropeNeoxAVX2: as ropeNeox512, 8 pairs per ymm; n is a multiple of 8.
func genRoPENeox2() {
	TEXT("ropeNeoxAVX2", NOSPLIT, ropeSig)
	x, cs, heads, stride, half, rem := ld("x"), ld("cs"), ld("heads"), ld("stride"), ld("half"), ld("n")
	SHLQ(U8(2), stride)
	SHLQ(U8(2), half)
	sg := GP32()
	Load(Param("sgn"), sg)
	sx := XMM()
	MOVD(sg, sx)
	sv := YMM()
	VPBROADCASTD(sx, sv)
	Label("rx2_chunk")
	CMPQ(rem, U8(8))
	JL(LabelRef("rx2_done"))
	C, S := YMM(), YMM()
	VMOVUPS(mem(cs, 0), C)
	VMOVUPS(Mem{Base: cs, Index: half, Scale: 1}, S)
	VXORPS(sv, S, S)
	p, h := GP64(), GP64()
	MOVQ(x, p)
	MOVQ(heads, h)
	Label("rx2_head")
	TESTQ(h, h)
	JZ(LabelRef("rx2_next"))
	A, B, t1, t2 := YMM(), YMM(), YMM(), YMM()
	VMOVUPS(mem(p, 0), A)
	VMOVUPS(Mem{Base: p, Index: half, Scale: 1}, B)
	VMULPS(C, A, t1)
	VMULPS(S, B, t2)
	VSUBPS(t2, t1, t1)
	VMULPS(S, A, A)
	VMULPS(C, B, B)
	VADDPS(B, A, A)
	VMOVUPS(t1, mem(p, 0))
	VMOVUPS(A, Mem{Base: p, Index: half, Scale: 1})
	ADDQ(stride, p)
	DECQ(h)
	JMP(LabelRef("rx2_head"))
	Label("rx2_next")
	ADDQ(U32(32), x)
	ADDQ(U32(32), cs)
	SUBQ(U8(8), rem)
	JMP(LabelRef("rx2_chunk"))
	Label("rx2_done")
	VZEROUPPER()
	RET()
}

// ---- RMSNorm, AVX-512, whole row loops ----

// rowMasks loads the tail opmask of a dim-long row into K1 (dim%16 lanes; all 16 when the row
// is a whole number of vectors, whose last vector then goes through the masked step).
func rowTailMask(dim GPVirtual) {
	t := GP64()
	MOVQ(dim, t)
	SUBQ(U8(1), t)
	ANDQ(U8(15), t)
	INCQ(t)
	m := GP32()
	MOVL(U32(0xFFFF), m)
	BZHIL(t.As32(), m, m)
	KMOVW(m, K1)
}

// rowLoop emits, for one row of dim >= 1 elements, a loop over its full vectors but the last,
// unrolled 4 times, then the last vector under the mask K1. body(u, at, k) emits one vector:
// at(p) addresses the current vector of the row starting at p (a byte index register walks the
// row, so the row pointers stay put and cost no copies), k is nil or the tail mask. nfull holds
// the number of elements before the last vector, (dim-1) &^ 15.
func rowLoop(name string, nfull GPVirtual, body func(u int, at func(p GPVirtual) Mem, k Op)) {
	n, i := GP64(), GP64()
	MOVQ(nfull, n)
	XORQ(i, i)
	atOff := func(off int) func(p GPVirtual) Mem {
		return func(p GPVirtual) Mem { return Mem{Base: p, Index: i, Scale: 1, Disp: off} }
	}
	Label(name + "_u")
	CMPQ(n, U8(64))
	JL(LabelRef(name + "_1"))
	for u := 0; u < 4; u++ {
		body(u, atOff(64*u), nil)
	}
	ADDQ(U32(256), i)
	SUBQ(U8(64), n)
	JMP(LabelRef(name + "_u"))
	Label(name + "_1")
	TESTQ(n, n)
	JZ(LabelRef(name + "_t"))
	body(0, atOff(0), nil)
	ADDQ(U8(64), i)
	SUBQ(U8(16), n)
	JMP(LabelRef(name + "_1"))
	Label(name + "_t")
	body(0, atOff(0), K1)
}

// rowFull returns (dim-1) &^ 15 in a new register.
func rowFull(dim GPVirtual) GPVirtual {
	n := GP64()
	MOVQ(dim, n)
	SUBQ(U8(1), n)
	ANDQ(I32(-16), n)
	return n
}

// rmsScale returns float32(1/sqrt(ss/dim + eps)) computed in float64 (as the Go code does), from
// the float32 sum of squares in the low lane of ss.
func rmsScale(ss, dim64, eps64, one64 VecVirtual) VecVirtual {
	d := XMM()
	VCVTSS2SD(ss, ss, d)
	VDIVSD(dim64, d, d)
	VADDSD(eps64, d, d)
	VSQRTSD(d, d, d)
	q := XMM()
	VDIVSD(d, one64, q)
	rs := XMM()
	VCVTSD2SS(q, q, rs)
	return rs
}

// sum4 adds the 4 accumulators and reduces them to the low lane of the returned xmm.
func sum4(acc []VecVirtual) VecVirtual {
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	return hsum(acc[0])
}

// nextRow sets nx = p + stride, or p itself on the last row (rows == 1): the software-pipelined
// loops read the next row's data while they write this row; on the last row they read this row
// again and discard the result.
func nextRow(p, stride, rows GPVirtual) GPVirtual {
	nx := GP64()
	LEAQ(Mem{Base: p, Index: stride, Scale: 1}, nx)
	CMPQ(rows, U8(1))
	CMOVQEQ(p, nx)
	return nx
}

// rmsFwdRows512 is RMSNormForward over all rows in one call: per row, the float32 sum of squares
// (4 accumulators), rstd = float32(1/sqrt(ss/dim + eps)) in float64 as the Go code computes it,
// then out = (x*rstd)*w. It is software-pipelined: the loop that scales row r also sums the
// squares of row r+1, so the latency of the reduction and of the float64 square root and
// division (about 100 cycles a row) overlaps the streaming work instead of stalling it.
// dim >= 1, rows >= 1.
func genRMSFwdRows512() {
	TEXT("rmsFwdRows512", NOSPLIT, "func(out, rstd, x, w *float32, rows, dim int, eps float32)")
	out, rstd, x, w, rows, dim := ld("out"), ld("rstd"), ld("x"), ld("w"), ld("rows"), ld("dim")
	rowTailMask(dim)
	ex := XMM()
	Load(Param("eps"), ex)
	eps64, dim64, one64 := XMM(), XMM(), XMM()
	VCVTSS2SD(ex, ex, eps64)
	VXORPS(dim64, dim64, dim64)
	VCVTSI2SDQ(dim, dim64, dim64)
	t := GP64()
	MOVQ(U64(math.Float64bits(1)), t)
	MOVQ(t, one64)
	stride := GP64()
	MOVQ(dim, stride)
	SHLQ(U8(2), stride)
	nfull := rowFull(dim)
	acc := zeros(4)
	rowLoop("rf_ss", nfull, func(u int, at func(GPVirtual) Mem, k Op) {
		a := ZMM()
		load(at(x), a, k)
		VFMADD231PS(a, a, acc[u])
	})
	ss := XMM()
	VMOVAPS(sum4(acc), ss)
	Label("rf_row")
	rs := rmsScale(ss, dim64, eps64, one64)
	VMOVSS(rs, mem(rstd, 0))
	r := ZMM()
	VBROADCASTSS(rs, r)
	xn := nextRow(x, stride, rows)
	acc2 := zeros(4)
	rowLoop("rf_sc", nfull, func(u int, at func(GPVirtual) Mem, k Op) {
		n := ZMM()
		load(at(xn), n, k)
		VFMADD231PS(n, n, acc2[u])
		a, b := ZMM(), ZMM()
		load(at(x), a, k)
		load(at(w), b, k)
		VMULPS(r, a, a)
		VMULPS(b, a, a)
		store(a, at(out), k)
	})
	VMOVAPS(sum4(acc2), ss)
	ADDQ(stride, x)
	ADDQ(stride, out)
	ADDQ(U8(4), rstd)
	DECQ(rows)
	JNZ(LabelRef("rf_row"))
	VZEROUPPER()
	RET()
}

// rmsBwdRows512 is RMSNormBackward over all rows: per row c = float32 sum((w*dout)*x), then in
// float64 kk = float32(r*r*r*(c/dim)) as the Go code computes it, then dw += (dout*r)*x and
// dx = (dout*r)*w - x*kk. Software-pipelined as rmsFwdRows512: the loop that writes row r's
// gradients also sums row r+1's c, and (for even r) adds row r+1's dw terms. dim, rows >= 1.
func genRMSBwdRows512() {
	TEXT("rmsBwdRows512", NOSPLIT, "func(dx, dw, dout, x, w, rstd *float32, rows, dim int)")
	dx, dw, dout, x, w, rstd := ld("dx"), ld("dw"), ld("dout"), ld("x"), ld("w"), ld("rstd")
	rows, dim := ld("rows"), ld("dim")
	rowTailMask(dim)
	dim64 := XMM()
	VXORPS(dim64, dim64, dim64)
	VCVTSI2SDQ(dim, dim64, dim64)
	stride := GP64()
	MOVQ(dim, stride)
	SHLQ(U8(2), stride)
	nfull := rowFull(dim)
	acc := zeros(4)
	rowLoop("rb_dot", nfull, func(u int, at func(GPVirtual) Mem, k Op) {
		va, vb, vc := ZMM(), ZMM(), ZMM()
		load(at(w), va, k)
		load(at(dout), vb, k)
		load(at(x), vc, k)
		VMULPS(vb, va, va)
		VFMADD231PS(va, vc, acc[u])
	})
	cv := XMM()
	VMOVAPS(sum4(acc), cv)
	tab := ewConsts()
	// Rows go in pairs: the even row's loop also adds the odd row's dw terms (it loads that
	// row's dout and x anyway, for its c), so dw is read and written once per two rows; the
	// odd row's loop leaves dw alone. The terms and their order are those of one row at a time.
	row := func(sfx string, withDW bool) {
		c := XMM()
		VCVTSS2SD(cv, cv, c)
		VDIVSD(dim64, c, c)
		rs := XMM()
		VMOVSS(mem(rstd, 0), rs)
		rf := XMM()
		VCVTSS2SD(rs, rs, rf)
		k3 := XMM()
		VMULSD(rf, rf, k3)
		VMULSD(rf, k3, k3)
		VMULSD(c, k3, k3)
		VCVTSD2SS(k3, k3, k3)
		r, kk, rn := ZMM(), ZMM(), ZMM()
		VBROADCASTSS(rs, r)
		VBROADCASTSS(k3, kk)
		if withDW {
			// the next row's rstd, or 0 on the last row (whose "next" is itself: no dw twice)
			pr, zp := GP64(), GP64()
			LEAQ(mem(rstd, 4), pr)
			LEAQ(tab.Offset(ewIdx), zp) // 0.0
			CMPQ(rows, U8(1))
			CMOVQEQ(zp, pr)
			VBROADCASTSS(mem(pr, 0), rn)
		}
		dn := nextRow(dout, stride, rows)
		xn := nextRow(x, stride, rows)
		acc2 := zeros(4)
		rowLoop("rb_g"+sfx, nfull, func(u int, at func(GPVirtual) Mem, k Op) {
			vw, vn, vxn := ZMM(), ZMM(), ZMM()
			load(at(w), vw, k)
			load(at(dn), vn, k)
			load(at(xn), vxn, k)
			vd, vx, t := ZMM(), ZMM(), ZMM()
			load(at(dout), vd, k)
			load(at(x), vx, k)
			VMULPS(r, vd, t) // t = dout*r
			if withDW {
				vdw, tn := ZMM(), ZMM()
				load(at(dw), vdw, k)
				VFMADD231PS(vx, t, vdw) // dw += dout*r*x
				VMULPS(rn, vn, tn)
				VFMADD231PS(vxn, tn, vdw) // dw += next dout*rn*x
				store(vdw, at(dw), k)
			}
			VMULPS(vw, vn, vn)
			VFMADD231PS(vn, vxn, acc2[u]) // next row's c
			VMULPS(vw, t, t)              // t = dout*r*w
			VFNMADD231PS(vx, kk, t)       // t -= x*kk
			store(t, at(dx), k)
		})
		VMOVAPS(sum4(acc2), cv)
		ADDQ(stride, dx)
		ADDQ(stride, dout)
		ADDQ(stride, x)
		ADDQ(U8(4), rstd)
	}
	Label("rb_even")
	row("e", true)
	DECQ(rows)
	JZ(LabelRef("rb_done"))
	row("o", false)
	DECQ(rows)
	JNZ(LabelRef("rb_even"))
	Label("rb_done")
	VZEROUPPER()
	RET()
}

// ---- AVX2 ports (whole vectors of 8; the Go wrappers finish the tail) ----

func genSumSquares2() {
	TEXT("sumSquaresAVX2", NOSPLIT, "func(x *float32, n int) float32")
	x, n := ld("x"), ld("n")
	acc := zeros8(4)
	vecLoop8("ssq2", n, []GPVirtual{x}, 4, func(u, off int) {
		a := YMM()
		VMOVUPS(mem(x, off), a)
		VFMADD231PS(a, a, acc[u])
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := hsum8(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func genMulScale2() {
	TEXT("mulScaleAVX2", NOSPLIT, "func(out, x, w *float32, n int, r float32)")
	out, x, w, n := ld("out"), ld("x"), ld("w"), ld("n")
	r := bcastParam8("r")
	vecLoop8("mulscale2", n, []GPVirtual{out, x, w}, 4, func(u, off int) {
		a := YMM()
		VMULPS(mem(x, off), r, a)
		VMULPS(mem(w, off), a, a)
		VMOVUPS(a, mem(out, off))
	})
	VZEROUPPER()
	RET()
}

func genDot3_2() {
	TEXT("dot3AVX2", NOSPLIT, "func(a, b, c *float32, n int) float32")
	a, b, c, n := ld("a"), ld("b"), ld("c"), ld("n")
	acc := zeros8(4)
	vecLoop8("dot3_2", n, []GPVirtual{a, b, c}, 4, func(u, off int) {
		va := YMM()
		VMOVUPS(mem(a, off), va)
		VMULPS(mem(b, off), va, va)
		VFMADD231PS(mem(c, off), va, acc[u])
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := hsum8(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func genRMSBackRow2() {
	TEXT("rmsBackRowAVX2", NOSPLIT, "func(dx, dw, dout, x, w *float32, n int, r, kk float32)")
	dx, dw, dout, x, w, n := ld("dx"), ld("dw"), ld("dout"), ld("x"), ld("w"), ld("n")
	r := bcastParam8("r")
	kk := bcastParam8("kk")
	vecLoop8("rmsb2", n, []GPVirtual{dx, dw, dout, x, w}, 2, func(u, off int) {
		vx, vdw, t := YMM(), YMM(), YMM()
		VMOVUPS(mem(x, off), vx)
		VMOVUPS(mem(dw, off), vdw)
		VMULPS(mem(dout, off), r, t)
		VFMADD231PS(vx, t, vdw)
		VMULPS(mem(w, off), t, t)
		VFNMADD231PS(vx, kk, t)
		VMOVUPS(vdw, mem(dw, off))
		VMOVUPS(t, mem(dx, off))
	})
	VZEROUPPER()
	RET()
}

// sigmoid8 returns 1/(1+exp(-x)) (x preserved): exp's argument clamped at 80 from above (the
// AVX2 exp clamps and zeroes below -87.33 itself). The quotient is a true VDIVPS: VRCPPS's 12
// bits plus one Newton step leave sigmoid(80) one ulp below 1, which silu'(80) = s*(1+x*(1-s))
// amplifies 80 times.
func sigmoid8(c exp8K, tab Mem, x VecVirtual) VecVirtual {
	t := YMM()
	VXORPS(t, t, t)
	VSUBPS(x, t, t)
	VMINPS(tab.Offset(ewC80), t, t)
	e := YMM()
	c.exp(t, e)
	VADDPS(c.k(e8one), e, e)
	r := YMM()
	VMOVUPS(c.k(e8one), r)
	VDIVPS(e, r, r)
	return r
}

// siluDeriv8 returns s*(1+x*(1-s)).
func siluDeriv8(c exp8K, x, s VecVirtual) VecVirtual {
	d := YMM()
	VMOVUPS(c.k(e8one), d)
	VSUBPS(s, d, d)
	VFMADD213PS(c.k(e8one), x, d)
	VMULPS(s, d, d)
	return d
}

func genSiLU2() {
	TEXT("siluAVX2", NOSPLIT, "func(dst, x *float32, n int)")
	dst, x, n := ld("dst"), ld("x"), ld("n")
	c, tab := exp8Consts(), ewConsts()
	vecLoop8("silu2", n, []GPVirtual{dst, x}, 1, func(u, off int) {
		a := YMM()
		VMOVUPS(mem(x, off), a)
		s := sigmoid8(c, tab, a)
		VMULPS(a, s, s)
		VMOVUPS(s, mem(dst, off))
	})
	VZEROUPPER()
	RET()
}

func genSiLUBack2() {
	TEXT("siluBackAVX2", NOSPLIT, "func(dx, dout, x *float32, n int)")
	dx, dout, x, n := ld("dx"), ld("dout"), ld("x"), ld("n")
	c, tab := exp8Consts(), ewConsts()
	vecLoop8("silub2", n, []GPVirtual{dx, dout, x}, 1, func(u, off int) {
		a := YMM()
		VMOVUPS(mem(x, off), a)
		s := sigmoid8(c, tab, a)
		d := siluDeriv8(c, a, s)
		VMULPS(mem(dout, off), d, d)
		VMOVUPS(d, mem(dx, off))
	})
	VZEROUPPER()
	RET()
}

func genSwiGLUF2() {
	TEXT("swigluFAVX2", NOSPLIT, "func(out, gate, up *float32, n int)")
	out, gate, up, n := ld("out"), ld("gate"), ld("up"), ld("n")
	c, tab := exp8Consts(), ewConsts()
	vecLoop8("swigluf2", n, []GPVirtual{out, gate, up}, 1, func(u, off int) {
		a := YMM()
		VMOVUPS(mem(gate, off), a)
		s := sigmoid8(c, tab, a)
		VMULPS(a, s, s)
		VMULPS(mem(up, off), s, s)
		VMOVUPS(s, mem(out, off))
	})
	VZEROUPPER()
	RET()
}

func genSwiGLUB2() {
	TEXT("swigluBAVX2", NOSPLIT, "func(dgate, dup, dout, gate, up *float32, n int)")
	dgate, dup, dout, gate, up, n := ld("dgate"), ld("dup"), ld("dout"), ld("gate"), ld("up"), ld("n")
	c, tab := exp8Consts(), ewConsts()
	vecLoop8("swiglub2", n, []GPVirtual{dgate, dup, dout, gate, up}, 1, func(u, off int) {
		a, g := YMM(), YMM()
		VMOVUPS(mem(gate, off), a)
		VMOVUPS(mem(dout, off), g)
		s := sigmoid8(c, tab, a)
		d := siluDeriv8(c, a, s)
		VMULPS(g, d, d)
		VMULPS(mem(up, off), d, d) // dgate = dout*up*silu'(gate)
		VMOVUPS(d, mem(dgate, off))
		VMULPS(a, s, s) // silu(gate)
		VMULPS(g, s, s) // dup = dout*silu(gate)
		VMOVUPS(s, mem(dup, off))
	})
	VZEROUPPER()
	RET()
}

// adamWAVX2: as adamW512 (main.go), on ymm registers.
func genAdamW2() {
	TEXT("adamWAVX2", NOSPLIT, "func(p, grad, m, v *float32, n int, prm *[8]float32)")
	p, g, m, v, n, prm := ld("p"), ld("grad"), ld("m"), ld("v"), ld("n"), ld("prm")
	c := make([]VecVirtual, 8)
	for i := range c {
		c[i] = YMM()
		VBROADCASTSS(mem(prm, 4*i), c[i])
	}
	b1, c1, b2, c2, step, ibc2, eps, decay := c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
	vecLoop8("adamw2", n, []GPVirtual{p, g, m, v}, 1, func(u, off int) {
		vg, vm, vv, t := YMM(), YMM(), YMM(), YMM()
		VMOVUPS(mem(g, off), vg)
		VMOVUPS(mem(m, off), vm)
		VMOVUPS(mem(v, off), vv)
		VMULPS(c1, vg, t)
		VFMADD213PS(t, b1, vm) // m = b1*m + c1*g
		VMULPS(vg, vg, t)
		VMULPS(c2, t, t)
		VFMADD213PS(t, b2, vv) // v = b2*v + c2*g*g
		VMOVUPS(vm, mem(m, off))
		VMOVUPS(vv, mem(v, off))
		VSQRTPS(vv, t)
		VFMADD213PS(eps, ibc2, t) // sqrt(v)/sqrt(bc2) + eps
		VMULPS(step, vm, vm)
		VDIVPS(t, vm, vm)
		VMULPS(mem(p, off), decay, vg)
		VSUBPS(vm, vg, vg)
		VMOVUPS(vg, mem(p, off))
	})
	VZEROUPPER()
	RET()
}

// ---- two-pass log-sum-exp, AVX2 ----

// scale8 returns 2^d for integer-valued d <= 0, built in the exponent bits: d below -126 gives
// 0 (d is clamped at -127, whose biased exponent 0 is the float 0).
func scale8(c exp8K, tab Mem, d VecVirtual) VecVirtual {
	t := YMM()
	VMAXPS(tab.Offset(ewM127), d, t)
	VCVTPS2DQ(t, t)
	VPADDD(c.k(e8bias), t, t)
	VPSLLD(U8(23), t, t)
	return t
}

// lse2AccAVX2 is lse2Acc512 (main.go) on AVX2: Dukhan & Ablavatski's (mantissa, exponent)
// accumulation, each exp(x) kept as p*2^n, the running sum rescaled to the group's largest
// exponent. Without VSCALEFPS the powers of two are built in the exponent bits (scale8), and
// MXCSR's flush-to-zero makes the products that underflow cost no microcode assist. Groups of 4
// vectors share one rescale; TwoSum compensates the running sum. n is a multiple of 8; it writes
// 8 lanes of mantissa then 8 lanes of exponent to out. Inputs are clamped below at -1e6.
func genLSE2Acc2() {
	TEXT("lse2AccAVX2", NOSPLIT, "func(x *float32, n int, out *float32)")
	x, n, out := ld("x"), ld("n"), ld("out")
	c, tab := exp8Consts(), ewConsts()
	saved, ftz := AllocLocal(4), AllocLocal(4)
	STMXCSR(saved)
	mx32 := GP32()
	MOVL(saved, mx32)
	ORL(U32(0x8040), mx32)
	MOVL(mx32, ftz)
	LDMXCSR(ftz)
	accM, accC, accE := YMM(), YMM(), YMM()
	VXORPS(accM, accM, accM)
	VXORPS(accC, accC, accC)
	VMOVUPS(tab.Offset(ewLo), accE)
	VMULPS(c.k(e8log2e), accE, accE)
	VADDPS(tab.Offset(ewLo), accE, accE) // below any n of a clamped input
	reduce := func(off int) (VecVirtual, VecVirtual) {
		a := YMM()
		VMOVUPS(tab.Offset(ewLo), a)
		VMAXPS(mem(x, off), a, a)
		nn := YMM()
		VMULPS(c.k(e8log2e), a, nn)
		VROUNDPS(U8(0x08), nn, nn)
		VFMADD231PS(c.k(e8nln2hi), nn, a)
		VFMADD231PS(c.k(e8nln2lo), nn, a)
		p := YMM()
		VMOVUPS(c.k(e8c5), p)
		VFMADD213PS(c.k(e8c4), a, p)
		VFMADD213PS(c.k(e8c3), a, p)
		VFMADD213PS(c.k(e8c2), a, p)
		VFMADD213PS(c.k(e8c1), a, p)
		VFMADD213PS(c.k(e8one), a, p)
		return nn, p
	}
	group := func(g int) {
		ns, ps := make([]VecVirtual, g), make([]VecVirtual, g)
		for i := 0; i < g; i++ {
			PREFETCHT0(mem(x, prefetchDist+32*i))
			ns[i], ps[i] = reduce(32 * i)
		}
		gm := YMM()
		VMAXPS(ns[0], accE, gm)
		for i := 1; i < g; i++ {
			VMAXPS(ns[i], gm, gm)
		}
		d := YMM()
		VSUBPS(gm, accE, d) // accE - gm <= 0
		sd := scale8(c, tab, d)
		VMULPS(sd, accM, accM)
		VMULPS(sd, accC, accC)
		VMOVAPS(gm, accE)
		for i := 0; i < g; i++ {
			VSUBPS(gm, ns[i], ns[i])
			si := scale8(c, tab, ns[i])
			VMULPS(si, ps[i], ps[i])
		}
		for w := 1; w < g; w *= 2 {
			for i := 0; i+w < g; i += 2 * w {
				VADDPS(ps[i+w], ps[i], ps[i])
			}
		}
		// TwoSum: accM += ps[0], the rounding error into accC.
		sum, bv, t := YMM(), YMM(), YMM()
		VADDPS(ps[0], accM, sum)
		VSUBPS(accM, sum, bv)
		VSUBPS(bv, sum, t)
		VSUBPS(t, accM, t)
		VSUBPS(bv, ps[0], bv)
		VADDPS(bv, t, t)
		VADDPS(t, accC, accC)
		VMOVAPS(sum, accM)
	}
	const G = 4
	Label("lse2b_loopG")
	CMPQ(n, U8(8*G))
	JL(LabelRef("lse2b_loop1"))
	group(G)
	ADDQ(U8(32*G), x)
	SUBQ(U8(8*G), n)
	JMP(LabelRef("lse2b_loopG"))
	Label("lse2b_loop1")
	CMPQ(n, U8(8))
	JL(LabelRef("lse2b_done"))
	group(1)
	ADDQ(U8(32), x)
	SUBQ(U8(8), n)
	JMP(LabelRef("lse2b_loop1"))
	Label("lse2b_done")
	VADDPS(accC, accM, accM)
	VMOVUPS(accM, mem(out, 0))
	VMOVUPS(accE, mem(out, 32))
	LDMXCSR(saved)
	VZEROUPPER()
	RET()
}

// ---- SiLU / SwiGLU, AVX-512 ----

// sigK holds the constants of exp(-x) for the sigmoid: the argument is clamped to
// [-80, 87.33], so that exp(-x) stays a normal float in [1.2e-38, 5.5e34] (no overflow, no
// denormal assist, no compare mask), and the reduction is written for -x without negating x:
// n = round(-x*log2e) = fma(x, -log2e, magic) - magic, t = -x - n*ln2 = -(n*ln2) - x in one
// FMA. This single-constant reduction (rr1) leaves an error of |n|*|ln2 - float32(ln2)| <= 2.2e-7
// in t, so a relative 2.2e-7 in exp(-x) and at most that in the sigmoid: measured over
// [-90, 90], silu's worst relative error is 3.9e-7 (2.3e-7 with the two-constant Cody-Waite
// split it replaces), well inside the 2e-6 the tests demand, for one vector operation fewer in
// 15 (about 6% on swiglu_fwd 64x1536, measured in one process alternating both versions).
type sigK struct {
	lo, hi, nlog2e, magic, ln2, c5, c4, c3, c2, c1, one VecVirtual
}

func sigConsts() sigK {
	return sigK{
		lo:     bcastConst(-80),
		hi:     bcastConst(87.33),
		nlog2e: bcastConst(float32(-math.Log2E)),
		magic:  bcastConst(0x1.8p23),
		ln2:    bcastConst(float32(math.Ln2)),
		c5:     bcastConst(0x1.0F9F9Cp-7),
		c4:     bcastConst(0x1.573A1Ap-5),
		c3:     bcastConst(0x1.555A80p-3),
		c2:     bcastConst(0x1.FFFDC6p-2),
		c1:     bcastConst(0x1.FFFFF6p-1),
		one:    bcastConst(1),
	}
}

// denom returns 1 + exp(-x) (x preserved): an rr1-p5 exp (the degree-5 polynomial of main.go's
// expK) in 11 vector operations.
func (c sigK) denom(x VecVirtual) VecVirtual {
	xc := ZMM()
	VMAXPS(x, c.lo, xc)
	VMINPS(xc, c.hi, xc)
	n := ZMM()
	VMOVAPS(c.magic, n)
	VFMADD231PS(c.nlog2e, xc, n)
	VSUBPS(c.magic, n, n)
	VFNMSUB231PS(c.ln2, n, xc) // t = -(n*ln2) - x
	p := ZMM()
	VMOVAPS(c.c5, p)
	VFMADD213PS(c.c4, xc, p)
	VFMADD213PS(c.c3, xc, p)
	VFMADD213PS(c.c2, xc, p)
	VFMADD213PS(c.c1, xc, p)
	VFMADD213PS(c.one, xc, p)
	VSCALEFPS(n, p, p)
	VADDPS(c.one, p, p)
	return p
}

// sigmoid returns 1/(1 + exp(-x)).
func (c sigK) sigmoid(x VecVirtual) VecVirtual {
	d := c.denom(x)
	s := ZMM()
	VDIVPS(d, c.one, s)
	return s
}

// deriv returns silu'(x) = s*(1+x*(1-s)).
func (c sigK) deriv(x, s VecVirtual) VecVirtual {
	d := ZMM()
	VSUBPS(s, c.one, d)      // 1-s
	VFMADD213PS(c.one, x, d) // x*(1-s)+1
	VMULPS(s, d, d)
	return d
}

// silu512: dst = x/(1+exp(-x)) (one division, no separate sigmoid product).
func genSiLU() {
	TEXT("silu512", NOSPLIT, "func(dst, x *float32, n int)")
	dst, x, n := ld("dst"), ld("x"), ld("n")
	c := sigConsts()
	vecLoop("silu", n, []GPVirtual{dst, x}, 2, func(u, off int, k Op) {
		a := ZMM()
		load(mem(x, off), a, k)
		d := c.denom(a)
		VDIVPS(d, a, a)
		store(a, mem(dst, off), k)
	})
	VZEROUPPER()
	RET()
}

func genSiLUBack() {
	TEXT("siluBack512", NOSPLIT, "func(dx, dout, x *float32, n int)")
	dx, dout, x, n := ld("dx"), ld("dout"), ld("x"), ld("n")
	c := sigConsts()
	vecLoop("silub", n, []GPVirtual{dx, dout, x}, 2, func(u, off int, k Op) {
		a, g := ZMM(), ZMM()
		load(mem(x, off), a, k)
		load(mem(dout, off), g, k)
		s := c.sigmoid(a)
		d := c.deriv(a, s)
		VMULPS(g, d, d)
		store(d, mem(dx, off), k)
	})
	VZEROUPPER()
	RET()
}

// swigluF512: out = (gate*up)/(1+exp(-gate)): 14 vector operations per 16 elements, unrolled
// 4 times (a couple of percent over 2: more independent exp chains in flight). VRCP14PS with a
// Newton step in place of VDIVPS measured slower here (the divider is not the bottleneck: the
// FMA ports are).
func genSwiGLUF() {
	TEXT("swigluF512", NOSPLIT, "func(out, gate, up *float32, n int)")
	out, gate, up, n := ld("out"), ld("gate"), ld("up"), ld("n")
	c := sigConsts()
	vecLoop("swigluf", n, []GPVirtual{out, gate, up}, 4, func(u, off int, k Op) {
		a, b := ZMM(), ZMM()
		load(mem(gate, off), a, k)
		load(mem(up, off), b, k)
		d := c.denom(a)
		VMULPS(a, b, b)
		VDIVPS(d, b, b)
		store(b, mem(out, off), k)
	})
	VZEROUPPER()
	RET()
}

// swigluB512: with gs = dout*s, dup = gs*gate and dgate = up*(gs + dup*(1-s)), which is
// dout*up*s*(1+gate*(1-s)) in 5 operations after the sigmoid instead of 7.
func genSwiGLUB() {
	TEXT("swigluB512", NOSPLIT, "func(dgate, dup, dout, gate, up *float32, n int)")
	dgate, dup, dout, gate, up, n := ld("dgate"), ld("dup"), ld("dout"), ld("gate"), ld("up"), ld("n")
	c := sigConsts()
	vecLoop("swiglub", n, []GPVirtual{dgate, dup, dout, gate, up}, 2, func(u, off int, k Op) {
		a, b, g := ZMM(), ZMM(), ZMM()
		load(mem(gate, off), a, k)
		load(mem(up, off), b, k)
		load(mem(dout, off), g, k)
		s := c.sigmoid(a)
		gs, du, t := ZMM(), ZMM(), ZMM()
		VMULPS(g, s, gs)       // gs = dout*s
		VMULPS(a, gs, du)      // dup = dout*s*gate = dout*silu(gate)
		VSUBPS(s, c.one, t)    // 1-s
		VFMADD213PS(gs, du, t) // gs + dup*(1-s) = dout*silu'(gate)
		VMULPS(b, t, t)        // dgate = dout*up*silu'(gate)
		store(t, mem(dgate, off), k)
		store(du, mem(dup, off), k)
	})
	VZEROUPPER()
	RET()
}

// ---- dequantization, AVX-512 ----

// bcastU32 broadcasts a 32-bit pattern into a new zmm.
func bcastU32(v uint32) VecVirtual {
	z := ZMM()
	t := GP32()
	MOVL(U32(v), t)
	VPBROADCASTD(t, z)
	return z
}

// dequantF16_512 converts n (a multiple of 16) binary16 values with VCVTPH2PS, which is exact
// for every finite value and infinity. It quiets signalling NaNs, where the Go twin (and ggml's
// reference) keeps the payload bits as they are: lanes whose exponent is all ones are rebuilt as
// sign | 0x7F800000 | mantissa<<13 (a branch skips that when a vector has none).
func genDequantF16_512() {
	TEXT("dequantF16_512", NOSPLIT, "func(dst *float32, src *uint16, n int)")
	dst, src, n := ld("dst"), ld("src"), ld("n")
	expMask, signMask, manMask, infBits := bcastU32(0x7C00), bcastU32(0x80000000), bcastU32(0x3FF), bcastU32(0x7F800000)
	Label("f16_loop")
	CMPQ(n, U8(16))
	JL(LabelRef("f16_done"))
	f := ZMM()
	VCVTPH2PS(mem(src, 0), f)
	h, t := ZMM(), ZMM()
	VPMOVZXWD(mem(src, 0), h)
	VPANDD(expMask, h, t)
	VPCMPEQD(expMask, t, K1)
	KORTESTW(K1, K1)
	JZ(LabelRef("f16_store"))
	s1, s2 := ZMM(), ZMM()
	VPSLLD(U8(16), h, s1)
	VPANDD(signMask, s1, s1)
	VPANDD(manMask, h, s2)
	VPSLLD(U8(13), s2, s2)
	VPORD(s2, s1, s1)
	VPORD(infBits, s1, s1)
	VMOVDQA32(s1, K1, f)
	Label("f16_store")
	VMOVUPS(f, mem(dst, 0))
	ADDQ(U8(32), src)
	ADDQ(U8(64), dst)
	SUBQ(U8(16), n)
	JMP(LabelRef("f16_loop"))
	Label("f16_done")
	VZEROUPPER()
	RET()
}

// dequantQ8_0_512 converts nb Q8_0 blocks (34 bytes: an F16 scale d, 32 int8 q) to
// float32(q)*d, the product rounded once, as ggml's reference and the Go twin.
func genDequantQ8_0_512() {
	TEXT("dequantQ8_0_512", NOSPLIT, "func(dst *float32, src *byte, nb int)")
	dst, src, nb := ld("dst"), ld("src"), ld("nb")
	Label("q80_loop")
	TESTQ(nb, nb)
	JZ(LabelRef("q80_done"))
	t := GP32()
	MOVWLZX(mem(src, 0), t)
	dx := XMM()
	VMOVD(t, dx)
	VCVTPH2PS(dx, dx)
	d := ZMM()
	VBROADCASTSS(dx, d)
	for j := 0; j < 2; j++ {
		q := ZMM()
		VPMOVSXBD(mem(src, 2+16*j), q)
		VCVTDQ2PS(q, q)
		VMULPS(d, q, q)
		VMOVUPS(q, mem(dst, 64*j))
	}
	ADDQ(U8(34), src)
	ADDQ(U32(128), dst)
	DECQ(nb)
	JMP(LabelRef("q80_loop"))
	Label("q80_done")
	VZEROUPPER()
	RET()
}

// dequantQ4KBlock512 converts the 256 quants of one Q4_K block: dm holds the block's 8 scales
// d*sc then its 8 mins dmin*m (computed in Go, as ggml does, in float32); sub-block k of 32
// values is float32(dm[k]*q) - dm[8+k], q the low nibbles of bytes 32(k/2)..32(k/2)+31 for even
// k, the high nibbles for odd k. Product and difference are rounded separately, as in Go.
func genDequantQ4KBlock512() {
	TEXT("dequantQ4KBlock512", NOSPLIT, "func(dst *float32, q *byte, dm *[16]float32)")
	dst, q, dm := ld("dst"), ld("q"), ld("dm")
	c0F := bcastU32(0xF)
	for g := 0; g < 4; g++ {
		d1, m1, d2, m2 := ZMM(), ZMM(), ZMM(), ZMM()
		VBROADCASTSS(mem(dm, 4*(2*g)), d1)
		VBROADCASTSS(mem(dm, 4*(8+2*g)), m1)
		VBROADCASTSS(mem(dm, 4*(2*g+1)), d2)
		VBROADCASTSS(mem(dm, 4*(8+2*g+1)), m2)
		for h := 0; h < 2; h++ {
			b, lo, hi := ZMM(), ZMM(), ZMM()
			VPMOVZXBD(mem(q, 32*g+16*h), b)
			VPANDD(c0F, b, lo)
			VPSRLD(U8(4), b, hi)
			VCVTDQ2PS(lo, lo)
			VCVTDQ2PS(hi, hi)
			VMULPS(d1, lo, lo)
			VSUBPS(m1, lo, lo)
			VMULPS(d2, hi, hi)
			VSUBPS(m2, hi, hi)
			VMOVUPS(lo, mem(dst, 4*(64*g+16*h)))
			VMOVUPS(hi, mem(dst, 4*(64*g+32+16*h)))
		}
	}
	VZEROUPPER()
	RET()
}
