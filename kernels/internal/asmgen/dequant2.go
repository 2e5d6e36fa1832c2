package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// AVX2 decoders of the 2- and 3-bit k-quants (one 256-value super-block per call). The scales
// are computed in Go, in float32 as ggml does; the assembly does the per-value arithmetic with
// the same single roundings as the Go twins (kernels/quant_k23.go).

func genDequant2() {
	genDequantQ2KBlock2()
	genDequantQ3KBlock2()
	genDequantLegacy2()
}

// bcastU32Y broadcasts a 32-bit pattern into a new ymm.
func bcastU32Y(v uint32) VecVirtual {
	y := YMM()
	t := GP32()
	MOVL(U32(v), t)
	x := XMM()
	VMOVD(t, x)
	VPBROADCASTD(x, y)
	return y
}

// dequantQ2KBlock2 converts the 256 quants q (64 bytes) of one Q2_K block: dm holds the 16
// sub-block scales d·sc then the 16 mins dmin·m. Sub-block s (16 values) reads bytes
// 32(s/8) + 16(s%2) .. +15 at bit 2((s%8)/2); value = float32(dm[s]·q) − dm[16+s].
func genDequantQ2KBlock2() {
	TEXT("dequantQ2KBlock2", NOSPLIT, "func(dst *float32, q *byte, dm *[32]float32)")
	dst, q, dm := ld("dst"), ld("q"), ld("dm")
	three := bcastU32Y(3)
	for s := 0; s < 16; s++ {
		n, j, o := s/8, (s%8)/2, 16*(s%2)
		dl, ml := YMM(), YMM()
		VBROADCASTSS(mem(dm, 4*s), dl)
		VBROADCASTSS(mem(dm, 4*(16+s)), ml)
		for h := 0; h < 2; h++ {
			v := YMM()
			VPMOVZXBD(mem(q, 32*n+o+8*h), v)
			if j > 0 {
				VPSRLD(U8(2*j), v, v)
			}
			VPAND(three, v, v)
			VCVTDQ2PS(v, v)
			VMULPS(dl, v, v)
			VSUBPS(ml, v, v)
			VMOVUPS(v, mem(dst, 4*(16*s+8*h)))
		}
	}
	VZEROUPPER()
	RET()
}

// dequantQ3KBlock2 converts one Q3_K block's 256 quants (q: 64 bytes of low bits laid out as
// Q2_K's, hm: the 32 bytes of high bits) with its 16 sub-block scales d·(sc−32) in dl: value =
// dl[s]·(low − 4·[high bit clear]), the high bit of value l of sub-block s being bit
// 4(s/8) + (s%8)/2 of hm[16(s%2) + l].
func genDequantQ3KBlock2() {
	TEXT("dequantQ3KBlock2", NOSPLIT, "func(dst *float32, q *byte, hm *byte, dl *[16]float32)")
	dst, q, hm, dlp := ld("dst"), ld("q"), ld("hm"), ld("dl")
	three, four := bcastU32Y(3), bcastU32Y(4)
	zero := YMM()
	VPXOR(zero, zero, zero)
	for s := 0; s < 16; s++ {
		n, j, o := s/8, (s%8)/2, 16*(s%2)
		d := YMM()
		VBROADCASTSS(mem(dlp, 4*s), d)
		bit := bcastU32Y(1 << uint(4*n+j))
		for h := 0; h < 2; h++ {
			v, hb := YMM(), YMM()
			VPMOVZXBD(mem(q, 32*n+o+8*h), v)
			if j > 0 {
				VPSRLD(U8(2*j), v, v)
			}
			VPAND(three, v, v)
			VPMOVZXBD(mem(hm, o+8*h), hb)
			VPAND(bit, hb, hb)
			VPCMPEQD(zero, hb, hb) // all ones where the high bit is clear
			VPAND(four, hb, hb)
			VPSUBD(hb, v, v)
			VCVTDQ2PS(v, v)
			VMULPS(d, v, v)
			VMOVUPS(v, mem(dst, 4*(16*s+8*h)))
		}
	}
	VZEROUPPER()
	RET()
}

// AVX2 decoders of the 32-value legacy types Q4_1, Q5_0 and Q5_1, nb blocks per call (the row
// decode of --low-memory and of SgemmQ's packing). The F16 block scales are converted in the
// assembly (f16Pair): the same bits as kernels.F16ToF32, signalling NaNs kept. The values are
// formed as the Go twins (kernels/quant.go) do: float32(q·d) + m, or float32(q − 16)·d, each
// operation rounded on its own (no FMA).

// q5Shifts holds the per-lane shift counts 0..31 that move bit j of a Q5 block's qh into bit 0
// of lane j (four vectors of eight).
var q5Shifts Mem

func genDequantLegacy2() {
	q5Shifts = GLOBL("q5shifts", RODATA|NOPTR)
	for i := 0; i < 32; i++ {
		DATA(4*i, U32(uint32(i)))
	}
	genDequantQ41Q51(false)
	genDequantQ50()
	genDequantQ41Q51(true)
}

// f16Consts are the constants of f16Pair, in ymm registers (used through their xmm halves).
type f16Consts struct{ sign, abs, expMask, infBits, scale VecVirtual }

func newF16Consts() f16Consts {
	return f16Consts{sign: bcastU32Y(0x8000), abs: bcastU32Y(0x7FFF), expMask: bcastU32Y(0x7C00),
		infBits: bcastU32Y(0x7F800000), scale: bcastU32Y(0x77800000)} // 2^112
}

