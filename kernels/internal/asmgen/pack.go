package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// ---- SGEMM packing ----

// transpose8_512 writes dst[c*ds+i] = src[i*ld+c] for i < 8 and c < n, n a multiple of 16
// (ds and ld in elements): eight rows of a matrix transposed into groups of eight, the gather
// step of SGEMM packing (A panels of an untransposed A, B panels of a transposed B). Each step
// loads an 8×16 block as eight zmm and transposes it with 32 in-lane and 128-bit-lane shuffles
// (unpack, shufps, then two rounds of VSHUFF32X4), then stores the 16 columns as 32-byte
// halves.
func genTranspose8() {
	TEXT("transpose8_512", NOSPLIT, "func(dst *float32, ds int, src *float32, ld, n int)")
	dst := ld("dst")
	ds := ld("ds")
	src := ld("src")
	lds := ld("ld")
	n := ld("n")
	SHLQ(U8(2), ds)
	SHLQ(U8(2), lds)
	ld3 := GP64()
	LEAQ(Mem{Base: lds, Index: lds, Scale: 2}, ld3)
	src4 := GP64()
	LEAQ(Mem{Base: src, Index: lds, Scale: 4}, src4)
	Label("t8_loop")
	CMPQ(n, U8(16))
	JL(LabelRef("t8_done"))
	rows := make([]VecVirtual, 8)
	for i := range rows {
		rows[i] = ZMM()
	}
	addr := func(i int) Mem {
		base := src
		if i >= 4 {
			base = src4
		}
		switch i % 4 {
		case 0:
			return Mem{Base: base}
		case 1:
			return Mem{Base: base, Index: lds, Scale: 1}
		case 2:
			return Mem{Base: base, Index: lds, Scale: 2}
		}
		return Mem{Base: base, Index: ld3, Scale: 1}
	}
	for i := range rows {
		VMOVUPS(addr(i), rows[i])
	}
	// Stage 1: t = interleave of row pairs, per 128-bit lane L (columns 4L..4L+3).
	t := make([]VecVirtual, 8)
	for h := 0; h < 2; h++ { // rows 0-3, rows 4-7
		r := rows[4*h : 4*h+4]
		for j := 0; j < 2; j++ {
			lo, hi := ZMM(), ZMM()
			VUNPCKLPS(r[2*j+1], r[2*j], lo) // r0c0 r1c0 r0c1 r1c1
			VUNPCKHPS(r[2*j+1], r[2*j], hi) // r0c2 r1c2 r0c3 r1c3
			t[4*h+2*j], t[4*h+2*j+1] = lo, hi
		}
	}
	// Stage 2: u[h][q], lane L = rows 4h..4h+3 of column 4L+q.
	var u [2][4]VecVirtual
	for h := 0; h < 2; h++ {
		t0, t1, t2, t3 := t[4*h], t[4*h+1], t[4*h+2], t[4*h+3]
		for q, sp := range [][3]Op{{U8(0x44), t2, t0}, {U8(0xEE), t2, t0}, {U8(0x44), t3, t1}, {U8(0xEE), t3, t1}} {
			z := ZMM()
			VSHUFPS(sp[0], sp[1], sp[2], z)
			u[h][q] = z
		}
	}
	// Stage 3: a[q] = (u0q.L0, u0q.L1, u1q.L0, u1q.L1), b[q] = the same for lanes 2, 3.
	var a, b [4]VecVirtual
	for q := 0; q < 4; q++ {
		a[q], b[q] = ZMM(), ZMM()
		VSHUFF32X4(U8(0x44), u[1][q], u[0][q], a[q])
		VSHUFF32X4(U8(0xEE), u[1][q], u[0][q], b[q])
	}
	// Stage 4: columns (c, c+1) in one zmm: rows 0-7 of c, then rows 0-7 of c+1.
	d := GP64()
	MOVQ(dst, d)
	store := func(z VecVirtual) {
		VMOVUPS(z.AsY(), Mem{Base: d})
		ADDQ(ds, d)
		y := YMM()
		VEXTRACTF64X4(U8(1), z, y)
		VMOVUPS(y, Mem{Base: d})
		ADDQ(ds, d)
	}
	for _, half := range [][4]VecVirtual{a, b} {
		for _, imm := range []uint8{0x88, 0xDD} { // lane L = 0 (resp. 2), then 1 (resp. 3)
			for _, pr := range [][2]int{{0, 1}, {2, 3}} {
				z := ZMM()
				VSHUFF32X4(U8(imm), half[pr[1]], half[pr[0]], z)
				store(z)
			}
		}
	}
	MOVQ(d, dst)
	ADDQ(U8(64), src)
	ADDQ(U8(64), src4)
	SUBQ(U8(16), n)
	JMP(LabelRef("t8_loop"))
	Label("t8_done")
	VZEROUPPER()
	RET()
}

// ---- SGEMM ----

// Micro-kernel tile: gemmMR rows × gemmNR columns (3 zmm per row): 24 accumulators, 3 B vectors
// and 2 broadcast registers of the 32 zmm.
const (
	gemmMR = 8
	gemmNR = 48
)

