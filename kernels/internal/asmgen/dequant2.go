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