// f16Pair converts the binary16 values in the low 16 bits of each dword lane of x (in place):
// o = (h & 0x7FFF) << 13 read as a float32 and multiplied by 2^112 is exact for normal,
// subnormal and zero inputs (the exponent rebias); lanes whose exponent is all ones become
// 0x7F800000 | mantissa << 13 (Inf, and NaNs with their payload, signalling or not); then the
// sign is set.
func (c f16Consts) f16Pair(y VecVirtual) {
	x := y.AsX()
	sign, o, e, sp := XMM(), XMM(), XMM(), XMM()
	VPAND(c.sign.AsX(), x, sign)
	VPSLLD(U8(16), sign, sign)
	VPAND(c.abs.AsX(), x, o)
	VPSLLD(U8(13), o, o)
	VPAND(c.expMask.AsX(), x, e)
	VPCMPEQD(c.expMask.AsX(), e, e)
	VPOR(c.infBits.AsX(), o, sp)
	VMULPS(c.scale.AsX(), o, o)
	VBLENDVPS(e, sp, o, o) // o = e ? sp : o
	VPOR(sign, o, x)
}

// genDequantQ41Q51 emits dequantQ4_1Blocks2 (q5 false) or dequantQ5_1Blocks2: nb blocks of 20
// (d, m, 16 bytes of nibbles) or 24 bytes (d, m, qh, nibbles). Value j = float32(q_j·d) + m,
// q_j the low nibble of byte j (j < 16) or the high nibble of byte j − 16, plus bit j of qh
// times 16 for Q5_1.
func genDequantQ41Q51(q5 bool) {
	name, bsize, qoff := "dequantQ4_1Blocks2", 20, 4
	if q5 {
		name, bsize, qoff = "dequantQ5_1Blocks2", 24, 8
	}
	TEXT(name, NOSPLIT, "func(dst *float32, src *byte, nb int)")
	dst, src, nb := ld("dst"), ld("src"), ld("nb")
	fc := newF16Consts()
	fifteen, one := bcastU32Y(15), bcastU32Y(1)
	Label(name + "_loop")
	TESTQ(nb, nb)
	JZ(LabelRef(name + "_done"))
	dm := YMM()
	VMOVD(mem(src, 0), dm.AsX())
	VPMOVZXWD(dm.AsX(), dm.AsX())
	fc.f16Pair(dm)
	d, m := YMM(), YMM()
	VBROADCASTSS(dm.AsX(), d)
	VPSHUFD(U8(0x55), dm.AsX(), dm.AsX())
	VBROADCASTSS(dm.AsX(), m)
	var qh VecVirtual
	if q5 {
		qh = YMM()
		VPBROADCASTD(mem(src, 4), qh)
	}
	for h := 0; h < 2; h++ {
		v, lo := YMM(), YMM()
		VPMOVZXBD(mem(src, qoff+8*h), v)
		VPAND(fifteen, v, lo)
		VPSRLD(U8(4), v, v)
		for half, q := range []VecVirtual{lo, v} {
			j0 := 16*half + 8*h // the first value of this vector
			if q5 {
				hb := YMM()
				VPSRLVD(q5Shifts.Offset(4*j0), qh, hb)
				VPAND(one, hb, hb)
				VPSLLD(U8(4), hb, hb)
				VPOR(hb, q, q)
			}
			VCVTDQ2PS(q, q)
			VMULPS(d, q, q)
			VADDPS(m, q, q)
			VMOVUPS(q, mem(dst, 4*j0))
		}
	}
	ADDQ(U32(bsize), src)
	ADDQ(U32(4*32), dst)
	DECQ(nb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// genDequantQ50 emits dequantQ5_0Blocks2: nb blocks of 22 bytes (d, qh, 16 bytes of nibbles);
// value j = float32(q_j − 16)·d with q_j = nibble | (bit j of qh) << 4.
func genDequantQ50() {
	name := "dequantQ5_0Blocks2"
	TEXT(name, NOSPLIT, "func(dst *float32, src *byte, nb int)")
	dst, src, nb := ld("dst"), ld("src"), ld("nb")
	fc := newF16Consts()
	fifteen, one, sixteen := bcastU32Y(15), bcastU32Y(1), bcastU32Y(16)
	Label(name + "_loop")
	TESTQ(nb, nb)
	JZ(LabelRef(name + "_done"))
	t := GP32()
	MOVWLZX(mem(src, 0), t)
	dv := YMM()
	VMOVD(t, dv.AsX())
	fc.f16Pair(dv)
	d := YMM()
	VBROADCASTSS(dv.AsX(), d)
	qh := YMM()
	VPBROADCASTD(mem(src, 2), qh)
	for h := 0; h < 2; h++ {
		v, lo := YMM(), YMM()
		VPMOVZXBD(mem(src, 6+8*h), v)
		VPAND(fifteen, v, lo)
		VPSRLD(U8(4), v, v)
		for half, q := range []VecVirtual{lo, v} {
			j0 := 16*half + 8*h
			hb := YMM()
			VPSRLVD(q5Shifts.Offset(4*j0), qh, hb)
			VPAND(one, hb, hb)
			VPSLLD(U8(4), hb, hb)
			VPOR(hb, q, q)
			VPSUBD(sixteen, q, q)
			VCVTDQ2PS(q, q)
			VMULPS(d, q, q)
			VMOVUPS(q, mem(dst, 4*j0))
		}
	}
	ADDQ(U32(22), src)
	ADDQ(U32(4*32), dst)
	DECQ(nb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
