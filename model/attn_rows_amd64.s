#include "textflag.h"

// AVX-512 row kernels of the small-head attention (attn_rows.go documents the layout and the
// arithmetic; attnRowFwdGo and attnRowBwdGo are the pure-Go twins). K and V are blocked:
// block b of 16 keys holds hd rows of 16 floats, row d at ((b*hd)+d)*16. hd is a multiple of 8.

// Lane order of the 8 sums that REDUCE8 leaves in Z0 (see there).
DATA attnperm<>+0(SB)/4, $0
DATA attnperm<>+4(SB)/4, $4
DATA attnperm<>+8(SB)/4, $8
DATA attnperm<>+12(SB)/4, $12
DATA attnperm<>+16(SB)/4, $2
DATA attnperm<>+20(SB)/4, $6
DATA attnperm<>+24(SB)/4, $10
DATA attnperm<>+28(SB)/4, $14
DATA attnperm<>+32(SB)/4, $0
DATA attnperm<>+36(SB)/4, $0
DATA attnperm<>+40(SB)/4, $0
DATA attnperm<>+44(SB)/4, $0
DATA attnperm<>+48(SB)/4, $0
DATA attnperm<>+52(SB)/4, $0
DATA attnperm<>+56(SB)/4, $0
DATA attnperm<>+60(SB)/4, $0
GLOBL attnperm<>(SB), RODATA|NOPTR, $64

// CONSTS broadcasts the scale and the exp constants (as in kernels' rr2-p5 exp: magic-bias
// rounding, two-part ln2, degree-5 polynomial, VSCALEFPS) into Z18..Z31.
#define CONSTS(scaleArg) \
	VBROADCASTSS scaleArg, Z18; \
	MOVL $0xff800000, R15; \
	VPBROADCASTD R15, Z19; \
	MOVL $0xc2c80000, R15; \
	VPBROADCASTD R15, Z20; \
	MOVL $0xc28aa123, R15; \
	VPBROADCASTD R15, Z21; \
	MOVL $0x3fb8aa3b, R15; \
	VPBROADCASTD R15, Z22; \
	MOVL $0x4b400000, R15; \
	VPBROADCASTD R15, Z23; \
	MOVL $0xbf317200, R15; \
	VPBROADCASTD R15, Z24; \
	MOVL $0xb5bfbe8e, R15; \
	VPBROADCASTD R15, Z25; \
	MOVL $0x3c07cfce, R15; \
	VPBROADCASTD R15, Z26; \
	MOVL $0x3d2b9d0d, R15; \
	VPBROADCASTD R15, Z27; \
	MOVL $0x3e2aad40, R15; \
	VPBROADCASTD R15, Z28; \
	MOVL $0x3efffee3, R15; \
	VPBROADCASTD R15, Z29; \
	MOVL $0x3f7ffffb, R15; \
	VPBROADCASTD R15, Z30; \
	MOVL $0x3f800000, R15; \
	VPBROADCASTD R15, Z31

// EXP0: Z0 = exp(Z0) for Z0 <= 0, exactly 0 where Z0 < -100·ln2 (no subnormal is ever made).
// Clobbers Z3, Z4, K2.
#define EXP0 \
	VMAXPS      Z20, Z0, Z0; \
	VCMPPS      $0x05, Z21, Z0, K2; \
	VMOVAPS     Z23, Z3; \
	VFMADD231PS Z22, Z0, Z3; \
	VSUBPS      Z23, Z3, Z3; \
	VFMADD231PS Z24, Z3, Z0; \
	VFMADD231PS Z25, Z3, Z0; \
	VMOVAPS     Z26, Z4; \
	VFMADD213PS Z27, Z0, Z4; \
	VFMADD213PS Z28, Z0, Z4; \
	VFMADD213PS Z29, Z0, Z4; \
	VFMADD213PS Z30, Z0, Z4; \
	VFMADD213PS Z31, Z0, Z4; \
	VSCALEFPS.Z Z3, Z4, K2, Z0

// HMAX(z, y, x, t): broadcast the maximum lane of z to all its lanes (tx, ty: temps).
#define HMAX(zr, yr, xr, tz, ty, tx) \
	VEXTRACTF64X4 $1, zr, ty; \
	VMAXPS        ty, yr, yr; \
	VEXTRACTF128  $1, yr, tx; \
	VMAXPS        tx, xr, xr; \
	VPERMILPS     $0x4e, xr, tx; \
	VMAXPS        tx, xr, xr; \
	VPERMILPS     $0xb1, xr, tx; \
	VMAXPS        tx, xr, xr; \
	VBROADCASTSS  xr, zr

// HSUM: as HMAX with addition.
#define HSUM(zr, yr, xr, tz, ty, tx) \
	VEXTRACTF64X4 $1, zr, ty; \
	VADDPS        ty, yr, yr; \
	VEXTRACTF128  $1, yr, tx; \
	VADDPS        tx, xr, xr; \
	VPERMILPS     $0x4e, xr, tx; \
	VADDPS        tx, xr, xr; \
	VPERMILPS     $0xb1, xr, tx; \
	VADDPS        tx, xr, xr; \
	VBROADCASTSS  xr, zr

