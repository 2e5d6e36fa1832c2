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

// dequantQ4_1AVX2, dequantQ5_0AVX2 and dequantQ5_1AVX2 wrap the AVX2 decoders of the 32-value
// types (asmgen's dequant2.go, genDequantLegacy2): len(dst)/32 blocks.
func dequantQ4_1AVX2(dst []float32, src []byte) { legacyBlocks(dequantQ4_1Blocks2, dst, src, 20) }
func dequantQ5_0AVX2(dst []float32, src []byte) { legacyBlocks(dequantQ5_0Blocks2, dst, src, 22) }
func dequantQ5_1AVX2(dst []float32, src []byte) { legacyBlocks(dequantQ5_1Blocks2, dst, src, 24) }

func legacyBlocks(fn func(dst *float32, src *byte, nb int), dst []float32, src []byte, bsize int) {
	nb := len(dst) / 32
	if nb == 0 {
		return
	}
	_ = src[nb*bsize-1]
	fn(&dst[0], &src[0], nb)
}
