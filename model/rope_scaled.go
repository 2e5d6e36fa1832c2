package model

import (
	"math"

	"github.com/alignkit/align/kernels"
)

// RoPE with scaling. Unscaled models rotate through the model's kernels.RoPETable; a model
// with linear scaling (Config.RopeScale) or per-pair frequency factors (Config.RopeFreqs,
// rope_freqs.weight) rotates here, as llama.cpp's ggml_rope_ext with freq_scale and
// freq_factors: pair i of a row at position p turns by
//
//	p · freqScale · theta^(-2i/ropeDim) / factor_i,   freqScale = 1/RopeScale,
//
// computed in float64 and rounded to float32 once (cos and sin); the rotation is float32 with
// each product rounded, as the kernels do.

// rope rotates, in place, the first RopeDim dims of every head of x [T][nHeads][HeadDim] with
// the model's global RoPE base and scaling; inverse applies the transposed rotation (the
// backward).
func (m *Model) rope(x []float32, pos []int32, T, nHeads int, inverse bool) {
	m.ropeAt(-1, x, pos, T, nHeads, inverse)
}

// ropeAt is rope for block l, whose base and scaling may be its own (Config.layerRope: gemma3's
// local layers); l < 0 means the global ones.
func (m *Model) ropeAt(l int, x []float32, pos []int32, T, nHeads int, inverse bool) {
	c := m.cfg
	theta, freqScale := c.layerRope(l)
	if freqScale == 1 && c.RopeFreqs == nil && c.ropeMScale() == 1 {
		tb := m.ropeTable(theta, pos[:T])
		if inverse {
			tb.Backward(x, pos, T, nHeads, c.HeadDim, c.RopeNeoX)
		} else {
			tb.Forward(x, pos, T, nHeads, c.HeadDim, c.RopeNeoX)
		}
		return
	}
	ropeScaledApply(x, pos, T, nHeads, c.HeadDim, c.RopeDim, theta, freqScale, c.RopeFreqs, c.ropeMScale(), c.RopeNeoX, inverse)
}

// ropeTable returns the model's cos/sin table of the unscaled RoPE of base theta, covering
// every position in pos. It is built on first use and regrown (to the next power of two) when a
// longer sequence arrives; its rows do not depend on its length, so results are the same
// whatever its size, and the same as kernels.RoPEForward's per-call table.
func (m *Model) ropeTable(theta float32, pos []int32) *kernels.RoPETable {
	need := 1
	for _, p := range pos {
		need = max(need, int(p)+1)
	}
	m.ropeMu.Lock()
	defer m.ropeMu.Unlock()
	if m.ropeTabs == nil {
		m.ropeTabs = map[float32]*kernels.RoPETable{}
	}
	tb := m.ropeTabs[theta]
	if tb == nil || tb.MaxPos() < need {
		n := 256
		for n < need {
			n *= 2
		}
		tb = kernels.NewRoPETable(n, m.cfg.RopeDim, theta)
		m.ropeTabs[theta] = tb
	}
	return tb
}

// ropeInvFreqs returns the per-pair angular speed: freqScale·theta^(-2i/ropeDim)/factor_i.
func ropeInvFreqs(ropeDim int, theta, freqScale float32, factors []float32) []float64 {
	f := make([]float64, ropeDim/2)
	for i := range f {
		f[i] = float64(freqScale) * math.Pow(float64(theta), -2*float64(i)/float64(ropeDim))
		if factors != nil {
			f[i] /= float64(factors[i])
		}
	}
	return f
}

// mscale multiplies cos and sin (Config.RopeAttnFactor; 1 = none).
func ropeScaledApply(x []float32, pos []int32, T, nHeads, headDim, ropeDim int, theta, freqScale float32, factors []float32, mscale float32, neox, inverse bool) {
	half := ropeDim / 2
	if half == 0 {
		return
	}
	inv := ropeInvFreqs(ropeDim, theta, freqScale, factors)
	cs, sn := make([]float32, half), make([]float32, half)
	row := nHeads * headDim
	for t := 0; t < T; t++ {
		for i := range inv {
			s, c := math.Sincos(float64(pos[t]) * inv[i])
			cs[i], sn[i] = float32(c)*mscale, float32(s)*mscale
			if inverse {
				sn[i] = -sn[i]
			}
		}
		for h := 0; h < nHeads; h++ {
			xh := x[t*row+h*headDim : t*row+(h+1)*headDim]
			for i := 0; i < half; i++ {
				i0, i1 := 2*i, 2*i+1
				if neox {
					i0, i1 = i, i+half
				}
				x0, x1 := xh[i0], xh[i1]
				xh[i0] = float32(x0*cs[i]) - float32(x1*sn[i])
				xh[i1] = float32(x0*sn[i]) + float32(x1*cs[i])
			}
		}
	}
}
