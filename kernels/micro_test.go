package kernels

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkMicro(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randVec(r, 32000, 3)
	dst := make([]float32, 32000)
	var acc [32]float32
	b.Run("max", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { max512(&x[0], len(x)) } })
	b.Run("sum", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { sum512(&x[0], len(x)) } })
	b.Run("sumExp", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { sumExp512(&x[0], len(x), 10) } })
	b.Run("expShift", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { expShift512(&dst[0], &x[0], len(x), 10) } })
	b.Run("ceRow", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { ceRow512(&dst[0], &x[0], len(x), 10, 1) } })
	b.Run("lse2acc", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { lse2Acc512(&x[0], len(x), &acc[0]) } })
	b.Run("silu", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { silu512(&dst[0], &x[0], len(x)) } })
}
