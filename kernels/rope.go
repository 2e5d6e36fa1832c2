package kernels

import (
	"fmt"
	"math"
)

// RoPEForward rotates, in place, the first ropeDim dims of every head of x, laid out
// [T][nHeads][headDim]. pos[t] is the position of row t. neox=false rotates adjacent pairs
// (x[2i], x[2i+1]) as llama.cpp's "norm" mode and llama2.c; neox=true rotates halves
// (x[i], x[i+ropeDim/2]) as NeoX/HF. The angle of pair i is pos*theta^(-2i/ropeDim), computed in
// float64 (RoFormer, Su et al. 2021, eq. 34).
func RoPEForward(x []float32, pos []int32, T, nHeads, headDim, ropeDim int, theta float32, neox bool) {
	rope(x, pos, T, nHeads, headDim, ropeDim, theta, neox, false)
}

// RoPEBackward applies the inverse rotation in place: the gradient of RoPEForward.
func RoPEBackward(dx []float32, pos []int32, T, nHeads, headDim, ropeDim int, theta float32, neox bool) {
	rope(dx, pos, T, nHeads, headDim, ropeDim, theta, neox, true)
}

func rope(x []float32, pos []int32, T, nHeads, headDim, ropeDim int, theta float32, neox, inverse bool) {
	if ropeDim > headDim || ropeDim%2 != 0 || ropeDim < 0 {
		panic(fmt.Sprintf("kernels: RoPE: ropeDim %d must be even and <= headDim %d", ropeDim, headDim))
	}
	checkLen("RoPE x", len(x), T*nHeads*headDim)
	checkLen("RoPE pos", len(pos), T)
	half := ropeDim / 2
	if half == 0 {
		return
	}
	freq := make([]float64, half)
	for i := range freq {
		freq[i] = math.Pow(float64(theta), -2*float64(i)/float64(ropeDim))
	}
	cs := make([]float32, 2*half) // cos, then sin, for the current row
	cos, sin := cs[:half], cs[half:]
	for t := 0; t < T; t++ {
		p := float64(pos[t])
		for i, f := range freq {
			s, c := math.Sincos(p * f)
			cos[i] = float32(c)
			if inverse {
				s = -s
			}
			sin[i] = float32(s)
		}
		row := x[t*nHeads*headDim : (t+1)*nHeads*headDim]
		for h := 0; h < nHeads; h++ {
			hd := row[h*headDim : h*headDim+ropeDim]
			if neox {
				a, b := hd[:half], hd[half:ropeDim]
				for i := range a {
					x0, x1 := a[i], b[i]
					a[i] = x0*cos[i] - x1*sin[i]
					b[i] = x0*sin[i] + x1*cos[i]
				}
			} else {
				for i := 0; i < half; i++ {
					x0, x1 := hd[2*i], hd[2*i+1]
					hd[2*i] = x0*cos[i] - x1*sin[i]
					hd[2*i+1] = x0*sin[i] + x1*cos[i]
				}
			}
		}
	}
}
