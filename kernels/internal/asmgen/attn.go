package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// ---- small-head attention row kernels ----
//
// AVX-512 row kernels of the small-head attention (kernels/attnrows.go documents the layout
// and the arithmetic; attnRowFwdGo, attnRowBwdGo and their paired forms are the pure-Go twins).
// K and V are blocked: block b of 16 keys holds hd rows of 16 floats, row d at ((b*hd)+d)*16;
// hd is a multiple of 8. One call handles one query row of one head (or of two adjacent heads
// of a GQA group, sharing every load of K, V, dKᵀ and dVᵀ) in passes over the blocks:
//
//	forward:  A  s = scale·q·Kᵀ (hd broadcast FMAs per block) and a running max
//	          B  e = exp(s − max), 0 below 2⁻¹⁰⁰, and Σe
//	          C  out = (e·V) / Σe, 8 head dims at a time in 8 accumulators
//	backward: A  s as above and dp = dO·Vᵀ
//	          B  e as above, Σe and Σe·dp
//	          D  p = e/Σe, ds = scale·p·(dp − Σp·dp); dq = ds·K; dKᵀ += q⊗ds; dVᵀ += dO⊗p
//
// The registers are physical, as in the SGEMM micro-kernel: the exp constants stay in Z18..Z31
// for the whole call (attnConsts), and the passes use the rest.

// attnPerm is the lane order of the 8 sums that attnReduce8 leaves in Z0.
var attnPerm Mem

func genAttnRows() {
	attnPerm = GLOBL("attnperm", RODATA|NOPTR)
	for i, v := range []uint32{0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0} {
		DATA(4*i, U32(v))
	}
	genAttnRowFwd()
	genAttnRowBwd()
	genAttnFlush()
	genAttnRowFwd2()
	genAttnRowBwd2()
}

// attnConsts broadcasts the scale and the exp constants (the rr2-p5 exp of genSumExp:
// magic-bias rounding, two-part ln2, degree-5 polynomial, VSCALEFPS) into Z18..Z31: Z18 scale,
// Z19 −inf, Z20 the clamp −100, Z21 the flush threshold −100·ln2, Z22 log2e, Z23 the magic bias,
// Z24/Z25 −ln2 hi/lo, Z26..Z30 the polynomial, Z31 one.
func attnConsts() {
	scale, err := Param("scale").Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(scale.Addr, Z18)
	for i, v := range []uint32{0xff800000, 0xc2c80000, 0xc28aa123, 0x3fb8aa3b, 0x4b400000, 0xbf317200,
		0xb5bfbe8e, 0x3c07cfce, 0x3d2b9d0d, 0x3e2aad40, 0x3efffee3, 0x3f7ffffb, math.Float32bits(1)} {
		MOVL(U32(v), R15L)
		VPBROADCASTD(R15L, zreg(19+i))
	}
}

// attnExp sets x = exp(x) for x ≤ 0, exactly 0 where x < −100·ln2 (no subnormal is ever made);
// t1, t2 and k are clobbered.
func attnExp(x, t1, t2, k Op) {
	VMAXPS(Z20, x, x)
	VCMPPS(U8(0x05), Z21, x, k)
	VMOVAPS(Z23, t1)
	VFMADD231PS(Z22, x, t1)
	VSUBPS(Z23, t1, t1)
	VFMADD231PS(Z24, t1, x)
	VFMADD231PS(Z25, t1, x)
	VMOVAPS(Z26, t2)
	VFMADD213PS(Z27, x, t2)
	VFMADD213PS(Z28, x, t2)
	VFMADD213PS(Z29, x, t2)
	VFMADD213PS(Z30, x, t2)
	VFMADD213PS(Z31, x, t2)
	VSCALEFPS_Z(t1, t2, k, x)
}

// attnHorizontal broadcasts op (VMAXPS or VADDPS) over the 16 lanes of z to all its lanes; Z5 is
// clobbered.
func attnHorizontal(op func(...Op), z VecPhysical) {
	VEXTRACTF64X4(U8(1), z, Y5)
	op(Y5, z.AsY(), z.AsY())
	VEXTRACTF128(U8(1), z.AsY(), X5)
	op(X5, z.AsX(), z.AsX())
	VPERMILPS(U8(0x4e), z.AsX(), X5)
	op(X5, z.AsX(), z.AsX())
	VPERMILPS(U8(0xb1), z.AsX(), X5)
	op(X5, z.AsX(), z.AsX())
	VBROADCASTSS(z.AsX(), z)
}

