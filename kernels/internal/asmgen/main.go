// Command asmgen generates the AVX-512 and AVX2 assembly of package kernels with avo
// (github.com/mmcloughlin/avo). Run it through `go generate ./kernels` from the module root:
//
//	cd kernels/internal/asmgen && go run . -out ../../simd_amd64.s -stubs ../../simd_stub_amd64.go -pkg kernels
//
// It is its own module so that avo's dependencies stay out of align's go.mod.
//
// Conventions: every routine takes raw pointers and an element count (the Go wrappers in
// kernels/avx512_amd64.go and avx2_amd64.go check lengths), handles any count with an AVX-512 opmask tail, and
// ends with VZEROUPPER.
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")

	genDot()
	genSum()
	genSumSquares()
	genMax()
	genAxpy()
	genScale()
	genAddScalar()
	genMulScale()
	genDot3()
	genRMSBackRow()
	genSumExp()
	genExpShift()
	genCERow()
	genLSE2Acc()
	genSiLU()
	genSiLUBack()
	genSwiGLUF()
	genSwiGLUB()
	genAdamW()
	genSgemmKernel()
	genTranspose8()
	genPackRows48()
	genFMAPeak()
	genAVX2()
	genElementwise()
	genDequant2()
	genAttnRows()

	Generate()
}

// ---- helpers ----

// bcastConst broadcasts a float32 constant into a new virtual zmm.
func bcastConst(f float32) VecVirtual {
	z := ZMM()
	t := GP32()
	MOVL(U32(math.Float32bits(f)), t)
	VPBROADCASTD(t, z)
	return z
}

// bcastParam broadcasts a float32 argument into a new virtual zmm.
func bcastParam(name string) VecVirtual {
	x := XMM()
	Load(Param(name), x)
	z := ZMM()
	VBROADCASTSS(x, z)
	return z
}

// vecLoop emits a loop over n float32 elements, 16 per vector, unrolled unroll times, then a
// single-vector loop, then a masked tail. body(u, off, k) emits the work for one vector: u is
// the unroll slot (0 in the single and tail loops), off the byte offset from each pointer, k
// nil or the tail opmask. The pointers advance after each step.
func vecLoop(name string, n GPVirtual, ptrs []GPVirtual, unroll int, body func(u, off int, k Op)) {
	defer func() { inUnrolled = false }()
	if unroll > 1 {
		inUnrolled = true
		Label(name + "_loopU")
		CMPQ(n, U32(16*unroll))
		JL(LabelRef(name + "_loop1"))
		for u := 0; u < unroll; u++ {
			body(u, 64*u, nil)
		}
		for _, p := range ptrs {
			ADDQ(U32(64*unroll), p)
		}
		SUBQ(U32(16*unroll), n)
		JMP(LabelRef(name + "_loopU"))
	}
	inUnrolled = false
	Label(name + "_loop1")
	CMPQ(n, U32(16))
	JL(LabelRef(name + "_tail"))
	body(0, 0, nil)
	for _, p := range ptrs {
		ADDQ(U32(64), p)
	}
	SUBQ(U32(16), n)
	JMP(LabelRef(name + "_loop1"))
	Label(name + "_tail")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	m := GP32()
	MOVL(U32(0xFFFF), m)
	BZHIL(n.As32(), m, m)
	KMOVW(m, K1)
	body(0, 0, K1)
	Label(name + "_done")
}

// inUnrolled is true while vecLoop emits the bodies of its unrolled loop (generator state only).
var inUnrolled bool

// load loads one vector, zero-filling masked-off lanes.
func load(m Mem, z Op, k Op) {
	if k == nil {
		VMOVUPS(m, z)
	} else {
		VMOVUPS_Z(m, k, z)
	}
}

// loadMerge loads one vector, keeping z's lanes where masked off.
func loadMerge(m Mem, z Op, k Op) {
	if k == nil {
		VMOVUPS(m, z)
	} else {
		VMOVUPS(m, k, z)
	}
}

func store(z Op, m Mem, k Op) {
	if k == nil {
		VMOVUPS(z, m)
	} else {
		VMOVUPS(z, k, m)
	}
}

