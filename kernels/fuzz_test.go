package kernels

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzSIMDvsGeneric compares every SIMD implementation with its pure-Go twin on arbitrary
// inputs: `go test -fuzz FuzzSIMDvsGeneric ./kernels`. The bytes become float32 values (folded
// into [-100, 100] so that sums stay finite; -Inf masks are kept).
func FuzzSIMDvsGeneric(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 64}, uint8(3))
	f.Add(make([]byte, 4*37), uint8(0))
	seed := make([]byte, 4*70)
	for i := range seed {
		seed[i] = byte(i * 37)
	}
	f.Add(seed, uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		n := len(data) / 4
		x := make([]float32, n)
		for i := range x {
			v := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			switch {
			case math.IsInf(float64(v), -1):
			case v != v || math.IsInf(float64(v), 1):
				v = 0
			default:
				v = float32(math.Mod(float64(v), 100))
			}
			x[i] = v
		}
		y := make([]float32, n)
		for i := range y {
			y[i] = float32(math.Sin(float64(i)+float64(sel))) * 3
		}
		gen := &genericImpl
		for _, im := range availableImpls() {
			if im == gen {
				continue
			}
			fin := finite(x)
			sumAbs := 0.0
			for i := range fin {
				sumAbs += math.Abs(float64(fin[i])) * (1 + math.Abs(float64(y[i])))
			}
			if a, b := im.dot(fin, y), gen.dot(fin, y); math.Abs(float64(a-b)) > 1e-5*sumAbs+1e-6 {
				t.Fatalf("%s dot %g, generic %g", im.name, a, b)
			}
			if a, b := im.sum(fin), gen.sum(fin); math.Abs(float64(a-b)) > 1e-5*sumAbs+1e-6 {
				t.Fatalf("%s sum %g, generic %g", im.name, a, b)
			}
			if a, b := im.max(x), gen.max(x); a != b {
				t.Fatalf("%s max %g, generic %g", im.name, a, b)
			}
			l := gen.lse3(x)
			for alg, fn := range map[string]func([]float32) float32{"lse3": im.lse3, "lse2": im.lse2} {
				if a := fn(x); !closeRel(float64(a), float64(l), 1e-6, 1e-6) {
					t.Fatalf("%s %s %g, generic %g", im.name, alg, a, l)
				}
			}
			if math.IsInf(float64(l), 0) {
				continue
			}
			d1, d2 := make([]float32, n), make([]float32, n)
			softmaxWith(im, d1, x)
			softmaxWith(gen, d2, x)
			for i := range d1 {
				if !closeRel(float64(d1[i]), float64(d2[i]), 4e-6, 1e-7) {
					t.Fatalf("%s softmax[%d] %g, generic %g", im.name, i, d1[i], d2[i])
				}
			}
			im.ceRow(d1, x, l, 0.5)
			gen.ceRow(d2, x, l, 0.5)
			for i := range d1 {
				if !closeRel(float64(d1[i]), float64(d2[i]), 4e-6, 1e-7) {
					t.Fatalf("%s ceRow[%d] %g, generic %g", im.name, i, d1[i], d2[i])
				}
			}
			im.silu(d1, fin)
			gen.silu(d2, fin)
			for i := range d1 {
				if !closeRel(float64(d1[i]), float64(d2[i]), 4e-6, 1e-30) {
					t.Fatalf("%s silu(%g) %g, generic %g", im.name, fin[i], d1[i], d2[i])
				}
			}
			fuzzLayers(t, im, gen, fin, y, sel)
			// SGEMM on a k×k' reading of the data.
			if n >= 4 {
				m := int(sel%7) + 1
				k := n / m
				kk := int(sel%5) + 1
				c1, c2 := make([]float32, m*kk), make([]float32, m*kk)
				b := y[:k*kk%max(len(y), 1)]
				if len(b) < k*kk {
					b = make([]float32, k*kk)
					for i := range b {
						b[i] = float32(i%5) - 2
					}
				}
				sgemmWith(im, 2, false, false, m, kk, k, 1, fin, k, b, kk, 0, c1, kk)
				sgemmWith(gen, 1, false, false, m, kk, k, 1, fin, k, b, kk, 0, c2, kk)
				for i := range c1 {
					if !closeRel(float64(c1[i]), float64(c2[i]), 1e-5, 1e-5*sumAbs+1e-6) {
						t.Fatalf("%s sgemm[%d] %g, generic %g", im.name, i, c1[i], c2[i])
					}
				}
			}
		}
	})
}

func finite(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		if !math.IsInf(float64(v), 0) {
			out[i] = v
		}
	}
	return out
}