// attnReduce8 leaves the 8 lane sums of a[0..7], in order, in the low 8 lanes (Y0) of Z0. Pairs
// of accumulators first add their 256-bit halves (VSHUFF32X4 0x44/0xee), then pairs of pairs
// leave accumulator k's 4 partial sums in 128-bit lane k (0x88/0xdd), then VSHUFPS and VPERMILPS
// finish each 128-bit lane: lane 4k holds sum k and lane 4k+2 holds sum 4+k, which VPERMPS with
// attnPerm puts in order. Z1, Z5 and the accumulators are clobbered.
func attnReduce8(a []VecPhysical) {
	for i := 0; i < 8; i += 2 {
		VSHUFF32X4(U8(0x44), a[i+1], a[i], Z0)
		VSHUFF32X4(U8(0xee), a[i+1], a[i], Z1)
		VADDPS(Z1, Z0, a[i])
	}
	for i := 0; i < 8; i += 4 {
		VSHUFF32X4(U8(0x88), a[i+2], a[i], Z0)
		VSHUFF32X4(U8(0xdd), a[i+2], a[i], Z1)
		VADDPS(Z1, Z0, a[i])
	}
	VSHUFPS(U8(0x44), a[4], a[0], Z0)
	VSHUFPS(U8(0xee), a[4], a[0], Z1)
	VADDPS(Z1, Z0, Z0)
	VPERMILPS(U8(0xb1), Z0, Z1)
	VADDPS(Z1, Z0, Z0)
	VMOVUPS(attnPerm, Z5)
	VPERMPS(Z0, Z5, Z0)
}

// zrange returns Z<from>..Z<from+n-1>, skipping the registers in skip.
func zrange(from, n int, skip ...int) []VecPhysical {
	var out []VecPhysical
	for r := from; len(out) < n; r++ {
		ok := true
		for _, s := range skip {
			ok = ok && r != s
		}
		if ok {
			out = append(out, zreg(r))
		}
	}
	return out
}

func zeroAll(zs []VecPhysical) {
	for _, z := range zs {
		VPXORD(z, z, z)
	}
}

// attnMaskLast sets the lanes of z past the row's last key (K1 clear) to −inf; Z5 is clobbered.
func attnMaskLast(z Op) {
	VMOVAPS(Z19, Z5)
	VMOVAPS(z, K1, Z5)
	VMOVAPS(Z5, z)
}

func mx(base Register, disp int, index Register) Mem {
	return Mem{Base: base, Disp: disp, Index: index, Scale: 1}
}