// REDUCE8: the 8 lane sums of Z8..Z15, in order, into the low 8 lanes (Y0) of Z0. Pairs of
// accumulators first add their 256-bit halves (VSHUFF32X4 0x44/0xee), then pairs of pairs
// leave accumulator k's 4 partial sums in 128-bit lane k (0x88/0xdd), then VSHUFPS and
// VPERMILPS finish each 128-bit lane: lane 4k holds sum k and lane 4k+2 holds sum 4+k, which
// VPERMPS with attnperm puts in order. Clobbers Z1, Z5 and Z8..Z15.
#define REDUCE8 \
	VSHUFF32X4 $0x44, Z9, Z8, Z0; \
	VSHUFF32X4 $0xee, Z9, Z8, Z1; \
	VADDPS     Z1, Z0, Z8; \
	VSHUFF32X4 $0x44, Z11, Z10, Z0; \
	VSHUFF32X4 $0xee, Z11, Z10, Z1; \
	VADDPS     Z1, Z0, Z10; \
	VSHUFF32X4 $0x44, Z13, Z12, Z0; \
	VSHUFF32X4 $0xee, Z13, Z12, Z1; \
	VADDPS     Z1, Z0, Z12; \
	VSHUFF32X4 $0x44, Z15, Z14, Z0; \
	VSHUFF32X4 $0xee, Z15, Z14, Z1; \
	VADDPS     Z1, Z0, Z14; \
	VSHUFF32X4 $0x88, Z10, Z8, Z0; \
	VSHUFF32X4 $0xdd, Z10, Z8, Z1; \
	VADDPS     Z1, Z0, Z8; \
	VSHUFF32X4 $0x88, Z14, Z12, Z0; \
	VSHUFF32X4 $0xdd, Z14, Z12, Z1; \
	VADDPS     Z1, Z0, Z12; \
	VSHUFPS    $0x44, Z12, Z8, Z0; \
	VSHUFPS    $0xee, Z12, Z8, Z1; \
	VADDPS     Z1, Z0, Z0; \
	VPERMILPS  $0xb1, Z0, Z1; \
	VADDPS     Z1, Z0, Z0; \
	VMOVUPS    attnperm<>(SB), Z5; \
	VPERMPS    Z0, Z5, Z0

#define ZERO8 \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15

// func attnRowFwd512(out, q, kt, vt, e *float32, hd, nb, tail int, scale float32)
TEXT ·attnRowFwd512(SB), NOSPLIT, $0-68
	CONSTS(scale+64(FP))
	MOVQ  out+0(FP), AX
	MOVQ  q+8(FP), BX
	MOVQ  kt+16(FP), CX
	MOVQ  vt+24(FP), DX
	MOVQ  e+32(FP), SI
	MOVQ  hd+40(FP), R8
	MOVQ  nb+48(FP), R9
	MOVQ  tail+56(FP), R10
	KMOVW R10, K1

	// Pass A: scores s = scale·q·k of each block into e; Z2 = running max.
	XORQ    R11, R11 // kt offset (bytes)
	XORQ    R12, R12 // e offset (bytes)
	MOVQ    R9, R13  // blocks left
	VMOVAPS Z19, Z2

fwdA:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	MOVQ   BX, R14
	MOVQ   R8, R15

fwdAd:
	VMOVUPS          0(CX)(R11*1), Z3
	VFMADD231PS.BCST 0(R14), Z3, Z0
	VMOVUPS          64(CX)(R11*1), Z4
	VFMADD231PS.BCST 4(R14), Z4, Z1
	VMOVUPS          128(CX)(R11*1), Z5
	VFMADD231PS.BCST 8(R14), Z5, Z0
	VMOVUPS          192(CX)(R11*1), Z6
	VFMADD231PS.BCST 12(R14), Z6, Z1
	VMOVUPS          256(CX)(R11*1), Z3
	VFMADD231PS.BCST 16(R14), Z3, Z0
	VMOVUPS          320(CX)(R11*1), Z4
	VFMADD231PS.BCST 20(R14), Z4, Z1
	VMOVUPS          384(CX)(R11*1), Z5
	VFMADD231PS.BCST 24(R14), Z5, Z0
	VMOVUPS          448(CX)(R11*1), Z6
	VFMADD231PS.BCST 28(R14), Z6, Z1
	ADDQ             $512, R11
	ADDQ             $32, R14
	SUBQ             $8, R15
	JNZ              fwdAd

	VADDPS Z1, Z0, Z0
	VMULPS Z18, Z0, Z0
	CMPQ   R13, $1
	JNE    fwdAstore
	VMOVAPS Z19, Z5
	VMOVAPS Z0, K1, Z5 // lanes past the row's last key: -inf
	VMOVAPS Z5, Z0

fwdAstore:
	VMOVUPS Z0, (SI)(R12*1)
	VMAXPS  Z0, Z2, Z2
	ADDQ    $64, R12
	DECQ    R13
	JNZ     fwdA

	HMAX(Z2, Y2, X2, Z5, Y5, X5)

	// Pass B: e = exp(s - max), flushed; Z6 = sum.
	XORQ   R12, R12
	MOVQ   R9, R13
	VPXORD Z6, Z6, Z6

fwdB:
	VMOVUPS (SI)(R12*1), Z0
	VSUBPS  Z2, Z0, Z0
	EXP0
	VMOVUPS Z0, (SI)(R12*1)
	VADDPS  Z0, Z6, Z6
	ADDQ    $64, R12
	DECQ    R13
	JNZ     fwdB

	HSUM(Z6, Y6, X6, Z5, Y5, X5)
	VDIVPS Z6, Z31, Z7 // 1/sum

	// Pass C: out[d] = Σ e·v[d] / sum, 8 dims at a time.
	MOVQ R8, R15
	SHLQ $6, R15 // block stride (bytes)
	MOVQ R8, R10
	SHRQ $3, R10 // chunks of 8 dims
	XORQ BX, BX  // chunk offset in a block (bytes)

fwdCchunk:
	MOVQ BX, R11
	XORQ R12, R12
	MOVQ R9, R13
	ZERO8

