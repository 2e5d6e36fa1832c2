package kernels

import (
	"fmt"
	"os"
	"strings"
)

// impl is one ISA's set of inner loops. The exported kernels hold the shape logic (rows,
// threads, masks, targets) once, in Go, and call through the active impl for the loops.
type impl struct {
	name string

	dot   func(x, y []float32) float32
	axpy  func(alpha float32, x, y []float32)
	scale func(alpha float32, x []float32)
	sum   func(x []float32) float32
	max   func(x []float32) float32

	lse3 func(x []float32) float32 // three-pass: max, sum exp, log
	lse2 func(x []float32) float32 // single read of x (two-pass algorithm when an output follows)
	// lse2From is the row length from which LogSumExp prefers lse2 (per-ISA, measured).
	lse2From int

	expShift  func(dst, x []float32, shift float32) float32 // dst=exp(x-shift), returns sum
	ceRow     func(dst, x []float32, lse, g float32)        // dst=g*exp(x-lse)
	addScalar func(dst, x []float32, c float32)             // dst=x+c

	sumSquares func(x []float32) float64
	mulScale   func(out, x, w []float32, r float32) // out=x*r*w
	rmsBackRow func(dx, dw, dout, x, w []float32, r float32)

	silu     func(dst, x []float32)
	siluBack func(dx, dout, x []float32)
	swigluF  func(out, gate, up []float32)
	swigluB  func(dgate, dup, dout, gate, up []float32)
	adamw    func(p, g, m, v []float32, lr, beta1, beta2, eps, weightDecay float32, step int)
	gemm     gemmKernel

	// rmsFwdRows and rmsBwdRows, when set, run RMSNorm over all rows in one call (rows, dim >= 1);
	// otherwise the per-row loops above are used.
	rmsFwdRows func(out, rstd, x, w []float32, rows, dim int, eps float32)
	rmsBwdRows func(dx, dw, dout, x, w, rstd []float32, rows, dim int)

	// dequantF16 converts len(dst) binary16 values; dequantQ8_0 len(dst)/32 Q8_0 blocks.
	dequantF16  func(dst []float32, src []byte)
	dequantQ8_0 func(dst []float32, src []byte)
	// dequantQ4_1, dequantQ5_0 and dequantQ5_1 convert len(dst)/32 blocks of their type.
	dequantQ4_1, dequantQ5_0, dequantQ5_1 func(dst []float32, src []byte)
	// q4kBlock, when set, converts the 256 quants q (128 bytes) of one Q4_K block given its 8
	// scales and 8 mins (dm); otherwise the Go loop runs.
	q4kBlock func(y []float32, q []byte, dm *[16]float32)
	// q2kBlock and q3kBlock, when set, convert one Q2_K / Q3_K block's quants given its
	// sub-block scales (and Q2_K's mins), computed in Go (quant_k23.go); otherwise Go loops run.
	q2kBlock func(y []float32, q []byte, dm *[32]float32)
	q3kBlock func(y []float32, q, hm []byte, dl *[16]float32)

	// rope rotates one row x (heads × stride floats) with cs = [cos(half) | sin(half)].
	rope func(x, cs []float32, heads, stride, ropeDim int, neox, inverse bool)

	// fmaPeak runs iters iterations of independent multiply-add chains, fmaFlops flops each:
	// the benchmark's compute limit for this ISA.
	fmaPeak  func(iters int) float32
	fmaFlops int

	// attnRows, when set, are SIMD row kernels of the small-head attention for head dims that
	// are multiples of 8 (attnrows.go); otherwise the pure-Go twins run.
	attnRows *attnRowImpl
}

var genericImpl = impl{
	name:        "generic",
	dot:         dotGeneric,
	axpy:        axpyGeneric,
	scale:       scaleGeneric,
	sum:         sumGeneric,
	max:         maxGeneric,
	lse3:        lse3Generic,
	lse2:        lse2Generic,
	lse2From:    16384, // measured: the online variant is ~8% faster from V=32000, slower at 1024
	expShift:    expShiftGeneric,
	ceRow:       ceRowGeneric,
	addScalar:   addScalarGeneric,
	sumSquares:  sumSquaresGeneric,
	mulScale:    mulScaleGeneric,
	rmsBackRow:  rmsBackRowGeneric,
	silu:        siluGeneric,
	siluBack:    siluBackwardGeneric,
	swigluF:     swigluForwardGeneric,
	swigluB:     swigluBackwardGeneric,
	adamw:       adamwGeneric,
	gemm:        genericGemmKernel,
	rope:        ropeGeneric,
	dequantF16:  dequantF16Generic,
	dequantQ8_0: dequantQ8_0Generic,
	dequantQ4_1: dequantQ4_1Generic,
	dequantQ5_0: dequantQ5_0Generic,
	dequantQ5_1: dequantQ5_1Generic,
	fmaPeak:     fmaPeakGeneric,
	fmaFlops:    16,
}

// active is the dispatch table, set once at init and never written afterwards. It is the one
// package-level variable of align that is not constant (STYLE.md).
var active = chooseImpl(os.Getenv("ALIGN_KERNELS"), os.Stderr)

// availableImpls lists every implementation this CPU runs, best last. The SIMD ones are added by
// the amd64 files (archImpls).
func availableImpls() []*impl {
	out := []*impl{&genericImpl}
	return append(out, archImpls()...)
}

// chooseImpl picks the best available implementation, or the one named by force
// ("generic", "avx2", "avx512"). A name that is unknown or that this CPU cannot run falls back
// to the best available path with a warning on warn: a typo must not stop a training run, and
// the warning (plus `align version`) says what was used.
func chooseImpl(force string, warn interface{ Write([]byte) (int, error) }) *impl {
	all := availableImpls()
	best := all[len(all)-1]
	force = strings.ToLower(strings.TrimSpace(force))
	if force == "" || force == "auto" {
		return best
	}
	for _, im := range all {
		if im.name == force {
			return im
		}
	}
	known := map[string]bool{"generic": true, "avx2": true, "avx512": true}
	if known[force] {
		fmt.Fprintf(warn, "align: ALIGN_KERNELS=%s is not supported by this CPU; using %s\n", force, best.name)
	} else {
		fmt.Fprintf(warn, "align: ALIGN_KERNELS=%q is unknown (want generic, avx2 or avx512); using %s\n", force, best.name)
	}
	return best
}

// ISA names the kernel implementation chosen at init: "avx512", "avx2" or "generic".
func ISA() string { return active.name }

// ISAs lists the implementations this CPU can run, in order generic, avx2, avx512.
func ISAs() []string {
	var out []string
	for _, im := range availableImpls() {
		out = append(out, im.name)
	}
	return out
}

// implByName returns the implementation with that name, or nil if this CPU cannot run it.
func implByName(name string) *impl {
	for _, im := range availableImpls() {
		if im.name == name {
			return im
		}
	}
	return nil
}