func genAttnRowFwd() {
	TEXT("attnRowFwd512", NOSPLIT, "func(out, q, kt, vt, e *float32, hd, nb, tail int, scale float32)")
	Doc("attnRowFwd512 is attnRowFwdGo for hd a multiple of 8: out[:hd] = softmax(scale·q·Kᵀ)·V over nb blocks, tail the mask of the last block's keys.")
	attnConsts()
	Load(Param("out"), RAX)
	Load(Param("q"), RBX)
	Load(Param("kt"), RCX)
	Load(Param("vt"), RDX)
	Load(Param("e"), RSI)
	Load(Param("hd"), R8)
	Load(Param("nb"), R9)
	Load(Param("tail"), R10)
	KMOVW(R10L, K1)

	Comment("Pass A: scores s = scale·q·k of each block into e; Z2 = running max.")
	XORQ(R11, R11) // kt offset (bytes)
	XORQ(R12, R12) // e offset (bytes)
	MOVQ(R9, R13)  // blocks left
	VMOVAPS(Z19, Z2)
	Label("fwdA")
	VPXORD(Z0, Z0, Z0)
	VPXORD(Z1, Z1, Z1)
	MOVQ(RBX, R14)
	MOVQ(R8, R15)
	Label("fwdAd")
	for d := 0; d < 8; d++ {
		t := zreg(3 + d%4)
		VMOVUPS(mx(RCX, 64*d, R11), t)
		VFMADD231PS_BCST(Mem{Base: R14, Disp: 4 * d}, t, zreg(d%2))
	}
	ADDQ(U32(512), R11)
	ADDQ(U8(32), R14)
	SUBQ(U8(8), R15)
	JNZ(LabelRef("fwdAd"))
	VADDPS(Z1, Z0, Z0)
	VMULPS(Z18, Z0, Z0)
	CMPQ(R13, U8(1))
	JNE(LabelRef("fwdAstore"))
	attnMaskLast(Z0)
	Label("fwdAstore")
	VMOVUPS(Z0, mx(RSI, 0, R12))
	VMAXPS(Z0, Z2, Z2)
	ADDQ(U8(64), R12)
	DECQ(R13)
	JNZ(LabelRef("fwdA"))
	attnHorizontal(VMAXPS, Z2)

	Comment("Pass B: e = exp(s - max), flushed; Z6 = sum.")
	XORQ(R12, R12)
	MOVQ(R9, R13)
	VPXORD(Z6, Z6, Z6)
	Label("fwdB")
	VMOVUPS(mx(RSI, 0, R12), Z0)
	VSUBPS(Z2, Z0, Z0)
	attnExp(Z0, Z3, Z4, K2)
	VMOVUPS(Z0, mx(RSI, 0, R12))
	VADDPS(Z0, Z6, Z6)
	ADDQ(U8(64), R12)
	DECQ(R13)
	JNZ(LabelRef("fwdB"))
	attnHorizontal(VADDPS, Z6)
	VDIVPS(Z6, Z31, Z7) // 1/sum

	Comment("Pass C: out[d] = Σ e·v[d] / sum, 8 dims at a time.")
	MOVQ(R8, R15)
	SHLQ(U8(6), R15) // block stride (bytes)
	MOVQ(R8, R10)
	SHRQ(U8(3), R10) // chunks of 8 dims
	XORQ(RBX, RBX)   // chunk offset in a block (bytes)
	acc := zrange(8, 8)
	Label("fwdCchunk")
	MOVQ(RBX, R11)
	XORQ(R12, R12)
	MOVQ(R9, R13)
	zeroAll(acc)
	Label("fwdC")
	VMOVUPS(mx(RSI, 0, R12), Z0)
	for d := 0; d < 8; d++ {
		VFMADD231PS(mx(RDX, 64*d, R11), Z0, acc[d])
	}
	ADDQ(R15, R11)
	ADDQ(U8(64), R12)
	DECQ(R13)
	JNZ(LabelRef("fwdC"))
	attnReduce8(acc)
	VMULPS(Y7, Y0, Y0)
	VMOVUPS(Y0, Mem{Base: RAX})
	ADDQ(U8(32), RAX)
	ADDQ(U32(512), RBX)
	DECQ(R10)
	JNZ(LabelRef("fwdCchunk"))
	VZEROUPPER()
	RET()
}