fwdC:
	VMOVUPS     (SI)(R12*1), Z0
	VFMADD231PS 0(DX)(R11*1), Z0, Z8
	VFMADD231PS 64(DX)(R11*1), Z0, Z9
	VFMADD231PS 128(DX)(R11*1), Z0, Z10
	VFMADD231PS 192(DX)(R11*1), Z0, Z11
	VFMADD231PS 256(DX)(R11*1), Z0, Z12
	VFMADD231PS 320(DX)(R11*1), Z0, Z13
	VFMADD231PS 384(DX)(R11*1), Z0, Z14
	VFMADD231PS 448(DX)(R11*1), Z0, Z15
	ADDQ        R15, R11
	ADDQ        $64, R12
	DECQ        R13
	JNZ         fwdC

	REDUCE8
	VMULPS  Y7, Y0, Y0
	VMOVUPS Y0, (AX)
	ADDQ    $32, AX
	ADDQ    $512, BX
	DECQ    R10
	JNZ     fwdCchunk

	VZEROUPPER
	RET

// func attnRowBwd512(dq, q, do, kt, vt, dkt, dvt, e, dp *float32, hd, nb, tail int, scale float32)
TEXT ·attnRowBwd512(SB), NOSPLIT, $0-100
	CONSTS(scale+96(FP))
	MOVQ  tail+88(FP), R10
	KMOVW R10, K1
	MOVQ  q+8(FP), BX
	MOVQ  do+16(FP), CX
	MOVQ  kt+24(FP), DX
	MOVQ  vt+32(FP), SI
	MOVQ  e+56(FP), R9
	MOVQ  dp+64(FP), R10
	MOVQ  hd+72(FP), R11
	MOVQ  nb+80(FP), R12

	// Pass A: s = scale·q·k into e, dp = dO·v into dp; Z2 = running max of s.
	XORQ    R13, R13 // kt, vt offset (bytes)
	XORQ    R14, R14 // e, dp offset (bytes)
	VMOVAPS Z19, Z2

bwdA:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	XORQ   R15, R15 // q, dO offset (bytes)
	MOVQ   R11, AX  // dims left

bwdAd:
	VMOVUPS          0(DX)(R13*1), Z5
	VFMADD231PS.BCST 0(BX)(R15*1), Z5, Z0
	VMOVUPS          0(SI)(R13*1), Z6
	VFMADD231PS.BCST 0(CX)(R15*1), Z6, Z3
	VMOVUPS          64(DX)(R13*1), Z7
	VFMADD231PS.BCST 4(BX)(R15*1), Z7, Z1
	VMOVUPS          64(SI)(R13*1), Z8
	VFMADD231PS.BCST 4(CX)(R15*1), Z8, Z4
	VMOVUPS          128(DX)(R13*1), Z5
	VFMADD231PS.BCST 8(BX)(R15*1), Z5, Z0
	VMOVUPS          128(SI)(R13*1), Z6
	VFMADD231PS.BCST 8(CX)(R15*1), Z6, Z3
	VMOVUPS          192(DX)(R13*1), Z7
	VFMADD231PS.BCST 12(BX)(R15*1), Z7, Z1
	VMOVUPS          192(SI)(R13*1), Z8
	VFMADD231PS.BCST 12(CX)(R15*1), Z8, Z4
	VMOVUPS          256(DX)(R13*1), Z5
	VFMADD231PS.BCST 16(BX)(R15*1), Z5, Z0
	VMOVUPS          256(SI)(R13*1), Z6
	VFMADD231PS.BCST 16(CX)(R15*1), Z6, Z3
	VMOVUPS          320(DX)(R13*1), Z7
	VFMADD231PS.BCST 20(BX)(R15*1), Z7, Z1
	VMOVUPS          320(SI)(R13*1), Z8
	VFMADD231PS.BCST 20(CX)(R15*1), Z8, Z4
	VMOVUPS          384(DX)(R13*1), Z5
	VFMADD231PS.BCST 24(BX)(R15*1), Z5, Z0
	VMOVUPS          384(SI)(R13*1), Z6
	VFMADD231PS.BCST 24(CX)(R15*1), Z6, Z3
	VMOVUPS          448(DX)(R13*1), Z7
	VFMADD231PS.BCST 28(BX)(R15*1), Z7, Z1
	VMOVUPS          448(SI)(R13*1), Z8
	VFMADD231PS.BCST 28(CX)(R15*1), Z8, Z4
	ADDQ             $512, R13
	ADDQ             $32, R15
	SUBQ             $8, AX
	JNZ              bwdAd

	VADDPS Z1, Z0, Z0
	VMULPS Z18, Z0, Z0
	VADDPS Z4, Z3, Z3
	CMPQ   R12, $1
	JNE    bwdAstore
	VMOVAPS Z19, Z5
	VMOVAPS Z0, K1, Z5
	VMOVAPS Z5, Z0

bwdAstore:
	VMOVUPS Z0, (R9)(R14*1)
	VMOVUPS Z3, (R10)(R14*1)
	VMAXPS  Z0, Z2, Z2
	ADDQ    $64, R14
	DECQ    R12
	JNZ     bwdA

	HMAX(Z2, Y2, X2, Z5, Y5, X5)

	// Pass B: e = exp(s - max), flushed; Z6 = Σe, Z7 = Σe·dp.
	MOVQ   nb+80(FP), R12
	XORQ   R14, R14
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

