//go:build amd64 && !purego

package kernels

// The Go wrappers of the AVX2 Q2_K and Q3_K block decoders (asmgen's dequant2.go): they check
// the lengths the assembly relies on.

func q2kBlockAVX2(y []float32, q []byte, dm *[32]float32) {
	_ = y[qkK-1]
	_ = q[qkK/4-1]
	dequantQ2KBlock2(&y[0], &q[0], dm)
}

func q3kBlockAVX2(y []float32, q, hm []byte, dl *[16]float32) {
	_ = y[qkK-1]
	_ = q[qkK/4-1]
	_ = hm[qkK/8-1]
	dequantQ3KBlock2(&y[0], &q[0], &hm[0], dl)
}