func genAttnRowBwd() {
	TEXT("attnRowBwd512", NOSPLIT, "func(dq, q, do, kt, vt, dkt, dvt, e, dp *float32, hd, nb, tail int, scale float32)")
	Doc("attnRowBwd512 is attnRowBwdGo for hd a multiple of 8.")
	attnConsts()
	Load(Param("tail"), R10)
	KMOVW(R10L, K1)
	Load(Param("q"), RBX)
	Load(Param("do"), RCX)
	Load(Param("kt"), RDX)
	Load(Param("vt"), RSI)
	Load(Param("e"), R9)
	Load(Param("dp"), R10)
	Load(Param("hd"), R11)
	Load(Param("nb"), R12)

	Comment("Pass A: s = scale·q·k into e, dp = dO·v into dp; Z2 = running max of s.")
	XORQ(R13, R13) // kt, vt offset (bytes)
	XORQ(R14, R14) // e, dp offset (bytes)
	VMOVAPS(Z19, Z2)
	Label("bwdA")
	zeroAll([]VecPhysical{Z0, Z1, Z3, Z4})
	XORQ(R15, R15) // q, dO offset (bytes)
	MOVQ(R11, RAX) // dims left
	Label("bwdAd")
	for d := 0; d < 8; d++ {
		tk, tv := zreg(5+2*(d%2)), zreg(6+2*(d%2))
		VMOVUPS(mx(RDX, 64*d, R13), tk)
		VFMADD231PS_BCST(mx(RBX, 4*d, R15), tk, zreg(d%2))
		VMOVUPS(mx(RSI, 64*d, R13), tv)
		VFMADD231PS_BCST(mx(RCX, 4*d, R15), tv, zreg(3+d%2))
	}
	ADDQ(U32(512), R13)
	ADDQ(U8(32), R15)
	SUBQ(U8(8), RAX)
	JNZ(LabelRef("bwdAd"))
	VADDPS(Z1, Z0, Z0)
	VMULPS(Z18, Z0, Z0)
	VADDPS(Z4, Z3, Z3)
	CMPQ(R12, U8(1))
	JNE(LabelRef("bwdAstore"))
	attnMaskLast(Z0)
	Label("bwdAstore")
	VMOVUPS(Z0, mx(R9, 0, R14))
	VMOVUPS(Z3, mx(R10, 0, R14))
	VMAXPS(Z0, Z2, Z2)
	ADDQ(U8(64), R14)
	DECQ(R12)
	JNZ(LabelRef("bwdA"))
	attnHorizontal(VMAXPS, Z2)

	Comment("Pass B: e = exp(s - max), flushed; Z6 = Σe, Z7 = Σe·dp.")
	Load(Param("nb"), R12)
	XORQ(R14, R14)
	VPXORD(Z6, Z6, Z6)
	VPXORD(Z7, Z7, Z7)
	Label("bwdB")
	VMOVUPS(mx(R9, 0, R14), Z0)
	VSUBPS(Z2, Z0, Z0)
	attnExp(Z0, Z3, Z4, K2)
	VMOVUPS(Z0, mx(R9, 0, R14))
	VADDPS(Z0, Z6, Z6)
	VFMADD231PS(mx(R10, 0, R14), Z0, Z7)
	ADDQ(U8(64), R14)
	DECQ(R12)
	JNZ(LabelRef("bwdB"))
	attnHorizontal(VADDPS, Z6)
	attnHorizontal(VADDPS, Z7)
	VDIVPS(Z6, Z31, Z16) // inv = 1/Σe
	VMULPS(Z16, Z7, Z17) // Σp·dp

	Comment("Pass D, 8 dims at a time: p = e·inv, ds = scale·p·(dp − Σp·dp);",
		"dq[d] = Σ ds·k[d]; dk[d] += q[d]·ds; dv[d] += dO[d]·p.")
	Load(Param("dq"), RAX)
	Load(Param("dkt"), RDI)
	Load(Param("dvt"), R8)
	MOVQ(R11, R15)
	SHLQ(U8(6), R15) // block stride (bytes)
	SHRQ(U8(3), R11) // chunks of 8 dims
	XORQ(RSI, RSI)   // chunk offset in a block (bytes)
	acc := zrange(8, 8)
	Label("bwdDchunk")
	MOVQ(RSI, R13)
	XORQ(R14, R14)
	Load(Param("nb"), R12)
	zeroAll(acc)
	Label("bwdD")
	VMOVUPS(mx(R9, 0, R14), Z0)
	VMULPS(Z16, Z0, Z0)
	VMOVUPS(mx(R10, 0, R14), Z1)
	VSUBPS(Z17, Z1, Z1)
	VMULPS(Z0, Z1, Z1)
	VMULPS(Z18, Z1, Z1)
	for d := 0; d < 8; d++ {
		tk, tv := zreg(2+2*(d%2)), zreg(3+2*(d%2))
		VFMADD231PS(mx(RDX, 64*d, R13), Z1, acc[d])
		VMOVUPS(mx(RDI, 64*d, R13), tk)
		VFMADD231PS_BCST(Mem{Base: RBX, Disp: 4 * d}, Z1, tk)
		VMOVUPS(tk, mx(RDI, 64*d, R13))
		VMOVUPS(mx(R8, 64*d, R13), tv)
		VFMADD231PS_BCST(Mem{Base: RCX, Disp: 4 * d}, Z0, tv)
		VMOVUPS(tv, mx(R8, 64*d, R13))
	}
	ADDQ(R15, R13)
	ADDQ(U8(64), R14)
	DECQ(R12)
	JNZ(LabelRef("bwdD"))
	attnReduce8(acc)
	VMOVUPS(Y0, Mem{Base: RAX})
	ADDQ(U8(32), RAX)
	ADDQ(U8(32), RBX)
	ADDQ(U8(32), RCX)
	ADDQ(U32(512), RSI)
	DECQ(R11)
	JNZ(LabelRef("bwdDchunk"))
	VZEROUPPER()
	RET()
}