bwdB:
	VMOVUPS     (R9)(R14*1), Z0
	VSUBPS      Z2, Z0, Z0
	EXP0
	VMOVUPS     Z0, (R9)(R14*1)
	VADDPS      Z0, Z6, Z6
	VFMADD231PS (R10)(R14*1), Z0, Z7
	ADDQ        $64, R14
	DECQ        R12
	JNZ         bwdB

	HSUM(Z6, Y6, X6, Z5, Y5, X5)
	HSUM(Z7, Y7, X7, Z5, Y5, X5)
	VDIVPS Z6, Z31, Z16 // inv = 1/Σe
	VMULPS Z16, Z7, Z17 // Σp·dp

	// Pass D, 8 dims at a time: p = e·inv, ds = scale·p·(dp − Σp·dp);
	// dq[d] = Σ ds·k[d]; dk[d] += q[d]·ds; dv[d] += dO[d]·p.
	MOVQ dq+0(FP), AX
	MOVQ dkt+40(FP), DI
	MOVQ dvt+48(FP), R8
	MOVQ R11, R15
	SHLQ $6, R15 // block stride (bytes)
	SHRQ $3, R11 // chunks of 8 dims
	XORQ SI, SI  // chunk offset in a block (bytes)

bwdDchunk:
	MOVQ SI, R13
	XORQ R14, R14
	MOVQ nb+80(FP), R12
	ZERO8

bwdD:
	VMOVUPS          (R9)(R14*1), Z0
	VMULPS           Z16, Z0, Z0
	VMOVUPS          (R10)(R14*1), Z1
	VSUBPS           Z17, Z1, Z1
	VMULPS           Z0, Z1, Z1
	VMULPS           Z18, Z1, Z1
	VFMADD231PS      0(DX)(R13*1), Z1, Z8
	VMOVUPS          0(DI)(R13*1), Z2
	VFMADD231PS.BCST 0(BX), Z1, Z2
	VMOVUPS          Z2, 0(DI)(R13*1)
	VMOVUPS          0(R8)(R13*1), Z3
	VFMADD231PS.BCST 0(CX), Z0, Z3
	VMOVUPS          Z3, 0(R8)(R13*1)
	VFMADD231PS      64(DX)(R13*1), Z1, Z9
	VMOVUPS          64(DI)(R13*1), Z4
	VFMADD231PS.BCST 4(BX), Z1, Z4
	VMOVUPS          Z4, 64(DI)(R13*1)
	VMOVUPS          64(R8)(R13*1), Z5
	VFMADD231PS.BCST 4(CX), Z0, Z5
	VMOVUPS          Z5, 64(R8)(R13*1)
	VFMADD231PS      128(DX)(R13*1), Z1, Z10
	VMOVUPS          128(DI)(R13*1), Z2
	VFMADD231PS.BCST 8(BX), Z1, Z2
	VMOVUPS          Z2, 128(DI)(R13*1)
	VMOVUPS          128(R8)(R13*1), Z3
	VFMADD231PS.BCST 8(CX), Z0, Z3
	VMOVUPS          Z3, 128(R8)(R13*1)
	VFMADD231PS      192(DX)(R13*1), Z1, Z11
	VMOVUPS          192(DI)(R13*1), Z4
	VFMADD231PS.BCST 12(BX), Z1, Z4
	VMOVUPS          Z4, 192(DI)(R13*1)
	VMOVUPS          192(R8)(R13*1), Z5
	VFMADD231PS.BCST 12(CX), Z0, Z5
	VMOVUPS          Z5, 192(R8)(R13*1)
	VFMADD231PS      256(DX)(R13*1), Z1, Z12
	VMOVUPS          256(DI)(R13*1), Z2
	VFMADD231PS.BCST 16(BX), Z1, Z2
	VMOVUPS          Z2, 256(DI)(R13*1)
	VMOVUPS          256(R8)(R13*1), Z3
	VFMADD231PS.BCST 16(CX), Z0, Z3
	VMOVUPS          Z3, 256(R8)(R13*1)
	VFMADD231PS      320(DX)(R13*1), Z1, Z13
	VMOVUPS          320(DI)(R13*1), Z4
	VFMADD231PS.BCST 20(BX), Z1, Z4
	VMOVUPS          Z4, 320(DI)(R13*1)
	VMOVUPS          320(R8)(R13*1), Z5
	VFMADD231PS.BCST 20(CX), Z0, Z5
	VMOVUPS          Z5, 320(R8)(R13*1)
	VFMADD231PS      384(DX)(R13*1), Z1, Z14
	VMOVUPS          384(DI)(R13*1), Z2
	VFMADD231PS.BCST 24(BX), Z1, Z2
	VMOVUPS          Z2, 384(DI)(R13*1)
	VMOVUPS          384(R8)(R13*1), Z3
	VFMADD231PS.BCST 24(CX), Z0, Z3
	VMOVUPS          Z3, 384(R8)(R13*1)
	VFMADD231PS      448(DX)(R13*1), Z1, Z15
	VMOVUPS          448(DI)(R13*1), Z4
	VFMADD231PS.BCST 28(BX), Z1, Z4
	VMOVUPS          Z4, 448(DI)(R13*1)
	VMOVUPS          448(R8)(R13*1), Z5
	VFMADD231PS.BCST 28(CX), Z0, Z5
	VMOVUPS          Z5, 448(R8)(R13*1)
	ADDQ             R15, R13
	ADDQ             $64, R14
	DECQ             R12
	JNZ              bwdD

	REDUCE8
	VMOVUPS Y0, (AX)
	ADDQ    $32, AX
	ADDQ    $32, BX
	ADDQ    $32, CX
	ADDQ    $512, SI
	DECQ    R11
	JNZ     bwdDchunk

	VZEROUPPER
	RET