// hsum reduces the 16 lanes of z into the low lane of the returned xmm (z is clobbered).
func hsum(z VecVirtual) VecVirtual {
	y := YMM()
	VEXTRACTF64X4(U8(1), z, y)
	VADDPS(y, z.AsY(), y)
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

func hmax(z VecVirtual) VecVirtual {
	y := YMM()
	VEXTRACTF64X4(U8(1), z, y)
	VMAXPS(y, z.AsY(), y)
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

// ld loads a pointer or int argument into a new virtual GP register.
func ld(name string) GPVirtual {
	r := GP64()
	Load(Param(name), r)
	return r
}

func mem(p GPVirtual, off int) Mem { return Mem{Base: p, Disp: off} }

func zeros(n int) []VecVirtual {
	out := make([]VecVirtual, n)
	for i := range out {
		out[i] = ZMM()
		VPXORD(out[i], out[i], out[i])
	}
	return out
}

// expK holds the constants of the rr2-p5 exp (XNNPACK's f32 vexp, Dukhan): x = n*ln2 + t with
// n = round(x*log2e), t from a two-constant Cody-Waite reduction, exp(t) by a degree-5 minimax
// polynomial on |t| <= ln2/2, and 2^n applied with VSCALEFPS.
type expK struct {
	thr, hi, log2e, magic, nln2hi, nln2lo, c5, c4, c3, c2, c1, one VecVirtual
	clampHi                                                        bool
}

// expConsts loads the constants; hi > 0 clamps the argument from above (for callers whose
// argument may be large and positive: a garbage reduction must not turn +Inf into NaN).
func expConsts(hi float32) expK {
	ln2hi := math.Float32frombits(0x3F317200) // 0.693145751953125: n*ln2hi is exact for |n| < 2^9
	ln2lo := float32(math.Ln2 - float64(ln2hi))
	c := expK{
		thr:    bcastConst(-87.33),
		log2e:  bcastConst(float32(math.Log2E)),
		magic:  bcastConst(0x1.8p23),
		nln2hi: bcastConst(-ln2hi),
		nln2lo: bcastConst(-ln2lo),
		c5:     bcastConst(0x1.0F9F9Cp-7),
		c4:     bcastConst(0x1.573A1Ap-5),
		c3:     bcastConst(0x1.555A80p-3),
		c2:     bcastConst(0x1.FFFDC6p-2),
		c1:     bcastConst(0x1.FFFFF6p-1),
		one:    bcastConst(1),
	}
	if hi > 0 {
		c.hi = bcastConst(hi)
		c.clampHi = true
	}
	return c
}

// reduce returns n = round(x*log2e) and the polynomial p = exp(x - n*ln2), so that
// exp(x) = p*2^n (x is clamped from above in place when the constants say so).
func (c expK) reduce(x VecVirtual) (n, p VecVirtual) {
	if c.clampHi {
		VMINPS(x, c.hi, x)
	}
	// n = round(x*log2e) by the magic-bias trick: adding 1.5*2^23 rounds to an integer
	// (nearest even) in one FMA, and subtracting it back is exact (|x*log2e| < 2^22).
	n = ZMM()
	VMOVAPS(c.magic, n)
	VFMADD231PS(c.log2e, x, n)
	VSUBPS(c.magic, n, n)
	t := ZMM()
	VMOVAPS(x, t)
	VFMADD231PS(c.nln2hi, n, t)
	VFMADD231PS(c.nln2lo, n, t)
	p = ZMM()
	VMOVAPS(c.c5, p)
	VFMADD213PS(c.c4, t, p)
	VFMADD213PS(c.c3, t, p)
	VFMADD213PS(c.c2, t, p)
	VFMADD213PS(c.c1, t, p)
	VFMADD213PS(c.one, t, p)
	return n, p
}

// exp writes exp(x) into out (x is clobbered). Results below the smallest normal float32
// (x < ln(2^-126) ≈ -87.3365) are flushed to zero: producing denormals costs a microcode assist
// of about a hundred cycles per vector, and such terms cannot change a softmax or a sum of exps.
// The same mask turns -Inf (whose reduction is NaN) into 0; NaN stays NaN.
func (c expK) exp(x, out VecVirtual) {
	VCMPPS(U8(0x05), c.thr, x, K2) // K2 = !(x < thr): normal results, and NaN
	n, p := c.reduce(x)
	VSCALEFPS_Z(n, p, K2, out)
}

// prefetchDist is how far ahead (bytes) the arithmetic-bound row loops (lse2Acc512, sumExp512,
// expShift512, ceRow512, and the AVX2 sumExp/expShift/ceRow) prefetch their input, one prefetch
// per vector. Their 10–15 vector
// instructions per line keep the out-of-order window from reaching far enough ahead, and the
// hardware prefetcher alone left the DRAM reads only partly overlapped with the arithmetic
// (TokenLogProbs went from about 0.5 to 0.75–0.9 of the DRAM read bandwidth; 2048 and 8192
// measured no better). Past the end of a row it fetches the next row of a [T×V] batch; a
// prefetch never faults.
const prefetchDist = 4096

// prefetch emits a software prefetch of the line prefetchDist bytes past p+off (full vectors
// only: k is the tail mask).
func prefetch(p GPVirtual, off int, k Op) {
	if k == nil {
		PREFETCHT0(mem(p, prefetchDist+off))
	}
}

// ---- BLAS-1 and reductions ----

func genDot() {
	TEXT("dot512", NOSPLIT, "func(x, y *float32, n int) float32")
	x := ld("x")
	y := ld("y")
	n := ld("n")
	acc := zeros(4)
	vecLoop("dot", n, []GPVirtual{x, y}, 4, func(u, off int, k Op) {
		a, b := ZMM(), ZMM()
		load(mem(x, off), a, k)
		load(mem(y, off), b, k)
		VFMADD231PS(a, b, acc[u])
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := hsum(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func genSum() {
	TEXT("sum512", NOSPLIT, "func(x *float32, n int) float32")
	x := ld("x")
	n := ld("n")
	acc := zeros(4)
	vecLoop("sum", n, []GPVirtual{x}, 4, func(u, off int, k Op) {
		if k == nil {
			VADDPS(mem(x, off), acc[u], acc[u])
			return
		}
		a := ZMM()
		load(mem(x, off), a, k)
		VADDPS(a, acc[u], acc[u])
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := hsum(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func genSumSquares() {
	TEXT("sumSquares512", NOSPLIT, "func(x *float32, n int) float32")
	x := ld("x")
	n := ld("n")
	acc := zeros(4)
	vecLoop("ssq", n, []GPVirtual{x}, 4, func(u, off int, k Op) {
		a := ZMM()
		load(mem(x, off), a, k)
		VFMADD231PS(a, a, acc[u])
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := hsum(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func genMax() {
	TEXT("max512", NOSPLIT, "func(x *float32, n int) float32")
	x := ld("x")
	n := ld("n")
	ninf := bcastConst(float32(math.Inf(-1)))
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = ZMM()
		VMOVAPS(ninf, acc[i])
	}
	vecLoop("max", n, []GPVirtual{x}, 4, func(u, off int, k Op) {
		a := ZMM()
		VMOVAPS(ninf, a)
		loadMerge(mem(x, off), a, k)
		VMAXPS(a, acc[u], acc[u])
	})
	VMAXPS(acc[1], acc[0], acc[0])
	VMAXPS(acc[3], acc[2], acc[2])
	VMAXPS(acc[2], acc[0], acc[0])
	r := hmax(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func genAxpy() {
	TEXT("axpy512", NOSPLIT, "func(alpha float32, x, y *float32, n int)")
	al := bcastParam("alpha")
	x := ld("x")
	y := ld("y")
	n := ld("n")
	vecLoop("axpy", n, []GPVirtual{x, y}, 4, func(u, off int, k Op) {
		a, b := ZMM(), ZMM()
		load(mem(x, off), a, k)
		load(mem(y, off), b, k)
		VFMADD231PS(a, al, b)
		store(b, mem(y, off), k)
	})
	VZEROUPPER()
	RET()
}

func genScale() {
	TEXT("scale512", NOSPLIT, "func(alpha float32, x *float32, n int)")
	al := bcastParam("alpha")
	x := ld("x")
	n := ld("n")
	vecLoop("scale", n, []GPVirtual{x}, 4, func(u, off int, k Op) {
		a := ZMM()
		load(mem(x, off), a, k)
		VMULPS(al, a, a)
		store(a, mem(x, off), k)
	})
	VZEROUPPER()
	RET()
}

func genAddScalar() {
	TEXT("addScalar512", NOSPLIT, "func(dst, x *float32, n int, c float32)")
	dst := ld("dst")
	x := ld("x")
	n := ld("n")
	c := bcastParam("c")
	vecLoop("adds", n, []GPVirtual{dst, x}, 4, func(u, off int, k Op) {
		a := ZMM()
		load(mem(x, off), a, k)
		VADDPS(c, a, a)
		store(a, mem(dst, off), k)
	})
	VZEROUPPER()
	RET()
}

// ---- RMSNorm ----

func genMulScale() {
	TEXT("mulScale512", NOSPLIT, "func(out, x, w *float32, n int, r float32)")
	out := ld("out")
	x := ld("x")
	w := ld("w")
	n := ld("n")
	r := bcastParam("r")
	vecLoop("mulscale", n, []GPVirtual{out, x, w}, 4, func(u, off int, k Op) {
		a, b := ZMM(), ZMM()
		load(mem(x, off), a, k)
		load(mem(w, off), b, k)
		VMULPS(r, a, a)
		VMULPS(b, a, a)
		store(a, mem(out, off), k)
	})
	VZEROUPPER()
	RET()
}

func genDot3() {
	TEXT("dot3_512", NOSPLIT, "func(a, b, c *float32, n int) float32")
	a := ld("a")
	b := ld("b")
	c := ld("c")
	n := ld("n")
	acc := zeros(4)
	vecLoop("dot3", n, []GPVirtual{a, b, c}, 4, func(u, off int, k Op) {
		va, vb, vc := ZMM(), ZMM(), ZMM()
		load(mem(a, off), va, k)
		load(mem(b, off), vb, k)
		load(mem(c, off), vc, k)
		VMULPS(vb, va, va)
		VFMADD231PS(va, vc, acc[u])
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := hsum(acc[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// rmsBackRow512: dw += dout*x*r; dx = r*w*dout - x*kk (kk = r^3*mean(w*dout*x)).
func genRMSBackRow() {
	TEXT("rmsBackRow512", NOSPLIT, "func(dx, dw, dout, x, w *float32, n int, r, kk float32)")
	dx := ld("dx")
	dw := ld("dw")
	dout := ld("dout")
	x := ld("x")
	w := ld("w")
	n := ld("n")
	r := bcastParam("r")
	kk := bcastParam("kk")
	vecLoop("rmsb", n, []GPVirtual{dx, dw, dout, x, w}, 2, func(u, off int, k Op) {
		vd, vx, vw, vdw := ZMM(), ZMM(), ZMM(), ZMM()
		load(mem(dout, off), vd, k)
		load(mem(x, off), vx, k)
		load(mem(w, off), vw, k)
		load(mem(dw, off), vdw, k)
		t := ZMM()
		VMULPS(r, vd, t)        // t = dout*r
		VFMADD231PS(vx, t, vdw) // dw += dout*r*x
		VMULPS(vw, t, t)        // t = r*w*dout
		VFNMADD231PS(vx, kk, t) // t -= x*kk
		store(vdw, mem(dw, off), k)
		store(t, mem(dx, off), k)
	})
	VZEROUPPER()
	RET()
}

// ---- softmax family ----

// addPD adds the 16 float32 lanes of e, widened to float64, into the accumulators lo and hi:
// exp sums over rows of 262144 keep a float64 accuracy.
func addPD(e VecVirtual, lo, hi VecVirtual) {
	a, b := ZMM(), ZMM()
	VCVTPS2PD(e.AsY(), a)
	y := YMM()
	VEXTRACTF64X4(U8(1), e, y)
	VCVTPS2PD(y, b)
	VADDPD(a, lo, lo)
	VADDPD(b, hi, hi)
}

// hsumPD reduces the float64 accumulators to a float32 in the low lane of the returned xmm.
func hsumPD(lo, hi VecVirtual) VecVirtual {
	VADDPD(hi, lo, lo)
	y := YMM()
	VEXTRACTF64X4(U8(1), lo, y)
	VADDPD(y, lo.AsY(), y)
	x := XMM()
	VEXTRACTF128(U8(1), y, x)
	VADDPD(x, y.AsX(), x)
	t := XMM()
	VPERMILPD(U8(1), x, t)
	VADDSD(t, x, x)
	VCVTSD2SS(x, x, x)
	return x
}

// sumExp512 returns sum(exp(x[i]-shift)), accumulated in float64 (pairs of vectors are summed
// in float32 first, which halves the widening work).
func genSumExp() {
	TEXT("sumExp512", NOSPLIT, "func(x *float32, n int, shift float32) float32")
	x := ld("x")
	n := ld("n")
	sh := bcastParam("shift")
	c := expConsts(0)
	acc := zeros(2)
	var pend VecVirtual
	vecLoop("sumexp", n, []GPVirtual{x}, 2, func(u, off int, k Op) {
		prefetch(x, off, k)
		a := ZMM()
		load(mem(x, off), a, k)
		VSUBPS(sh, a, a)
		e := ZMM()
		c.exp(a, e)
		if k != nil {
			VMOVAPS_Z(e, k, e) // masked-off lanes contribute 0
		}
		if inUnrolled && u == 0 { // sum the two vectors of the unrolled loop in float32 first
			pend = e
			return
		}
		if inUnrolled {
			VADDPS(pend, e, e)
		}
		addPD(e, acc[0], acc[1])
	})
	r := hsumPD(acc[0], acc[1])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// expShift512 writes dst = exp(x-shift) and returns the sum, accumulated in float64.
func genExpShift() {
	TEXT("expShift512", NOSPLIT, "func(dst, x *float32, n int, shift float32) float32")
	dst := ld("dst")
	x := ld("x")
	n := ld("n")
	sh := bcastParam("shift")
	c := expConsts(0)
	acc := zeros(2)
	var pend VecVirtual
	vecLoop("expshift", n, []GPVirtual{dst, x}, 2, func(u, off int, k Op) {
		prefetch(x, off, k)
		a := ZMM()
		load(mem(x, off), a, k)
		VSUBPS(sh, a, a)
		e := ZMM()
		c.exp(a, e)
		store(e, mem(dst, off), k)
		if k != nil {
			VMOVAPS_Z(e, k, e)
		}
		if inUnrolled && u == 0 { // sum the two vectors of the unrolled loop in float32 first
			pend = e
			return
		}
		if inUnrolled {
			VADDPS(pend, e, e)
		}
		addPD(e, acc[0], acc[1])
	})
	r := hsumPD(acc[0], acc[1])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// lse2Acc512 is the first pass of Dukhan & Ablavatski's two-pass softmax ("The Two-Pass
// Softmax Algorithm", 2020, Alg. 3; XNNPACK's f32-raddextexp): every exp(x) is kept as a
// (mantissa p, exponent n) pair, exp(x) = p*2^n, and the running sum is rescaled to the larger
// exponent with VSCALEFPS, so no max pass is needed. Groups of 4 vectors share one rescale of
// the running sum; two groups per iteration keep two independent accumulators. The running sums
// get a TwoSum compensation (a row of 262144 equal logits must stay within 1e-6). It writes 16
// lanes of mantissa then 16 lanes of exponent to out; the caller combines them.
// Inputs are clamped below at -1e6, where n*ln2 keeps the reduction meaningful.
func genLSE2Acc() {
	TEXT("lse2Acc512", NOSPLIT, "func(x *float32, n int, out *float32)")
	x := ld("x")
	n := ld("n")
	out := ld("out")
	c := expConsts(0)
	lo := bcastConst(-1e6)
	// Flush-to-zero and denormals-are-zero for the duration of the loop: terms far below the
	// running maximum underflow to 0 with no microcode assist and no compare mask per vector.
	// MXCSR is restored before returning (Go code never runs with it changed: assembly is not
	// asynchronously preempted, and signal handlers start with a default MXCSR).
	saved, ftz := AllocLocal(4), AllocLocal(4)
	STMXCSR(saved)
	mx32 := GP32()
	MOVL(saved, mx32)
	ORL(U32(0x8040), mx32)
	MOVL(mx32, ftz)
	LDMXCSR(ftz)
	const S = 2 // accumulator sets
	const G = 4 // vectors per group
	var accM, accC, accE [S]VecVirtual
	for i := 0; i < S; i++ {
		accM[i], accC[i], accE[i] = ZMM(), ZMM(), ZMM()
		VPXORD(accM[i], accM[i], accM[i])
		VPXORD(accC[i], accC[i], accC[i])
		VMOVAPS(lo, accE[i])
		VMULPS(c.log2e, accE[i], accE[i])
		VADDPS(lo, accE[i], accE[i]) // below any n of a clamped input
	}
	// group folds the vectors loaded by ld (each ld(i) returns the clamped input vector i)
	// into accumulator set s.
	group := func(s, g int, ldv func(i int) VecVirtual) {
		ns, ps := make([]VecVirtual, g), make([]VecVirtual, g)
		for i := 0; i < g; i++ {
			ns[i], ps[i] = c.reduce(ldv(i))
		}
		gm := ZMM()
		VMAXPS(ns[0], accE[s], gm)
		for i := 1; i < g; i++ {
			VMAXPS(ns[i], gm, gm)
		}
		d := ZMM()
		VSUBPS(gm, accE[s], d) // accE - gm <= 0
		VSCALEFPS(d, accM[s], accM[s])
		VSCALEFPS(d, accC[s], accC[s])
		VMOVAPS(gm, accE[s])
		for i := 0; i < g; i++ {
			VSUBPS(gm, ns[i], ns[i]) // n - gm <= 0
			VSCALEFPS(ns[i], ps[i], ps[i])
		}
		for w := 1; w < g; w *= 2 { // pairwise sum of the group
			for i := 0; i+w < g; i += 2 * w {
				VADDPS(ps[i+w], ps[i], ps[i])
			}
		}
		twoSum(accM[s], ps[0], accC[s])
	}
	loadClamped := func(off int, k Op) VecVirtual {
		a := ZMM()
		if k == nil {
			VMAXPS(mem(x, off), lo, a)
			return a
		}
		VMOVAPS(lo, a) // masked-off lanes act as -1e6: weight 2^-1.44e6, dropped
		VMOVUPS(mem(x, off), k, a)
		VMAXPS(a, lo, a)
		return a
	}
	Label("lse2_loopG")
	CMPQ(n, U32(16*G*S))
	JL(LabelRef("lse2_loop1"))
	for s := 0; s < S; s++ {
		group(s, G, func(i int) VecVirtual {
			prefetch(x, 64*(s*G+i), nil)
			return loadClamped(64*(s*G+i), nil)
		})
	}
	ADDQ(U32(64*G*S), x)
	SUBQ(U32(16*G*S), n)
	JMP(LabelRef("lse2_loopG"))
	Label("lse2_loop1")
	CMPQ(n, U32(16))
	JL(LabelRef("lse2_tail"))
	group(0, 1, func(int) VecVirtual { return loadClamped(0, nil) })
	ADDQ(U32(64), x)
	SUBQ(U32(16), n)
	JMP(LabelRef("lse2_loop1"))
	Label("lse2_tail")
	TESTQ(n, n)
	JZ(LabelRef("lse2_done"))
	m := GP32()
	MOVL(U32(0xFFFF), m)
	BZHIL(n.As32(), m, m)
	KMOVW(m, K1)
	group(1, 1, func(int) VecVirtual { return loadClamped(0, K1) })
	Label("lse2_done")
	// Combine the accumulator sets lane-wise.
	for s := 1; s < S; s++ {
		mx := ZMM()
		VMAXPS(accE[s], accE[0], mx)
		d := ZMM()
		VSUBPS(mx, accE[0], d)
		VSCALEFPS(d, accM[0], accM[0])
		VSCALEFPS(d, accC[0], accC[0])
		VSUBPS(mx, accE[s], d)
		VSCALEFPS(d, accM[s], accM[s])
		VSCALEFPS(d, accC[s], accC[s])
		VADDPS(accC[s], accC[0], accC[0])
		twoSum(accM[0], accM[s], accC[0])
		VMOVAPS(mx, accE[0])
	}
	VADDPS(accC[0], accM[0], accM[0])
	VMOVUPS(accM[0], mem(out, 0))
	VMOVUPS(accE[0], mem(out, 64))
	LDMXCSR(saved)
	VZEROUPPER()
	RET()
}

// twoSum adds y into a, accumulating the rounding error of the addition into c (Knuth's
// TwoSum, exact in round-to-nearest whatever the magnitudes).
func twoSum(a, y, c VecVirtual) {
	s, bv, t := ZMM(), ZMM(), ZMM()
	VADDPS(y, a, s)   // s = a + y
	VSUBPS(a, s, bv)  // bv = s - a
	VSUBPS(bv, s, t)  // t = s - bv
	VSUBPS(t, a, t)   // t = a - (s - bv)
	VSUBPS(bv, y, bv) // bv = y - bv
	VADDPS(bv, t, t)  // err
	VADDPS(t, c, c)
	VMOVAPS(s, a)
}

// ---- SiLU / SwiGLU: elementwise.go ----

// ---- AdamW ----

// adamW512 updates p, m, v in place; prm holds b1, 1-b1, b2, 1-b2, stepSize, 1/sqrt(bc2), eps,
// decay (see adamwGeneric).
func genAdamW() {
	TEXT("adamW512", NOSPLIT, "func(p, grad, m, v *float32, n int, prm *[8]float32)")
	p := ld("p")
	g := ld("grad")
	m := ld("m")
	v := ld("v")
	n := ld("n")
	prm := ld("prm")
	c := make([]VecVirtual, 8)
	for i := range c {
		c[i] = ZMM()
		VBROADCASTSS(mem(prm, 4*i), c[i])
	}
	b1, c1, b2, c2, step, ibc2, eps, decay := c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
	vecLoop("adamw", n, []GPVirtual{p, g, m, v}, 1, func(u, off int, k Op) {
		vg, vm, vv, vp := ZMM(), ZMM(), ZMM(), ZMM()
		load(mem(g, off), vg, k)
		load(mem(m, off), vm, k)
		load(mem(v, off), vv, k)
		load(mem(p, off), vp, k)
		t := ZMM()
		VMULPS(c1, vg, t)
		VFMADD213PS(t, b1, vm) // m = b1*m + c1*g
		VMULPS(vg, vg, t)
		VMULPS(c2, t, t)
		VFMADD213PS(t, b2, vv) // v = b2*v + c2*g*g
		store(vm, mem(m, off), k)
		store(vv, mem(v, off), k)
		d := ZMM()
		VSQRTPS(vv, d)
		VFMADD213PS(eps, ibc2, d) // sqrt(v)/sqrt(bc2) + eps
		q := ZMM()
		VMULPS(step, vm, q)
		VDIVPS(d, q, q)
		VMULPS(decay, vp, vp)
		VSUBPS(q, vp, vp)
		store(vp, mem(p, off), k)
	})
	VZEROUPPER()
	RET()
}

func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

func zreg(i int) VecPhysical {
	all := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}
	if i < 0 || i >= len(all) {
		panic(fmt.Sprintf("zreg %d", i))
	}
	return all[i]
}

// fmaPeak512 runs iters iterations of 24 independent VFMADD231PS chains (768 flops each):
// enough chains to cover the FMA latency on two ports, so it measures the throughput peak.
func genFMAPeak() {
	TEXT("fmaPeak512", NOSPLIT, "func(iters int) float32")
	it := ld("iters")
	for i := 0; i < 24; i++ {
		VPXORD(zreg(i), zreg(i), zreg(i))
	}
	one := Z30
	small := Z31
	t := GP32()
	MOVL(U32(math.Float32bits(1e-7)), t)
	VPBROADCASTD(t, small)
	MOVL(U32(math.Float32bits(0.999)), t)
	VPBROADCASTD(t, one)
	Label("fp_loop")
	for i := 0; i < 24; i++ {
		VFMADD231PS(small, one, zreg(i))
	}
	DECQ(it)
	JNZ(LabelRef("fp_loop"))
	for i := 1; i < 24; i++ {
		VADDPS(zreg(i), Z0, Z0)
	}
	VZEROUPPER()
	Store(X0, ReturnIndex(0))
	RET()
}
