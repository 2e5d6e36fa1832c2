package model

// This file is the model package's only door to the numeric kernels (SIMD with pure-Go twins,
// package kernels). The names are short lower-case aliases so that the layer code reads like
// llm.c; every call dispatches to the best ISA.

import (
	"github.com/alignkit/align/kernels"
)

func dot(x, y []float32) float32            { return kernels.Dot(x, y) }
func axpy(alpha float32, x, y []float32)    { kernels.Axpy(alpha, x, y) }
func softmax(dst, x []float32)              { kernels.Softmax(dst, x) }
func swigluForward(out, gate, up []float32) { kernels.SwiGLUForward(out, gate, up) }
func swigluBackward(dgate, dup, dout, gate, up []float32) {
	kernels.SwiGLUBackward(dgate, dup, dout, gate, up)
}

// sgemm is kernels.SgemmThreads: C = alpha*op(A)*op(B) + beta*C, row-major, deterministic
// whatever the thread count.
func sgemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	kernels.SgemmThreads(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func rmsnormForward(out, rstd, x, w []float32, rows, dim int, eps float32) {
	kernels.RMSNormForward(out[:rows*dim], rstd[:rows], x[:rows*dim], w, rows, dim, eps)
}

func rmsnormBackward(dx, dw, dout, x, w, rstd []float32, rows, dim int) {
	kernels.RMSNormBackward(dx[:rows*dim], dw, dout[:rows*dim], x[:rows*dim], w, rstd[:rows], rows, dim)
}

func tokenLogProbs(out, lse, logits []float32, targets []int32, T, V int) {
	kernels.TokenLogProbs(out[:T], lse[:T], logits[:T*V], targets[:T], T, V)
}

func crossEntropyBackward(dlogits, logits, lse, g []float32, targets []int32, T, V int) {
	kernels.CrossEntropyBackward(dlogits[:T*V], logits[:T*V], lse[:T], g[:T], targets[:T], T, V)
}

// ggmlType is a ggml tensor type id.
type ggmlType = kernels.GGMLType

const (
	typeF32  = kernels.TypeF32
	typeF16  = kernels.TypeF16
	typeQ4_0 = kernels.TypeQ4_0
	typeQ8_0 = kernels.TypeQ8_0
	typeQ4_K = kernels.TypeQ4_K
	typeQ5_K = kernels.TypeQ5_K
	typeQ6_K = kernels.TypeQ6_K
	typeBF16 = kernels.TypeBF16
)

func dequantize(t ggmlType, dst []float32, src []byte) error { return kernels.Dequantize(t, dst, src) }