// func attnFlush512(p *float32, n int)
// p[i] = 0 where p[i] < 2^-100 (p ≥ 0).
TEXT ·attnFlush512(SB), NOSPLIT, $0-16
	MOVQ         p+0(FP), AX
	MOVQ         n+8(FP), CX
	MOVL         $0x0d800000, DX // 2^-100
	VPBROADCASTD DX, Z1

flushLoop:
	CMPQ    CX, $16
	JL      flushTail
	VMOVUPS (AX), Z0
	VCMPPS  $0x05, Z1, Z0, K1 // keep p ≥ 2^-100
	VMOVAPS.Z Z0, K1, Z0
	VMOVUPS Z0, (AX)
	ADDQ    $64, AX
	SUBQ    $16, CX
	JMP     flushLoop

flushTail:
	TESTQ   CX, CX
	JZ      flushDone
	MOVL    $1, DX
	SHLL    CX, DX
	DECL    DX
	KMOVW   DX, K2
	VMOVUPS.Z (AX), K2, Z0
	VCMPPS  $0x05, Z1, Z0, K2, K1
	VMOVAPS.Z Z0, K1, Z0
	VMOVUPS Z0, K2, (AX)

flushDone:
	VZEROUPPER
	RET

// Paired kernels: two heads of one GQA group (adjacent, so head 2's q, dO, out and dq rows sit
// hd floats after head 1's) for the same query row, sharing every load of K, V, dKᵀ and dVᵀ.
// The scratch row holds, per block of keys, [e1 | dp1 | e2 | dp2] (16 floats each; the forward
// uses e1 and e2 only, at the same offsets).

// EXPR(x, t1, t2, k): x = exp(x) for x <= 0, as EXP0.
#define EXPR(x, t1, t2, k) \
	VMAXPS      Z20, x, x; \
	VCMPPS      $0x05, Z21, x, k; \
	VMOVAPS     Z23, t1; \
	VFMADD231PS Z22, x, t1; \
	VSUBPS      Z23, t1, t1; \
	VFMADD231PS Z24, t1, x; \
	VFMADD231PS Z25, t1, x; \
	VMOVAPS     Z26, t2; \
	VFMADD213PS Z27, x, t2; \
	VFMADD213PS Z28, x, t2; \
	VFMADD213PS Z29, x, t2; \
	VFMADD213PS Z30, x, t2; \
	VFMADD213PS Z31, x, t2; \
	VSCALEFPS.Z t1, t2, k, x

// REDUCE8R(a0..a7): REDUCE8 on the given accumulators.
#define REDUCE8R(a0, a1, a2, a3, a4, a5, a6, a7) \
	VSHUFF32X4 $0x44, a1, a0, Z0; \
	VSHUFF32X4 $0xee, a1, a0, Z1; \
	VADDPS     Z1, Z0, a0; \
	VSHUFF32X4 $0x44, a3, a2, Z0; \
	VSHUFF32X4 $0xee, a3, a2, Z1; \
	VADDPS     Z1, Z0, a2; \
	VSHUFF32X4 $0x44, a5, a4, Z0; \
	VSHUFF32X4 $0xee, a5, a4, Z1; \
	VADDPS     Z1, Z0, a4; \
	VSHUFF32X4 $0x44, a7, a6, Z0; \
	VSHUFF32X4 $0xee, a7, a6, Z1; \
	VADDPS     Z1, Z0, a6; \
	VSHUFF32X4 $0x88, a2, a0, Z0; \
	VSHUFF32X4 $0xdd, a2, a0, Z1; \
	VADDPS     Z1, Z0, a0; \
	VSHUFF32X4 $0x88, a6, a4, Z0; \
	VSHUFF32X4 $0xdd, a6, a4, Z1; \
	VADDPS     Z1, Z0, a4; \
	VSHUFPS    $0x44, a4, a0, Z0; \
	VSHUFPS    $0xee, a4, a0, Z1; \
	VADDPS     Z1, Z0, Z0; \
	VPERMILPS  $0xb1, Z0, Z1; \
	VADDPS     Z1, Z0, Z0; \
	VMOVUPS    attnperm<>(SB), Z5; \
	VPERMPS    Z0, Z5, Z0

#define ZERO8R(a0, a1, a2, a3, a4, a5, a6, a7) \
	VPXORD a0, a0, a0; \
	VPXORD a1, a1, a1; \
	VPXORD a2, a2, a2; \
	VPXORD a3, a3, a3; \
	VPXORD a4, a4, a4; \
	VPXORD a5, a5, a5; \
	VPXORD a6, a6, a6; \
	VPXORD a7, a7, a7

// func attnRowFwd2_512(out, q, kt, vt, e *float32, hd, nb, tail int, scale float32)
TEXT ·attnRowFwd2_512(SB), NOSPLIT, $0-68
	CONSTS(scale+64(FP))
	MOVQ  q+8(FP), BX
	MOVQ  kt+16(FP), CX
	MOVQ  vt+24(FP), DX
	MOVQ  e+32(FP), SI
	MOVQ  hd+40(FP), R8
	MOVQ  nb+48(FP), R9
	MOVQ  tail+56(FP), R10
	KMOVW R10, K1

	// Pass A: s1, s2 into e1, e2; Z2, Z9 = running maxima.
	XORQ    R11, R11 // kt offset (bytes)
	XORQ    R12, R12 // scratch offset (bytes)
	MOVQ    R9, R13  // blocks left
	VMOVAPS Z19, Z2
	VMOVAPS Z19, Z9

fwd2A:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVQ   BX, R14
	MOVQ   R8, R15

