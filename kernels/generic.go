package kernels

import "math"

// This file holds the pure-Go twins of every kernel. They are the only implementation on
// non-amd64 architectures and under ALIGN_KERNELS=generic, and the reference the SIMD paths are
// fuzzed against. They favour accuracy (float64 accumulation, math.Exp) over speed.

func dotGeneric(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i]) * float64(y[i])
		s1 += float64(x[i+1]) * float64(y[i+1])
		s2 += float64(x[i+2]) * float64(y[i+2])
		s3 += float64(x[i+3]) * float64(y[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(y[i])
	}
	return float32((s0 + s1) + (s2 + s3))
}

func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func scaleGeneric(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

func sumGeneric(x []float32) float32 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return float32((s0 + s1) + (s2 + s3))
}

// maxGeneric returns the largest element, -Inf for an empty slice. NaN elements are skipped here;
// the SIMD paths (MAXPS semantics) may return NaN or skip it: NaN inputs are unspecified.
func maxGeneric(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// lse3Generic is the three-pass log-sum-exp: max, then sum of exp(x-max) in float64.
func lse3Generic(x []float32) float32 {
	m := maxGeneric(x)
	if math.IsInf(float64(m), 0) {
		return m
	}
	mf := float64(m)
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - mf)
	}
	return float32(mf + math.Log(s))
}

// lse2Generic is the single-read (online) log-sum-exp: a running maximum whose sum is rescaled
// when the maximum grows (Milakov & Gimelshein 2018), the scalar cousin of the SIMD two-pass
// (mantissa, exponent) accumulation of Dukhan & Ablavatski.
func lse2Generic(x []float32) float32 {
	m := math.Inf(-1)
	var s float64
	for _, v := range x {
		f := float64(v)
		if math.IsInf(f, -1) {
			continue // a masked entry adds nothing (and -Inf - -Inf would be NaN)
		}
		if f <= m {
			s += math.Exp(f - m)
		} else if !math.IsNaN(f) {
			if math.IsInf(f, 1) {
				return float32(f)
			}
			s = s*math.Exp(m-f) + 1
			m = f
		}
	}
	if math.IsInf(m, -1) {
		return float32(m)
	}
	return float32(m + math.Log(s))
}

// expShiftGeneric writes dst[i] = exp(x[i]-shift) and returns their float64 sum.
func expShiftGeneric(dst, x []float32, shift float32) float32 {
	dst = dst[:len(x)]
	sh := float64(shift)
	var s float64
	for i, v := range x {
		e := math.Exp(float64(v) - sh)
		dst[i] = float32(e)
		s += e
	}
	return float32(s)
}

// ceRowGeneric writes dst[i] = g*exp(x[i]-lse) (the softmax, scaled).
func ceRowGeneric(dst, x []float32, lse, g float32) {
	dst = dst[:len(x)]
	l := float64(lse)
	gf := float64(g)
	for i, v := range x {
		dst[i] = float32(gf * math.Exp(float64(v)-l))
	}
}

// addScalarGeneric writes dst[i] = x[i] + c.
func addScalarGeneric(dst, x []float32, c float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v + c
	}
}

func sumSquaresGeneric(x []float32) float64 {
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		s0 += float64(x[i]) * float64(x[i])
		s1 += float64(x[i+1]) * float64(x[i+1])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(x[i])
	}
	return s0 + s1
}

// mulScaleGeneric writes out[i] = x[i]*r*w[i].
func mulScaleGeneric(out, x, w []float32, r float32) {
	out = out[:len(x)]
	w = w[:len(x)]
	for i, v := range x {
		out[i] = v * r * w[i]
	}
}

// rmsBackRowGeneric computes one row of the RMSNorm backward given r = rstd:
//
//	dw[i] += dout[i]*x[i]*r
//	dx[i]  = r*(w[i]*dout[i] - x[i]*r*r*c), c = sum_j(w[j]*dout[j]*x[j])/dim
func rmsBackRowGeneric(dx, dw, dout, x, w []float32, r float32) {
	n := len(x)
	dx, dw, dout, w = dx[:n], dw[:n], dout[:n], w[:n]
	var c float64
	for i := range x {
		c += float64(w[i]) * float64(dout[i]) * float64(x[i])
	}
	c /= float64(n)
	rf := float64(r)
	k := rf * rf * c
	for i := range x {
		xi, di := float64(x[i]), float64(dout[i])
		dw[i] += float32(di * xi * rf)
		dx[i] = float32(rf * (float64(w[i])*di - xi*k))
	}
}

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func siluGeneric(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		f := float64(v)
		dst[i] = float32(f * sigmoid64(f))
	}
}

func siluBackwardGeneric(dx, dout, x []float32) {
	dx, dout = dx[:len(x)], dout[:len(x)]
	for i, v := range x {
		f := float64(v)
		s := sigmoid64(f)
		dx[i] = float32(float64(dout[i]) * s * (1 + f*(1-s)))
	}
}

func swigluForwardGeneric(out, gate, up []float32) {
	out, up = out[:len(gate)], up[:len(gate)]
	for i, g := range gate {
		f := float64(g)
		out[i] = float32(f * sigmoid64(f) * float64(up[i]))
	}
}

func swigluBackwardGeneric(dgate, dup, dout, gate, up []float32) {
	n := len(gate)
	dgate, dup, dout, up = dgate[:n], dup[:n], dout[:n], up[:n]
	for i, g := range gate {
		f := float64(g)
		s := sigmoid64(f)
		d := float64(dout[i])
		u := float64(up[i])
		dgate[i] = float32(d * u * s * (1 + f*(1-s)))
		dup[i] = float32(d * f * s)
	}
}

// adamwGeneric is torch.optim.AdamW: p *= 1-lr*wd; m, v updated; p -= lr*mhat/(sqrt(vhat)+eps)
// with mhat = m/(1-beta1^step), vhat = v/(1-beta2^step).
func adamwGeneric(p, g, m, v []float32, lr, beta1, beta2, eps, weightDecay float32, step int) {
	n := len(p)
	g, m, v = g[:n], m[:n], v[:n]
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	stepSize := float32(float64(lr) / bc1)
	invBc2Sqrt := float32(1 / math.Sqrt(bc2))
	decay := 1 - lr*weightDecay
	b1, b2 := beta1, beta2
	c1, c2 := 1-beta1, 1-beta2
	for i := range p {
		gi := g[i]
		mi := b1*m[i] + c1*gi
		vi := b2*v[i] + c2*gi*gi
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))*invBc2Sqrt + eps
		p[i] = p[i]*decay - stepSize*mi/denom
	}
}

// fmaPeakGeneric is the scalar multiply-add peak of pure Go: eight independent chains.
func fmaPeakGeneric(iters int) float32 {
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	const m, c = 0.999, 1e-7
	for i := 0; i < iters; i++ {
		a0 = a0*m + c
		a1 = a1*m + c
		a2 = a2*m + c
		a3 = a3*m + c
		a4 = a4*m + c
		a5 = a5*m + c
		a6 = a6*m + c
		a7 = a7*m + c
	}
	return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7
}
