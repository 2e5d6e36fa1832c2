package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
)

// QuantizeQ4K encodes len(src) values (a multiple of 256) as Q4_K blocks into dst (144 bytes per
// block), in ggml's layout (block_q4_K: f16 d and dmin, 12 bytes of 6-bit sub-block scales and
// mins, 128 bytes of nibbles). Each 32-value sub-block takes the affine fit of its own range,
// w ≈ d·sc·q − dmin·m with q in [0, 15]; this is a plain min/max fit, not llama.cpp's
// error-minimising search (make_qkx2_quants), so it encodes random benchmark weights, not models
// for release.
func QuantizeQ4K(dst []byte, src []float32) error {
	if len(src)%qkK != 0 {
		return fmt.Errorf("kernels: quantize Q4_K: %d values is not a multiple of %d", len(src), qkK)
	}
	nb := len(src) / qkK
	if len(dst) < nb*144 {
		return fmt.Errorf("kernels: quantize Q4_K: %d blocks need %d bytes, have %d", nb, nb*144, len(dst))
	}
	for b := 0; b < nb; b++ {
		x := src[b*qkK : (b+1)*qkK]
		blk := dst[b*144 : (b+1)*144]
		var scale, minv [8]float32 // per sub-block: step and −min (≥ 0)
		var maxScale, maxMin float32
		for j := 0; j < 8; j++ {
			lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
			for _, v := range x[32*j : 32*j+32] {
				lo, hi = min(lo, v), max(hi, v)
			}
			lo = min(lo, 0) // the format subtracts a non-negative min
			scale[j], minv[j] = (hi-lo)/15, -lo
			maxScale, maxMin = max(maxScale, scale[j]), max(maxMin, minv[j])
		}
		d, dmin := F16ToF32(F32ToF16(maxScale/63)), F16ToF32(F32ToF16(maxMin/63))
		var ls, lm [8]byte
		for j := 0; j < 8; j++ {
			if d > 0 {
				ls[j] = byte(min(63, math.Round(float64(scale[j]/d))))
			}
			if dmin > 0 {
				lm[j] = byte(min(63, math.Round(float64(minv[j]/dmin))))
			}
		}
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		binary.LittleEndian.PutUint16(blk[2:], F32ToF16(dmin))
		sc := blk[4:16]
		clear(sc)
		for j := 0; j < 8; j++ { // the inverse of scaleMinK4
			if j < 4 {
				sc[j], sc[j+4] = ls[j], lm[j]
			} else {
				sc[j+4] = ls[j]&0xF | (lm[j]&0xF)<<4
				sc[j-4] |= (ls[j] >> 4) << 6
				sc[j] |= (lm[j] >> 4) << 6
			}
		}
		var L [qkK]byte
		for j := 0; j < 8; j++ {
			sd, m := d*float32(ls[j]), dmin*float32(lm[j])
			for i := 32 * j; i < 32*j+32; i++ {
				if sd > 0 {
					L[i] = byte(max(0, min(15, math.Round(float64((x[i]+m)/sd)))))
				}
			}
		}
		q := blk[16:144]
		for j := 0; j < qkK; j += 64 {
			for l := 0; l < 32; l++ {
				q[j/2+l] = L[j+l] | L[j+32+l]<<4
			}
		}
	}
	return nil
}