fwd2Ad:
	VMOVUPS          0(CX)(R11*1), Z3
	VFMADD231PS.BCST 0(R14), Z3, Z0
	VFMADD231PS.BCST 0(R14)(R8*4), Z3, Z6
	VMOVUPS          64(CX)(R11*1), Z4
	VFMADD231PS.BCST 4(R14), Z4, Z1
	VFMADD231PS.BCST 4(R14)(R8*4), Z4, Z7
	VMOVUPS          128(CX)(R11*1), Z5
	VFMADD231PS.BCST 8(R14), Z5, Z0
	VFMADD231PS.BCST 8(R14)(R8*4), Z5, Z6
	VMOVUPS          192(CX)(R11*1), Z3
	VFMADD231PS.BCST 12(R14), Z3, Z1
	VFMADD231PS.BCST 12(R14)(R8*4), Z3, Z7
	VMOVUPS          256(CX)(R11*1), Z4
	VFMADD231PS.BCST 16(R14), Z4, Z0
	VFMADD231PS.BCST 16(R14)(R8*4), Z4, Z6
	VMOVUPS          320(CX)(R11*1), Z5
	VFMADD231PS.BCST 20(R14), Z5, Z1
	VFMADD231PS.BCST 20(R14)(R8*4), Z5, Z7
	VMOVUPS          384(CX)(R11*1), Z3
	VFMADD231PS.BCST 24(R14), Z3, Z0
	VFMADD231PS.BCST 24(R14)(R8*4), Z3, Z6
	VMOVUPS          448(CX)(R11*1), Z4
	VFMADD231PS.BCST 28(R14), Z4, Z1
	VFMADD231PS.BCST 28(R14)(R8*4), Z4, Z7
	ADDQ             $512, R11
	ADDQ             $32, R14
	SUBQ             $8, R15
	JNZ              fwd2Ad

	VADDPS Z1, Z0, Z0
	VMULPS Z18, Z0, Z0
	VADDPS Z7, Z6, Z6
	VMULPS Z18, Z6, Z6
	CMPQ   R13, $1
	JNE    fwd2Astore
	VMOVAPS Z19, Z5
	VMOVAPS Z0, K1, Z5
	VMOVAPS Z5, Z0
	VMOVAPS Z19, Z5
	VMOVAPS Z6, K1, Z5
	VMOVAPS Z5, Z6

fwd2Astore:
	VMOVUPS Z0, 0(SI)(R12*1)
	VMOVUPS Z6, 128(SI)(R12*1)
	VMAXPS  Z0, Z2, Z2
	VMAXPS  Z6, Z9, Z9
	ADDQ    $256, R12
	DECQ    R13
	JNZ     fwd2A

	HMAX(Z2, Y2, X2, Z5, Y5, X5)
	HMAX(Z9, Y9, X9, Z5, Y5, X5)

	// Pass B: e = exp(s - max), flushed; Z10, Z11 = sums.
	XORQ   R12, R12
	MOVQ   R9, R13
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

fwd2B:
	VMOVUPS 0(SI)(R12*1), Z0
	VSUBPS  Z2, Z0, Z0
	VMOVUPS 128(SI)(R12*1), Z6
	VSUBPS  Z9, Z6, Z6
	EXPR(Z0, Z3, Z4, K2)
	EXPR(Z6, Z7, Z8, K3)
	VMOVUPS Z0, 0(SI)(R12*1)
	VMOVUPS Z6, 128(SI)(R12*1)
	VADDPS  Z0, Z10, Z10
	VADDPS  Z6, Z11, Z11
	ADDQ    $256, R12
	DECQ    R13
	JNZ     fwd2B

	HSUM(Z10, Y10, X10, Z5, Y5, X5)
	HSUM(Z11, Y11, X11, Z5, Y5, X5)
	VDIVPS Z10, Z31, Z6 // 1/sum1
	VDIVPS Z11, Z31, Z7 // 1/sum2

	// Pass C: out = Σ e·v / sum for both heads, 8 dims at a time.
	MOVQ out+0(FP), AX
	MOVQ R8, R15
	SHLQ $6, R15 // block stride (bytes)
	MOVQ R8, R10
	SHRQ $3, R10 // chunks of 8 dims
	XORQ BX, BX  // chunk offset in a block (bytes)

