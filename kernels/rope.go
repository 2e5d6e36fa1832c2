package kernels

import (
	"fmt"
	"math"
)

// RoPE (RoFormer, Su et al. 2021, eq. 34) rotates pair i of the first ropeDim dims of every
// head by the angle pos*theta^(-2i/ropeDim). The cos and sin of those angles are computed in
// float64 and rounded to float32 once, into a table of one row per position: [cos(half) |
// sin(half)], half = ropeDim/2. The rotation itself is float32, without fused multiply-adds
// (x0*c and x1*s are each rounded, then subtracted), so that the SIMD paths and the pure-Go twin
// give bit-identical results.

// ropeAnchor is the spacing of the positions whose cos/sin are computed with math.Sincos; the
// positions between are reached from the anchor below by at most ropeAnchor-1 float64 rotations
// by the angle of one step (error near 1e-14, far under float32's 6e-8). A position's value
// depends only on the position, so RoPETable and RoPEForward give the same bits.
const ropeAnchor = 64

// RoPETable is a precomputed RoPE cos/sin table for positions [0, maxPos) and one (ropeDim,
// theta). Build it once per model (it is immutable, so layers, steps and goroutines can share
// it) and call Forward/Backward: the rotation then reads the table instead of computing
// T*ropeDim/2 sines and cosines per call.
type RoPETable struct {
	ropeDim, maxPos int
	theta           float32
	cs              []float32 // maxPos rows of ropeDim floats: cos(half), then sin(half)
}

// NewRoPETable computes the table for positions [0, maxPos). ropeDim must be even and >= 0.
func NewRoPETable(maxPos, ropeDim int, theta float32) *RoPETable {
	if ropeDim%2 != 0 || ropeDim < 0 || maxPos < 0 {
		panic(fmt.Sprintf("kernels: NewRoPETable: ropeDim %d must be even and >= 0, maxPos %d >= 0", ropeDim, maxPos))
	}
	tb := &RoPETable{ropeDim: ropeDim, maxPos: maxPos, theta: theta, cs: make([]float32, maxPos*ropeDim)}
	ropeFill(tb.cs, nil, maxPos, ropeDim, theta)
	return tb
}

// RopeDim returns the number of rotated dims per head.
func (tb *RoPETable) RopeDim() int { return tb.ropeDim }

// MaxPos returns the number of positions the table holds.
func (tb *RoPETable) MaxPos() int { return tb.maxPos }

// Theta returns the base of the frequencies.
func (tb *RoPETable) Theta() float32 { return tb.theta }

// Forward is RoPEForward with the table's ropeDim and theta; every pos[t] must be in
// [0, MaxPos()).
func (tb *RoPETable) Forward(x []float32, pos []int32, T, nHeads, headDim int, neox bool) {
	tb.apply(active, x, pos, T, nHeads, headDim, neox, false)
}

// Backward is RoPEBackward with the table's ropeDim and theta.
func (tb *RoPETable) Backward(dx []float32, pos []int32, T, nHeads, headDim int, neox bool) {
	tb.apply(active, dx, pos, T, nHeads, headDim, neox, true)
}

func (tb *RoPETable) apply(im *impl, x []float32, pos []int32, T, nHeads, headDim int, neox, inverse bool) {
	ropeCheck(x, pos, T, nHeads, headDim, tb.ropeDim)
	for t := 0; t < T; t++ {
		if p := pos[t]; p < 0 || int(p) >= tb.maxPos {
			panic(fmt.Sprintf("kernels: RoPETable: position %d at row %d outside the table [0,%d)", p, t, tb.maxPos))
		}
	}
	if tb.ropeDim == 0 {
		return
	}
	rd, row := tb.ropeDim, nHeads*headDim
	for t := 0; t < T; t++ {
		p := int(pos[t])
		im.rope(x[t*row:(t+1)*row], tb.cs[p*rd:(p+1)*rd], nHeads, headDim, rd, neox, inverse)
	}
}

// RoPEForward rotates, in place, the first ropeDim dims of every head of x, laid out
// [T][nHeads][headDim]. pos[t] is the position of row t. neox=false rotates adjacent pairs
// (x[2i], x[2i+1]) as llama.cpp's "norm" mode and llama2.c; neox=true rotates halves
// (x[i], x[i+ropeDim/2]) as NeoX/HF. The angle of pair i is pos*theta^(-2i/ropeDim), computed in
// float64 (RoFormer, Su et al. 2021, eq. 34). It computes the cos/sin of the T rows on every
// call; a model calling it for many layers and steps should build a RoPETable once instead.
func RoPEForward(x []float32, pos []int32, T, nHeads, headDim, ropeDim int, theta float32, neox bool) {
	ropeWith(active, x, pos, T, nHeads, headDim, ropeDim, theta, neox, false)
}

// RoPEBackward applies the inverse rotation in place: the gradient of RoPEForward.
func RoPEBackward(dx []float32, pos []int32, T, nHeads, headDim, ropeDim int, theta float32, neox bool) {
	ropeWith(active, dx, pos, T, nHeads, headDim, ropeDim, theta, neox, true)
}

func ropeCheck(x []float32, pos []int32, T, nHeads, headDim, ropeDim int) {
	if ropeDim > headDim || ropeDim%2 != 0 || ropeDim < 0 {
		panic(fmt.Sprintf("kernels: RoPE: ropeDim %d must be even and <= headDim %d", ropeDim, headDim))
	}
	checkLen("RoPE x", len(x), T*nHeads*headDim)
	checkLen("RoPE pos", len(pos), T)
}

