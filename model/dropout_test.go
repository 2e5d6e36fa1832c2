package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLinearDropoutGradients checks linearBackward with LoRA dropout against float64 finite
// differences of y = x·Wᵀ + s·((x⊙mask)·Aᵀ)·Bᵀ with the mask the forward drew.
func TestLinearDropoutGradients(t *testing.T) {
	m, err := NewRandom(tinyConfig("llama"), 1, LoadOptions{LoRA: &LoRAConfig{Rank: 3, Alpha: 6, Dropout: 0.3, Targets: []string{"up_proj"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Params()) != 2*2 {
		t.Fatalf("%d params for target up_proj on 2 blocks, want 4", len(m.Params()))
	}
	m.SetTraining(true)
	l := &m.blocks[0].up
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range l.lora.b.Data {
		l.lora.b.Data[i] = float32(rng.NormFloat64())
	}
	const T = 5
	x := make([]float32, T*l.in)
	r := make([]float32, T*l.out)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range r {
		r[i] = float32(rng.NormFloat64())
	}
	var la linActs
	y := make([]float32, T*l.out)
	m.linearForward(l, y, x, T, &la, m.dropout(), 42)
	zeros := 0
	for _, v := range la.mask {
		if v == 0 {
			zeros++
		}
	}
	if zeros == 0 || zeros == len(la.mask) {
		t.Fatalf("dropout 0.3 zeroed %d of %d inputs", zeros, len(la.mask))
	}
	dx := make([]float32, len(x))
	m.linearBackward(l, dx, r, x, T, &la, false)

	w64 := func(p []float32) []float64 {
		o := make([]float64, len(p))
		for i, v := range p {
			o[i] = float64(v)
		}
		return o
	}
	X, W, A, B := w64(x), w64(l.w.Data), w64(l.lora.a.Data), w64(l.lora.b.Data)
	loss := func() float64 {
		var s float64
		for t := 0; t < T; t++ {
			u := make([]float64, 3)
			for j := range u {
				for i := 0; i < l.in; i++ {
					u[j] += X[t*l.in+i] * float64(la.mask[t*l.in+i]) * A[j*l.in+i]
				}
			}
			for o := 0; o < l.out; o++ {
				v := 0.0
				for i := 0; i < l.in; i++ {
					v += X[t*l.in+i] * W[o*l.in+i]
				}
				for j := range u {
					v += float64(l.lora.scale) * u[j] * B[o*3+j]
				}
				s += float64(r[t*l.out+o]) * v
			}
		}
		return s
	}
	check := func(name string, w []float64, grad []float32) {
		for n := 0; n < 6; n++ {
			i := rng.IntN(len(w))
			old := w[i]
			w[i] = old + 1e-6
			lp := loss()
			w[i] = old - 1e-6
			lm := loss()
			w[i] = old
			fd := (lp - lm) / 2e-6
			if math.Abs(fd-float64(grad[i])) > 1e-3+1e-3*math.Abs(fd) {
				t.Errorf("%s[%d]: analytic %g, finite difference %g", name, i, grad[i], fd)
			}
		}
	}
	check("x", X, dx)
	check("A", A, l.lora.a.Grad)
	check("B", B, l.lora.b.Grad)
	// Evaluation mode draws no mask.
	m.SetTraining(false)
	m.linearForward(l, y, x, T, &la, m.dropout(), 42)
	if la.mask != nil {
		t.Fatal("a mask was drawn outside training")
	}
}
