package kernels

import (
	"testing"
)

func BenchmarkMicro2(b *testing.B) {
	z := make([]float32, 32000)
	dst := make([]float32, 32000)
	b.Run("ceRowZeros", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { ceRow512(&dst[0], &z[0], len(z), 0, 1) } })
	b.Run("ceRowZerosShift10", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { ceRow512(&dst[0], &z[0], len(z), 10, 1) } })
	b.Run("ceRowZerosShift100", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { ceRow512(&dst[0], &z[0], len(z), 100, 1) } })
	b.Run("scale", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { scale512(1, &dst[0], len(z)) } })
	b.Run("adds", func(b *testing.B) { b.SetBytes(128000); for b.Loop() { addScalar512(&dst[0], &z[0], len(z), 1) } })
}
