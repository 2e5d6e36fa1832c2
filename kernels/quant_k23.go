package kernels

import "encoding/binary"

// Q2_K and Q3_K, the 2- and 3-bit k-quants (ggml-common.h block_q2_K, block_q3_K;
// ggml-quants.c dequantize_row_q2_K, dequantize_row_q3_K). A super-block holds 256 values in
// 16 sub-blocks of 16, each with its own scale. Values are computed in float32 as ggml's
// reference does, each product and difference rounded separately (no FMA contraction).

// dequantQ2KBlock converts one 84-byte Q2_K block: scales[16] (a 4-bit scale in the low nibble
// and a 4-bit min in the high one), qs[64] (four 2-bit quants a byte), then the F16 super-block
// scales d and dmin. Sub-block s has scale d·(scales[s]&15) and min dmin·(scales[s]>>4); value
// = scale·q − min. Quant i of the half h (128 values) sits in byte 32h + i%32 at bit 2·(i/32)%4.
// The scales are computed here; im.q2kBlock (SIMD), when set, does the values.
func dequantQ2KBlock(im *impl, y []float32, blk []byte) {
	y = y[:qkK]
	blk = blk[:84]
	scales, qs := blk[0:16], blk[16:80]
	d := F16ToF32(binary.LittleEndian.Uint16(blk[80:]))
	dmin := F16ToF32(binary.LittleEndian.Uint16(blk[82:]))
	var dm [32]float32 // 16 scales, then 16 mins
	for s := 0; s < 16; s++ {
		dm[s] = d * float32(scales[s]&0xF)
		dm[16+s] = dmin * float32(scales[s]>>4)
	}
	if im.q2kBlock != nil {
		im.q2kBlock(y, qs, &dm)
		return
	}
	for s := 0; s < 16; s++ {
		dl, ml := dm[s], dm[16+s]
		// Sub-block s: half n = s/8, bit pair j = (s%8)/2, bytes 16·(s%2) .. +15 of that half.
		n, j, o := s/8, (s%8)/2, 16*(s%2)
		q := qs[32*n+o : 32*n+o+16]
		out := y[16*s : 16*s+16]
		shift := uint(2 * j)
		for l := range out {
			out[l] = float32(dl*float32((q[l]>>shift)&3)) - ml
		}
	}
}

// q3KScales unpacks the 16 6-bit scales of a Q3_K block (12 bytes): scale s has its low 4 bits
// in the low (s < 8) or high (s >= 8) nibble of byte s%8, and its top 2 bits in byte 8 + s%4 at
// bit 2·(s/4). The stored value is offset by 32.
func q3KScales(sc []byte) (out [16]int8) {
	sc = sc[:12]
	for s := 0; s < 16; s++ {
		lo := sc[s%8] & 0xF
		if s >= 8 {
			lo = sc[s%8] >> 4
		}
		hi := (sc[8+s%4] >> uint(2*(s/4))) & 3
		out[s] = int8(lo|hi<<4) - 32
	}
	return out
}

// dequantQ3KBlock converts one 110-byte Q3_K block: hmask[32] (the high bit of each quant),
// qs[64] (the low 2 bits, laid out as Q2_K's), scales[12] and the F16 scale d. Value =
// (d·scale)·q with q = low bits − 4 when the high bit is clear; quant i of half n has its high
// bit in hmask[i%32] at bit 4n + (i%128)/32. The scales are computed here; im.q3kBlock
// (SIMD), when set, does the values.
func dequantQ3KBlock(im *impl, y []float32, blk []byte) {
	y = y[:qkK]
	blk = blk[:110]
	hm, qs := blk[0:32], blk[32:96]
	scales := q3KScales(blk[96:108])
	d := F16ToF32(binary.LittleEndian.Uint16(blk[108:]))
	var dls [16]float32
	for s := range dls {
		dls[s] = d * float32(scales[s])
	}
	if im.q3kBlock != nil {
		im.q3kBlock(y, qs, hm, &dls)
		return
	}
	for s := 0; s < 16; s++ {
		dl := dls[s]
		n, j, o := s/8, (s%8)/2, 16*(s%2)
		q := qs[32*n+o : 32*n+o+16]
		h := hm[o : o+16]
		m := byte(1) << uint(4*n+j)
		shift := uint(2 * j)
		out := y[16*s : 16*s+16]
		for l := range out {
			v := int8((q[l] >> shift) & 3)
			if h[l]&m == 0 {
				v -= 4
			}
			out[l] = dl * float32(v)
		}
	}
}