func genAttnFlush() {
	TEXT("attnFlush512", NOSPLIT, "func(p *float32, n int)")
	Doc("attnFlush512 sets p[i] = 0 where p[i] < 2⁻¹⁰⁰ (p ≥ 0): flushTinyGo.")
	Load(Param("p"), RAX)
	Load(Param("n"), RCX)
	MOVL(U32(0x0d800000), EDX) // 2^-100
	VPBROADCASTD(EDX, Z1)
	Label("flushLoop")
	CMPQ(RCX, U8(16))
	JL(LabelRef("flushTail"))
	VMOVUPS(Mem{Base: RAX}, Z0)
	VCMPPS(U8(0x05), Z1, Z0, K1) // keep p ≥ 2^-100
	VMOVAPS_Z(Z0, K1, Z0)
	VMOVUPS(Z0, Mem{Base: RAX})
	ADDQ(U8(64), RAX)
	SUBQ(U8(16), RCX)
	JMP(LabelRef("flushLoop"))
	Label("flushTail")
	TESTQ(RCX, RCX)
	JZ(LabelRef("flushDone"))
	MOVL(U32(1), EDX)
	SHLL(CL, EDX)
	DECL(EDX)
	KMOVW(EDX, K2)
	VMOVUPS_Z(Mem{Base: RAX}, K2, Z0)
	VCMPPS(U8(0x05), Z1, Z0, K2, K1)
	VMOVAPS_Z(Z0, K1, Z0)
	VMOVUPS(Z0, K2, Mem{Base: RAX})
	Label("flushDone")
	VZEROUPPER()
	RET()
}

// The paired kernels: two heads of one GQA group (adjacent, so head 2's q, dO, out and dq rows
// sit hd floats after head 1's) for the same query row, sharing every load of K, V, dKᵀ and dVᵀ.
// The scratch row holds, per block of keys, [e1 | dp1 | e2 | dp2] (16 floats each; the forward
// uses e1 and e2 only, at the same offsets).

