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