fwd2Cchunk:
	MOVQ BX, R11
	XORQ R12, R12
	MOVQ R9, R13
	ZERO8R(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	ZERO8R(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)

fwd2C:
	VMOVUPS     0(SI)(R12*1), Z0
	VMOVUPS     128(SI)(R12*1), Z1
	VMOVUPS     0(DX)(R11*1), Z2
	VFMADD231PS Z2, Z0, Z8
	VFMADD231PS Z2, Z1, Z16
	VMOVUPS     64(DX)(R11*1), Z3
	VFMADD231PS Z3, Z0, Z9
	VFMADD231PS Z3, Z1, Z17
	VMOVUPS     128(DX)(R11*1), Z4
	VFMADD231PS Z4, Z0, Z10
	VFMADD231PS Z4, Z1, Z18
	VMOVUPS     192(DX)(R11*1), Z5
	VFMADD231PS Z5, Z0, Z11
	VFMADD231PS Z5, Z1, Z19
	VMOVUPS     256(DX)(R11*1), Z2
	VFMADD231PS Z2, Z0, Z12
	VFMADD231PS Z2, Z1, Z20
	VMOVUPS     320(DX)(R11*1), Z3
	VFMADD231PS Z3, Z0, Z13
	VFMADD231PS Z3, Z1, Z21
	VMOVUPS     384(DX)(R11*1), Z4
	VFMADD231PS Z4, Z0, Z14
	VFMADD231PS Z4, Z1, Z22
	VMOVUPS     448(DX)(R11*1), Z5
	VFMADD231PS Z5, Z0, Z15
	VFMADD231PS Z5, Z1, Z23
	ADDQ        R15, R11
	ADDQ        $256, R12
	DECQ        R13
	JNZ         fwd2C

	REDUCE8R(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	VMULPS  Y6, Y0, Y0
	VMOVUPS Y0, (AX)
	REDUCE8R(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	VMULPS  Y7, Y0, Y0
	VMOVUPS Y0, (AX)(R8*4)
	ADDQ    $32, AX
	ADDQ    $512, BX
	DECQ    R10
	JNZ     fwd2Cchunk

	VZEROUPPER
	RET

// func attnRowBwd2_512(dq, q, do, kt, vt, dkt, dvt, e *float32, hd, nb, tail int, scale float32)
TEXT ·attnRowBwd2_512(SB), NOSPLIT, $0-92
	CONSTS(scale+88(FP))
	MOVQ  tail+80(FP), R10
	KMOVW R10, K1
	MOVQ  q+8(FP), BX
	MOVQ  do+16(FP), CX
	MOVQ  kt+24(FP), DX
	MOVQ  vt+32(FP), SI
	MOVQ  e+56(FP), R9
	MOVQ  hd+64(FP), R8
	MOVQ  nb+72(FP), R12

	// Pass A: s1, s2 (scaled) and dp1, dp2 into the scratch; Z2, Z9 = running maxima of s.
	XORQ    R13, R13 // kt, vt offset (bytes)
	XORQ    R14, R14 // scratch offset (bytes)
	VMOVAPS Z19, Z2
	VMOVAPS Z19, Z9

bwd2A:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	MOVQ   BX, R10 // q row (head 1; head 2 at +hd)
	MOVQ   CX, R11 // dO row
	MOVQ   R8, AX  // dims left

bwd2Ad:
	VMOVUPS          0(DX)(R13*1), Z5
	VMOVUPS          0(SI)(R13*1), Z6
	VFMADD231PS.BCST 0(R10), Z5, Z0
	VFMADD231PS.BCST 0(R10)(R8*4), Z5, Z1
	VFMADD231PS.BCST 0(R11), Z6, Z3
	VFMADD231PS.BCST 0(R11)(R8*4), Z6, Z4
	VMOVUPS          64(DX)(R13*1), Z7
	VMOVUPS          64(SI)(R13*1), Z8
	VFMADD231PS.BCST 4(R10), Z7, Z0
	VFMADD231PS.BCST 4(R10)(R8*4), Z7, Z1
	VFMADD231PS.BCST 4(R11), Z8, Z3
	VFMADD231PS.BCST 4(R11)(R8*4), Z8, Z4
	VMOVUPS          128(DX)(R13*1), Z5
	VMOVUPS          128(SI)(R13*1), Z6
	VFMADD231PS.BCST 8(R10), Z5, Z0
	VFMADD231PS.BCST 8(R10)(R8*4), Z5, Z1
	VFMADD231PS.BCST 8(R11), Z6, Z3
	VFMADD231PS.BCST 8(R11)(R8*4), Z6, Z4
	VMOVUPS          192(DX)(R13*1), Z7
	VMOVUPS          192(SI)(R13*1), Z8
	VFMADD231PS.BCST 12(R10), Z7, Z0
	VFMADD231PS.BCST 12(R10)(R8*4), Z7, Z1
	VFMADD231PS.BCST 12(R11), Z8, Z3
	VFMADD231PS.BCST 12(R11)(R8*4), Z8, Z4
	VMOVUPS          256(DX)(R13*1), Z5
	VMOVUPS          256(SI)(R13*1), Z6
	VFMADD231PS.BCST 16(R10), Z5, Z0
	VFMADD231PS.BCST 16(R10)(R8*4), Z5, Z1
	VFMADD231PS.BCST 16(R11), Z6, Z3
	VFMADD231PS.BCST 16(R11)(R8*4), Z6, Z4
	VMOVUPS          320(DX)(R13*1), Z7
	VMOVUPS          320(SI)(R13*1), Z8
	VFMADD231PS.BCST 20(R10), Z7, Z0
	VFMADD231PS.BCST 20(R10)(R8*4), Z7, Z1
	VFMADD231PS.BCST 20(R11), Z8, Z3
	VFMADD231PS.BCST 20(R11)(R8*4), Z8, Z4
	VMOVUPS          384(DX)(R13*1), Z5
	VMOVUPS          384(SI)(R13*1), Z6
	VFMADD231PS.BCST 24(R10), Z5, Z0
	VFMADD231PS.BCST 24(R10)(R8*4), Z5, Z1
	VFMADD231PS.BCST 24(R11), Z6, Z3
	VFMADD231PS.BCST 24(R11)(R8*4), Z6, Z4
	VMOVUPS          448(DX)(R13*1), Z7
	VMOVUPS          448(SI)(R13*1), Z8
	VFMADD231PS.BCST 28(R10), Z7, Z0
	VFMADD231PS.BCST 28(R10)(R8*4), Z7, Z1
	VFMADD231PS.BCST 28(R11), Z8, Z3
	VFMADD231PS.BCST 28(R11)(R8*4), Z8, Z4
	ADDQ             $512, R13
	ADDQ             $32, R10
	ADDQ             $32, R11
	SUBQ             $8, AX
	JNZ              bwd2Ad

	VMULPS Z18, Z0, Z0
	VMULPS Z18, Z1, Z1
	CMPQ   R12, $1
	JNE    bwd2Astore
	VMOVAPS Z19, Z5
	VMOVAPS Z0, K1, Z5
	VMOVAPS Z5, Z0
	VMOVAPS Z19, Z5
	VMOVAPS Z1, K1, Z5
	VMOVAPS Z5, Z1

bwd2Astore:
	VMOVUPS Z0, 0(R9)(R14*1)
	VMOVUPS Z3, 64(R9)(R14*1)
	VMOVUPS Z1, 128(R9)(R14*1)
	VMOVUPS Z4, 192(R9)(R14*1)
	VMAXPS  Z0, Z2, Z2
	VMAXPS  Z1, Z9, Z9
	ADDQ    $256, R14
	DECQ    R12
	JNZ     bwd2A

	HMAX(Z2, Y2, X2, Z5, Y5, X5)
	HMAX(Z9, Y9, X9, Z5, Y5, X5)

	// Pass B: e = exp(s - max), flushed; Z10, Z11 = Σe1, Σe1·dp1; Z12, Z13 = Σe2, Σe2·dp2.
	MOVQ   nb+72(FP), R12
	XORQ   R14, R14
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13

bwd2B:
	VMOVUPS     0(R9)(R14*1), Z0
	VSUBPS      Z2, Z0, Z0
	VMOVUPS     128(R9)(R14*1), Z6
	VSUBPS      Z9, Z6, Z6
	EXPR(Z0, Z3, Z4, K2)
	EXPR(Z6, Z7, Z8, K3)
	VMOVUPS     Z0, 0(R9)(R14*1)
	VMOVUPS     Z6, 128(R9)(R14*1)
	VADDPS      Z0, Z10, Z10
	VFMADD231PS 64(R9)(R14*1), Z0, Z11
	VADDPS      Z6, Z12, Z12
	VFMADD231PS 192(R9)(R14*1), Z6, Z13
	ADDQ        $256, R14
	DECQ        R12
	JNZ         bwd2B

	HSUM(Z10, Y10, X10, Z5, Y5, X5)
	HSUM(Z11, Y11, X11, Z5, Y5, X5)
	HSUM(Z12, Y12, X12, Z5, Y5, X5)
	HSUM(Z13, Y13, X13, Z5, Y5, X5)
	VDIVPS Z10, Z31, Z24 // inv1 = 1/Σe1
	VMULPS Z24, Z11, Z25 // Σp1·dp1
	VDIVPS Z12, Z31, Z26 // inv2
	VMULPS Z26, Z13, Z27 // Σp2·dp2

	// Pass D, 8 dims at a time, both heads: p = e·inv, ds = scale·p·(dp − Σp·dp);
	// dq[d] = Σ ds·k[d]; dk[d] += q1[d]·ds1 + q2[d]·ds2; dv[d] += dO1[d]·p1 + dO2[d]·p2.
	MOVQ dq+0(FP), AX
	MOVQ dkt+40(FP), DI
	MOVQ dvt+48(FP), R10
	MOVQ R8, R15
	SHLQ $6, R15 // block stride (bytes)
	MOVQ R8, R11
	SHRQ $3, R11 // chunks of 8 dims
	XORQ SI, SI  // chunk offset in a block (bytes)

bwd2Dchunk:
	MOVQ SI, R13
	XORQ R14, R14
	MOVQ nb+72(FP), R12
	ZERO8R(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	ZERO8R(Z16, Z17, Z19, Z20, Z21, Z22, Z23, Z28)

bwd2D:
	VMOVUPS          0(R9)(R14*1), Z0
	VMULPS           Z24, Z0, Z0 // p1
	VMOVUPS          64(R9)(R14*1), Z1
	VSUBPS           Z25, Z1, Z1
	VMULPS           Z0, Z1, Z1
	VMULPS           Z18, Z1, Z1 // ds1
	VMOVUPS          128(R9)(R14*1), Z2
	VMULPS           Z26, Z2, Z2 // p2
	VMOVUPS          192(R9)(R14*1), Z3
	VSUBPS           Z27, Z3, Z3
	VMULPS           Z2, Z3, Z3
	VMULPS           Z18, Z3, Z3 // ds2

#define BWD2D(off, qoff, acc1, acc2) \
	VMOVUPS          off(DX)(R13*1), Z4; \
	VFMADD231PS      Z4, Z1, acc1; \
	VFMADD231PS      Z4, Z3, acc2; \
	VMOVUPS          off(DI)(R13*1), Z5; \
	VFMADD231PS.BCST qoff(BX), Z1, Z5; \
	VFMADD231PS.BCST qoff(BX)(R8*4), Z3, Z5; \
	VMOVUPS          Z5, off(DI)(R13*1); \
	VMOVUPS          off(R10)(R13*1), Z6; \
	VFMADD231PS.BCST qoff(CX), Z0, Z6; \
	VFMADD231PS.BCST qoff(CX)(R8*4), Z2, Z6; \
	VMOVUPS          Z6, off(R10)(R13*1)

	BWD2D(0, 0, Z8, Z16)
	BWD2D(64, 4, Z9, Z17)
	BWD2D(128, 8, Z10, Z19)
	BWD2D(192, 12, Z11, Z20)
	BWD2D(256, 16, Z12, Z21)
	BWD2D(320, 20, Z13, Z22)
	BWD2D(384, 24, Z14, Z23)
	BWD2D(448, 28, Z15, Z28)
	ADDQ R15, R13
	ADDQ $256, R14
	DECQ R12
	JNZ  bwd2D

	REDUCE8R(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	VMOVUPS Y0, (AX)
	REDUCE8R(Z16, Z17, Z19, Z20, Z21, Z22, Z23, Z28)
	VMOVUPS Y0, (AX)(R8*4)
	ADDQ    $32, AX
	ADDQ    $32, BX
	ADDQ    $32, CX
	ADDQ    $512, SI
	DECQ    R11
	JNZ     bwd2Dchunk

	VZEROUPPER
	RET