// sgemmKernel512 computes one full 8×48 tile: C = alpha*(Apanel·Bpanel) + beta*C, beta == 0
// not reading C. a holds kc steps of 8 floats, b kc steps of 48 floats; ldc is in elements.
func genSgemmKernel() {
	TEXT("sgemmKernel512", NOSPLIT, "func(kc int, a, b, c *float32, ldc int, alpha, beta float32)")
	kc := ld("kc")
	a := ld("a")
	b := ld("b")
	// Prefetch the C tile (8 rows of 192 bytes, 4 lines when unaligned): its loads and
	// stores come after the kc loop, by which time the lines are in L1.
	{
		pc := ld("c")
		pl := ld("ldc")
		SHLQ(U8(2), pl)
		for i := 0; i < gemmMR; i++ {
			for _, off := range []int{0, 64, 128, 191} {
				PREFETCHT0(Mem{Base: pc, Disp: off})
			}
			if i < gemmMR-1 {
				ADDQ(pl, pc)
			}
		}
	}
	acc := make([][3]VecPhysical, gemmMR)
	for i := 0; i < gemmMR; i++ {
		for j := 0; j < 3; j++ {
			z := zreg(3*i + j)
			acc[i][j] = z
			VPXORD(z, z, z)
		}
	}
	bv := [3]VecPhysical{Z24, Z25, Z26}
	bc := [2]VecPhysical{Z27, Z28}
	step := func(koff int) {
		for j := 0; j < 3; j++ {
			VMOVUPS(Mem{Base: b, Disp: koff*gemmNR*4 + 64*j}, bv[j])
		}
		for i := 0; i < gemmMR; i++ {
			r := bc[i%2]
			VBROADCASTSS(Mem{Base: a, Disp: koff*gemmMR*4 + 4*i}, r)
			for j := 0; j < 3; j++ {
				VFMADD231PS(bv[j], r, acc[i][j])
			}
		}
	}
	Label("gk_loop4")
	CMPQ(kc, U8(4))
	JL(LabelRef("gk_loop1"))
	PREFETCHT0(Mem{Base: a, Disp: 4 * gemmMR * 4 * 4})
	for u := 0; u < 4; u++ {
		step(u)
	}
	ADDQ(U32(4*gemmMR*4), a)
	ADDQ(U32(4*gemmNR*4), b)
	SUBQ(U8(4), kc)
	JMP(LabelRef("gk_loop4"))
	Label("gk_loop1")
	TESTQ(kc, kc)
	JZ(LabelRef("gk_store"))
	step(0)
	ADDQ(U32(gemmMR*4), a)
	ADDQ(U32(gemmNR*4), b)
	DECQ(kc)
	JMP(LabelRef("gk_loop1"))

	Label("gk_store")
	c := ld("c")
	ldc := ld("ldc")
	SHLQ(U8(2), ldc)
	alpha := Z29
	beta := Z30
	VBROADCASTSS(paramAddr("alpha"), alpha)
	VBROADCASTSS(paramAddr("beta"), beta)
	bb := GP32()
	MOVL(paramAddr("beta"), bb)
	ANDL(U32(0x7fffffff), bb)
	JZ(LabelRef("gk_beta0"))
	for i := 0; i < gemmMR; i++ {
		for j := 0; j < 3; j++ {
			VMULPS(alpha, acc[i][j], acc[i][j])
			VFMADD231PS(Mem{Base: c, Disp: 64 * j}, beta, acc[i][j])
			VMOVUPS(acc[i][j], Mem{Base: c, Disp: 64 * j})
		}
		if i < gemmMR-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
	Label("gk_beta0")
	for i := 0; i < gemmMR; i++ {
		for j := 0; j < 3; j++ {
			VMULPS(alpha, acc[i][j], acc[i][j])
			VMOVUPS(acc[i][j], Mem{Base: c, Disp: 64 * j})
		}
		if i < gemmMR-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// packRows48_512 copies rows of an untransposed B into 48-wide panels:
// dst[c*48*kc + p*48 + j] = src[p*ld + c*48 + j] for p < rows, c < panels, j < 48 (kc, ld in
// elements). Each source row is read once, sequentially; the panels sit in L2.
func genPackRows48() {
	TEXT("packRows48_512", NOSPLIT, "func(dst *float32, kc int, src *float32, ld, rows, panels int)")
	dst := ld("dst")
	kc := ld("kc")
	src := ld("src")
	lds := ld("ld")
	rows := ld("rows")
	panels := ld("panels")
	pstride := GP64() // bytes between panels: 192*kc
	IMUL3Q(U32(192), kc, pstride)
	SHLQ(U8(2), lds)
	Label("pr48_row")
	TESTQ(rows, rows)
	JZ(LabelRef("pr48_done"))
	sp, dp, c := GP64(), GP64(), GP64()
	MOVQ(src, sp)
	MOVQ(dst, dp)
	MOVQ(panels, c)
	Label("pr48_panel")
	TESTQ(c, c)
	JZ(LabelRef("pr48_next"))
	for j := 0; j < 3; j++ {
		z := ZMM()
		VMOVUPS(Mem{Base: sp, Disp: 64 * j}, z)
		VMOVUPS(z, Mem{Base: dp, Disp: 64 * j})
	}
	ADDQ(U32(192), sp)
	ADDQ(pstride, dp)
	DECQ(c)
	JMP(LabelRef("pr48_panel"))
	Label("pr48_next")
	ADDQ(lds, src)
	ADDQ(U32(192), dst)
	DECQ(rows)
	JMP(LabelRef("pr48_row"))
	Label("pr48_done")
	VZEROUPPER()
	RET()
}