func genAttnRowFwd2() {
	TEXT("attnRowFwd2_512", NOSPLIT, "func(out, q, kt, vt, e *float32, hd, nb, tail int, scale float32)")
	Doc("attnRowFwd2_512 is attnRowFwd2Go for hd a multiple of 8.")
	attnConsts()
	Load(Param("q"), RBX)
	Load(Param("kt"), RCX)
	Load(Param("vt"), RDX)
	Load(Param("e"), RSI)
	Load(Param("hd"), R8)
	Load(Param("nb"), R9)
	Load(Param("tail"), R10)
	KMOVW(R10L, K1)

	Comment("Pass A: s1, s2 into e1, e2; Z2, Z9 = running maxima.")
	XORQ(R11, R11) // kt offset (bytes)
	XORQ(R12, R12) // scratch offset (bytes)
	MOVQ(R9, R13)  // blocks left
	VMOVAPS(Z19, Z2)
	VMOVAPS(Z19, Z9)
	Label("fwd2A")
	zeroAll([]VecPhysical{Z0, Z1, Z6, Z7})
	MOVQ(RBX, R14)
	MOVQ(R8, R15)
	Label("fwd2Ad")
	for d := 0; d < 8; d++ {
		t := zreg(3 + d%3)
		VMOVUPS(mx(RCX, 64*d, R11), t)
		VFMADD231PS_BCST(Mem{Base: R14, Disp: 4 * d}, t, zreg(d%2))
		VFMADD231PS_BCST(Mem{Base: R14, Disp: 4 * d, Index: R8, Scale: 4}, t, zreg(6+d%2))
	}
	ADDQ(U32(512), R11)
	ADDQ(U8(32), R14)
	SUBQ(U8(8), R15)
	JNZ(LabelRef("fwd2Ad"))
	VADDPS(Z1, Z0, Z0)
	VMULPS(Z18, Z0, Z0)
	VADDPS(Z7, Z6, Z6)
	VMULPS(Z18, Z6, Z6)
	CMPQ(R13, U8(1))
	JNE(LabelRef("fwd2Astore"))
	attnMaskLast(Z0)
	attnMaskLast(Z6)
	Label("fwd2Astore")
	VMOVUPS(Z0, mx(RSI, 0, R12))
	VMOVUPS(Z6, mx(RSI, 128, R12))
	VMAXPS(Z0, Z2, Z2)
	VMAXPS(Z6, Z9, Z9)
	ADDQ(U32(256), R12)
	DECQ(R13)
	JNZ(LabelRef("fwd2A"))
	attnHorizontal(VMAXPS, Z2)
	attnHorizontal(VMAXPS, Z9)

	Comment("Pass B: e = exp(s - max), flushed; Z10, Z11 = sums.")
	XORQ(R12, R12)
	MOVQ(R9, R13)
	VPXORD(Z10, Z10, Z10)
	VPXORD(Z11, Z11, Z11)
	Label("fwd2B")
	VMOVUPS(mx(RSI, 0, R12), Z0)
	VSUBPS(Z2, Z0, Z0)
	VMOVUPS(mx(RSI, 128, R12), Z6)
	VSUBPS(Z9, Z6, Z6)
	attnExp(Z0, Z3, Z4, K2)
	attnExp(Z6, Z7, Z8, K3)
	VMOVUPS(Z0, mx(RSI, 0, R12))
	VMOVUPS(Z6, mx(RSI, 128, R12))
	VADDPS(Z0, Z10, Z10)
	VADDPS(Z6, Z11, Z11)
	ADDQ(U32(256), R12)
	DECQ(R13)
	JNZ(LabelRef("fwd2B"))
	attnHorizontal(VADDPS, Z10)
	attnHorizontal(VADDPS, Z11)
	VDIVPS(Z10, Z31, Z6) // 1/sum1
	VDIVPS(Z11, Z31, Z7) // 1/sum2

	Comment("Pass C: out = Σ e·v / sum for both heads, 8 dims at a time.")
	Load(Param("out"), RAX)
	MOVQ(R8, R15)
	SHLQ(U8(6), R15) // block stride (bytes)
	MOVQ(R8, R10)
	SHRQ(U8(3), R10) // chunks of 8 dims
	XORQ(RBX, RBX)   // chunk offset in a block (bytes)
	acc1, acc2 := zrange(8, 8), zrange(16, 8)
	Label("fwd2Cchunk")
	MOVQ(RBX, R11)
	XORQ(R12, R12)
	MOVQ(R9, R13)
	zeroAll(acc1)
	zeroAll(acc2)
	Label("fwd2C")
	VMOVUPS(mx(RSI, 0, R12), Z0)
	VMOVUPS(mx(RSI, 128, R12), Z1)
	for d := 0; d < 8; d++ {
		t := zreg(2 + d%4)
		VMOVUPS(mx(RDX, 64*d, R11), t)
		VFMADD231PS(t, Z0, acc1[d])
		VFMADD231PS(t, Z1, acc2[d])
	}
	ADDQ(R15, R11)
	ADDQ(U32(256), R12)
	DECQ(R13)
	JNZ(LabelRef("fwd2C"))
	attnReduce8(acc1)
	VMULPS(Y6, Y0, Y0)
	VMOVUPS(Y0, Mem{Base: RAX})
	attnReduce8(acc2)
	VMULPS(Y7, Y0, Y0)
	VMOVUPS(Y0, Mem{Base: RAX, Index: R8, Scale: 4})
	ADDQ(U8(32), RAX)
	ADDQ(U32(512), RBX)
	DECQ(R10)
	JNZ(LabelRef("fwd2Cchunk"))
	VZEROUPPER()
	RET()
}