func ropeWith(im *impl, x []float32, pos []int32, T, nHeads, headDim, ropeDim int, theta float32, neox, inverse bool) {
	ropeCheck(x, pos, T, nHeads, headDim, ropeDim)
	if ropeDim == 0 || T == 0 {
		return
	}
	// One cos/sin row at a time (a few KB per call, not a T-row table).
	var rowBuf [256]float32
	var stateBuf [5 * 128]float64
	cs := rowBuf[:]
	state := stateBuf[:]
	if ropeDim > len(rowBuf) {
		cs, state = make([]float32, ropeDim), make([]float64, 5*ropeDim/2)
	}
	cs = cs[:ropeDim]
	f := newRopeFiller(state, ropeDim, theta)
	row := nHeads * headDim
	for t := 0; t < T; t++ {
		f.fill(cs, int64(pos[t]))
		im.rope(x[t*row:(t+1)*row], cs, nHeads, headDim, ropeDim, neox, inverse)
	}
}

// ropeFill writes rows rows of [cos(half) | sin(half)] into cs: row r is position pos[r], or r
// when pos is nil.
func ropeFill(cs []float32, pos []int32, rows, ropeDim int, theta float32) {
	if ropeDim/2 == 0 {
		return
	}
	f := newRopeFiller(make([]float64, 5*(ropeDim/2)), ropeDim, theta)
	for r := 0; r < rows; r++ {
		p := int64(r)
		if pos != nil {
			p = int64(pos[r])
		}
		f.fill(cs[r*ropeDim:(r+1)*ropeDim], p)
	}
}

// ropeFiller computes table rows. Each position's value is the exact float64 cos/sin of its
// anchor (p rounded down to a multiple of ropeAnchor) rotated p-anchor times by one step, so it
// depends on p only; consecutive positions reuse the previous row's float64 state.
type ropeFiller struct {
	freq, stepC, stepS, c, s []float64
	prev                     int64
	valid                    bool
}

// newRopeFiller uses state (5*ropeDim/2 float64s) as its storage.
func newRopeFiller(state []float64, ropeDim int, theta float32) *ropeFiller {
	half := ropeDim / 2
	f := &ropeFiller{freq: state[:half], stepC: state[half : 2*half], stepS: state[2*half : 3*half],
		c: state[3*half : 4*half], s: state[4*half : 5*half]}
	for i := range f.freq {
		f.freq[i] = math.Pow(float64(theta), -2*float64(i)/float64(ropeDim))
		f.stepS[i], f.stepC[i] = math.Sincos(f.freq[i])
	}
	return f
}

// fill writes the row of position p into out (len ropeDim).
func (f *ropeFiller) fill(out []float32, p int64) {
	k := p % ropeAnchor
	if k < 0 {
		k += ropeAnchor
	}
	switch {
	case f.valid && p == f.prev:
		// same position again: c, s hold it
	case f.valid && p == f.prev+1 && k != 0:
		ropeStep(f.c, f.s, f.stepC, f.stepS)
	default:
		a := float64(p - k)
		for i, fr := range f.freq {
			f.s[i], f.c[i] = math.Sincos(a * fr)
		}
		for j := int64(0); j < k; j++ {
			ropeStep(f.c, f.s, f.stepC, f.stepS)
		}
	}
	f.prev, f.valid = p, true
	half := len(f.c)
	oc, os := out[:half], out[half:2*half]
	for i := range f.c {
		oc[i] = float32(f.c[i])
		os[i] = float32(f.s[i])
	}
}

// ropeStep advances the angles by one position: (c, s) rotated by (stepC, stepS).
func ropeStep(c, s, stepC, stepS []float64) {
	stepC, stepS, s = stepC[:len(c)], stepS[:len(c)], s[:len(c)]
	for i := range c {
		ci, si := c[i], s[i]
		c[i] = ci*stepC[i] - si*stepS[i]
		s[i] = si*stepC[i] + ci*stepS[i]
	}
}

// ropeRowGeneric rotates pairs [j0, ropeDim/2) of every head of one row x (heads × stride
// floats) with cs = [cos(half) | sin(half)]; inverse rotates by the opposite angle. The SIMD
// routines compute exactly these roundings: two rounded products, then one rounded sum.
func ropeRowGeneric(x, cs []float32, heads, stride, ropeDim, j0 int, neox, inverse bool) {
	half := ropeDim / 2
	cos, sin := cs[:half], cs[half:ropeDim]
	for h := 0; h < heads; h++ {
		hd := x[h*stride : h*stride+ropeDim]
		if neox {
			a, b := hd[:half], hd[half:ropeDim]
			for i := j0; i < half; i++ {
				c, s := cos[i], sin[i]
				if inverse {
					s = -s
				}
				x0, x1 := a[i], b[i]
				a[i] = float32(x0*c) - float32(x1*s)
				b[i] = float32(x0*s) + float32(x1*c)
			}
			continue
		}
		for i := j0; i < half; i++ {
			c, s := cos[i], sin[i]
			if inverse {
				s = -s
			}
			x0, x1 := hd[2*i], hd[2*i+1]
			hd[2*i] = float32(x0*c) - float32(x1*s)
			hd[2*i+1] = float32(x0*s) + float32(x1*c)
		}
	}
}

func ropeGeneric(x, cs []float32, heads, stride, ropeDim int, neox, inverse bool) {
	ropeRowGeneric(x, cs, heads, stride, ropeDim, 0, neox, inverse)
}