// fuzzLayers compares the normalisation and element-wise kernels of im with the pure-Go twins:
// RMSNorm (rows of sel%5+1 dims), SiLU'/SwiGLU, AdamW, and RoPE (bit-identical).
func fuzzLayers(t *testing.T, im, gen *impl, x, y []float32, sel uint8) {
	n := len(x)
	close := func(what string, a, b []float32, rel, abs float64) {
		t.Helper()
		for i := range a {
			if !closeRel(float64(a[i]), float64(b[i]), rel, abs) {
				t.Fatalf("%s %s[%d] %g, generic %g", im.name, what, i, a[i], b[i])
			}
		}
	}
	if dim := int(sel%5) + 1; n >= dim {
		rows := min(n/dim, 32)
		w := y[:dim]
		o1, o2 := make([]float32, rows*dim), make([]float32, rows*dim)
		r1, r2 := make([]float32, rows), make([]float32, rows)
		rmsNormForwardWith(im, o1, r1, x, w, rows, dim, 1e-5)
		rmsNormForwardWith(gen, o2, r2, x, w, rows, dim, 1e-5)
		close("rmsnorm rstd", r1, r2, 2e-6, 0)
		close("rmsnorm out", o1, o2, 4e-6, 1e-6)
		dw1, dw2 := make([]float32, dim), make([]float32, dim)
		dout := y[:rows*dim]
		rmsNormBackwardWith(im, o1, dw1, dout, x, w, r2, rows, dim)
		rmsNormBackwardWith(gen, o2, dw2, dout, x, w, r2, rows, dim)
		var scale float64 // the size of the terms that cancel in dx
		dwAbs := make([]float64, dim)
		for i := 0; i < rows*dim; i++ {
			scale = max(scale, math.Abs(float64(dout[i]*w[i%dim]*r2[i/dim])))
			dwAbs[i%dim] += math.Abs(float64(dout[i]) * float64(x[i]) * float64(r2[i/dim]))
		}
		close("rmsnorm dx", o1, o2, 1e-5, 1e-5*scale+1e-6)
		// dw is a float32 running sum over the rows on both paths, of terms rounded differently:
		// they may drift apart by rows·2^-23 of the sum of |terms|.
		for i := range dw1 {
			if d := math.Abs(float64(dw1[i] - dw2[i])); d > float64(rows)*0x1p-23*dwAbs[i]+1e-6 {
				t.Fatalf("%s rmsnorm dw[%d] %g, generic %g", im.name, i, dw1[i], dw2[i])
			}
		}
	}
	d1, d2, e1, e2 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	im.siluBack(d1, y, x)
	gen.siluBack(d2, y, x)
	close("siluBack", d1, d2, 8e-6, 1e-6)
	im.swigluF(d1, x, y)
	gen.swigluF(d2, x, y)
	close("swiglu", d1, d2, 4e-6, 1e-30)
	im.swigluB(d1, e1, y, x, y)
	gen.swigluB(d2, e2, y, x, y)
	close("swigluBack dgate", d1, d2, 8e-6, 1e-5)
	close("swigluBack dup", e1, e2, 4e-6, 1e-30)
	// AdamW: x as parameters, y as gradients, zero moments at step sel%4+1.
	p1, p2 := append([]float32(nil), x...), append([]float32(nil), x...)
	m1, m2, v1, v2 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	step := int(sel%4) + 1
	im.adamw(p1, y, m1, v1, 1e-3, 0.9, 0.999, 1e-8, 0.01, step)
	gen.adamw(p2, y, m2, v2, 1e-3, 0.9, 0.999, 1e-8, 0.01, step)
	close("adamw m", m1, m2, 1e-6, 0)
	close("adamw v", v1, v2, 1e-6, 0)
	close("adamw p", p1, p2, 1e-6, 1e-6)
	// RoPE: one row of `heads` heads, pairs from the data length, position from sel.
	if half := n / 4; half > 0 {
		heads := 2
		stride := n / heads
		ropeDim := 2 * min(half, stride/2)
		if ropeDim > 0 {
			cs := make([]float32, ropeDim)
			ropeFill(cs, []int32{int32(sel) * 37}, 1, ropeDim, 10000)
			for _, neox := range []bool{false, true} {
				a, b := append([]float32(nil), x...), append([]float32(nil), x...)
				im.rope(a, cs, heads, stride, ropeDim, neox, sel%2 == 1)
				gen.rope(b, cs, heads, stride, ropeDim, neox, sel%2 == 1)
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
						t.Fatalf("%s rope neox=%v [%d] %g, generic %g", im.name, neox, i, a[i], b[i])
					}
				}
			}
		}
	}
}