func genAttnRowBwd2() {
	TEXT("attnRowBwd2_512", NOSPLIT, "func(dq, q, do, kt, vt, dkt, dvt, e *float32, hd, nb, tail int, scale float32)")
	Doc("attnRowBwd2_512 is attnRowBwd2Go for hd a multiple of 8.")
	attnConsts()
	Load(Param("tail"), R10)
	KMOVW(R10L, K1)
	Load(Param("q"), RBX)
	Load(Param("do"), RCX)
	Load(Param("kt"), RDX)
	Load(Param("vt"), RSI)
	Load(Param("e"), R9)
	Load(Param("hd"), R8)
	Load(Param("nb"), R12)

	Comment("Pass A: s1, s2 (scaled) and dp1, dp2 into the scratch; Z2, Z9 = running maxima of s.")
	XORQ(R13, R13) // kt, vt offset (bytes)
	XORQ(R14, R14) // scratch offset (bytes)
	VMOVAPS(Z19, Z2)
	VMOVAPS(Z19, Z9)
	Label("bwd2A")
	zeroAll([]VecPhysical{Z0, Z1, Z3, Z4})
	MOVQ(RBX, R10) // q row (head 1; head 2 at +hd)
	MOVQ(RCX, R11) // dO row
	MOVQ(R8, RAX)  // dims left
	Label("bwd2Ad")
	for d := 0; d < 8; d++ {
		tk, tv := zreg(5+2*(d%2)), zreg(6+2*(d%2))
		VMOVUPS(mx(RDX, 64*d, R13), tk)
		VMOVUPS(mx(RSI, 64*d, R13), tv)
		VFMADD231PS_BCST(Mem{Base: R10, Disp: 4 * d}, tk, Z0)
		VFMADD231PS_BCST(Mem{Base: R10, Disp: 4 * d, Index: R8, Scale: 4}, tk, Z1)
		VFMADD231PS_BCST(Mem{Base: R11, Disp: 4 * d}, tv, Z3)
		VFMADD231PS_BCST(Mem{Base: R11, Disp: 4 * d, Index: R8, Scale: 4}, tv, Z4)
	}
	ADDQ(U32(512), R13)
	ADDQ(U8(32), R10)
	ADDQ(U8(32), R11)
	SUBQ(U8(8), RAX)
	JNZ(LabelRef("bwd2Ad"))
	VMULPS(Z18, Z0, Z0)
	VMULPS(Z18, Z1, Z1)
	CMPQ(R12, U8(1))
	JNE(LabelRef("bwd2Astore"))
	attnMaskLast(Z0)
	attnMaskLast(Z1)
	Label("bwd2Astore")
	VMOVUPS(Z0, mx(R9, 0, R14))
	VMOVUPS(Z3, mx(R9, 64, R14))
	VMOVUPS(Z1, mx(R9, 128, R14))
	VMOVUPS(Z4, mx(R9, 192, R14))
	VMAXPS(Z0, Z2, Z2)
	VMAXPS(Z1, Z9, Z9)
	ADDQ(U32(256), R14)
	DECQ(R12)
	JNZ(LabelRef("bwd2A"))
	attnHorizontal(VMAXPS, Z2)
	attnHorizontal(VMAXPS, Z9)

	Comment("Pass B: e = exp(s - max), flushed; Z10, Z11 = Σe1, Σe1·dp1; Z12, Z13 = Σe2, Σe2·dp2.")
	Load(Param("nb"), R12)
	XORQ(R14, R14)
	zeroAll([]VecPhysical{Z10, Z11, Z12, Z13})
	Label("bwd2B")
	VMOVUPS(mx(R9, 0, R14), Z0)
	VSUBPS(Z2, Z0, Z0)
	VMOVUPS(mx(R9, 128, R14), Z6)
	VSUBPS(Z9, Z6, Z6)
	attnExp(Z0, Z3, Z4, K2)
	attnExp(Z6, Z7, Z8, K3)
	VMOVUPS(Z0, mx(R9, 0, R14))
	VMOVUPS(Z6, mx(R9, 128, R14))
	VADDPS(Z0, Z10, Z10)
	VFMADD231PS(mx(R9, 64, R14), Z0, Z11)
	VADDPS(Z6, Z12, Z12)
	VFMADD231PS(mx(R9, 192, R14), Z6, Z13)
	ADDQ(U32(256), R14)
	DECQ(R12)
	JNZ(LabelRef("bwd2B"))
	for _, z := range []VecPhysical{Z10, Z11, Z12, Z13} {
		attnHorizontal(VADDPS, z)
	}
	VDIVPS(Z10, Z31, Z24) // inv1 = 1/Σe1
	VMULPS(Z24, Z11, Z25) // Σp1·dp1
	VDIVPS(Z12, Z31, Z26) // inv2
	VMULPS(Z26, Z13, Z27) // Σp2·dp2

	Comment("Pass D, 8 dims at a time, both heads: p = e·inv, ds = scale·p·(dp − Σp·dp);",
		"dq[d] = Σ ds·k[d]; dk[d] += q1[d]·ds1 + q2[d]·ds2; dv[d] += dO1[d]·p1 + dO2[d]·p2.")
	Load(Param("dq"), RAX)
	Load(Param("dkt"), RDI)
	Load(Param("dvt"), R10)
	MOVQ(R8, R15)
	SHLQ(U8(6), R15) // block stride (bytes)
	MOVQ(R8, R11)
	SHRQ(U8(3), R11) // chunks of 8 dims
	XORQ(RSI, RSI)   // chunk offset in a block (bytes)
	// Z18 (scale) and Z24..Z27 stay live: the second head's accumulators skip them.
	acc1, acc2 := zrange(8, 8), zrange(16, 8, 18, 24, 25, 26, 27)
	Label("bwd2Dchunk")
	MOVQ(RSI, R13)
	XORQ(R14, R14)
	Load(Param("nb"), R12)
	zeroAll(acc1)
	zeroAll(acc2)
	Label("bwd2D")
	VMOVUPS(mx(R9, 0, R14), Z0)
	VMULPS(Z24, Z0, Z0) // p1
	VMOVUPS(mx(R9, 64, R14), Z1)
	VSUBPS(Z25, Z1, Z1)
	VMULPS(Z0, Z1, Z1)
	VMULPS(Z18, Z1, Z1) // ds1
	VMOVUPS(mx(R9, 128, R14), Z2)
	VMULPS(Z26, Z2, Z2) // p2
	VMOVUPS(mx(R9, 192, R14), Z3)
	VSUBPS(Z27, Z3, Z3)
	VMULPS(Z2, Z3, Z3)
	VMULPS(Z18, Z3, Z3) // ds2
	for d := 0; d < 8; d++ {
		off, qoff := 64*d, 4*d
		VMOVUPS(mx(RDX, off, R13), Z4)
		VFMADD231PS(Z4, Z1, acc1[d])
		VFMADD231PS(Z4, Z3, acc2[d])
		VMOVUPS(mx(RDI, off, R13), Z5)
		VFMADD231PS_BCST(Mem{Base: RBX, Disp: qoff}, Z1, Z5)
		VFMADD231PS_BCST(Mem{Base: RBX, Disp: qoff, Index: R8, Scale: 4}, Z3, Z5)
		VMOVUPS(Z5, mx(RDI, off, R13))
		VMOVUPS(mx(R10, off, R13), Z6)
		VFMADD231PS_BCST(Mem{Base: RCX, Disp: qoff}, Z0, Z6)
		VFMADD231PS_BCST(Mem{Base: RCX, Disp: qoff, Index: R8, Scale: 4}, Z2, Z6)
		VMOVUPS(Z6, mx(R10, off, R13))
	}
	ADDQ(R15, R13)
	ADDQ(U32(256), R14)
	DECQ(R12)
	JNZ(LabelRef("bwd2D"))
	attnReduce8(acc1)
	VMOVUPS(Y0, Mem{Base: RAX})
	attnReduce8(acc2)
	VMOVUPS(Y0, Mem{Base: RAX, Index: R8, Scale: 4})
	ADDQ(U8(32), RAX)
	ADDQ(U8(32), RBX)
	ADDQ(U8(32), RCX)
	ADDQ(U32(512), RSI)
	DECQ(R11)
	JNZ(LabelRef("bwd2Dchunk"))
	VZEROUPPER()
	RET()
}
