package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// GGMLType is a ggml tensor type id, as stored in GGUF files.
type GGMLType uint32

// The ggml type ids this package converts (ggml.h, enum ggml_type).
const (
	TypeF32  GGMLType = 0
	TypeF16  GGMLType = 1
	TypeQ4_0 GGMLType = 2
	TypeQ4_1 GGMLType = 3
	TypeQ5_0 GGMLType = 6
	TypeQ5_1 GGMLType = 7
	TypeQ8_0 GGMLType = 8
	TypeQ2_K GGMLType = 10
	TypeQ3_K GGMLType = 11
	TypeQ4_K GGMLType = 12
	TypeQ5_K GGMLType = 13
	TypeQ6_K GGMLType = 14
	TypeBF16 GGMLType = 30
)

const qkK = 256 // QK_K, the super-block of the k-quants

var typeInfo = map[GGMLType]struct {
	name         string
	elems, bytes int
}{
	TypeF32:  {"F32", 1, 4},
	TypeF16:  {"F16", 1, 2},
	TypeQ4_0: {"Q4_0", 32, 2 + 16},
	TypeQ4_1: {"Q4_1", 32, 2 + 2 + 16},
	TypeQ5_0: {"Q5_0", 32, 2 + 4 + 16},
	TypeQ5_1: {"Q5_1", 32, 2 + 2 + 4 + 16},
	TypeQ8_0: {"Q8_0", 32, 2 + 32},
	TypeQ2_K: {"Q2_K", qkK, qkK/16 + qkK/4 + 2 + 2},
	TypeQ3_K: {"Q3_K", qkK, qkK/8 + qkK/4 + 12 + 2},
	TypeQ4_K: {"Q4_K", qkK, 2 + 2 + 12 + qkK/2},
	TypeQ5_K: {"Q5_K", qkK, 2 + 2 + 12 + qkK/8 + qkK/2},
	TypeQ6_K: {"Q6_K", qkK, qkK/2 + qkK/4 + qkK/16 + 2},
	TypeBF16: {"BF16", 1, 2},
}

// SupportedTypes lists the types Dequantize converts, in ggml's id order.
func SupportedTypes() []GGMLType {
	out := make([]GGMLType, 0, len(typeInfo))
	for t := range typeInfo {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// String returns ggml's name of the type ("Q4_K"), or "type(N)" for one this package does not know.
func (t GGMLType) String() string {
	if ti, ok := typeInfo[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize returns the elements per block and the bytes per block of t; (0, 0) if unsupported.
func BlockSize(t GGMLType) (elems, bytes int) {
	ti, ok := typeInfo[t]
	if !ok {
		return 0, 0
	}
	return ti.elems, ti.bytes
}

// Dequantize converts len(dst) elements of type t from src to float32, with ggml's reference
// formulas (ggml-quants.c, dequantize_row_*), evaluated without FMA contraction.
func Dequantize(t GGMLType, dst []float32, src []byte) error {
	return dequantizeWith(active, t, dst, src)
}

func dequantizeWith(im *impl, t GGMLType, dst []float32, src []byte) error {
	ti, ok := typeInfo[t]
	if !ok {
		return fmt.Errorf("kernels: dequantize: unsupported ggml type %s", t)
	}
	n := len(dst)
	if n%ti.elems != 0 {
		return fmt.Errorf("kernels: dequantize %s: %d elements is not a multiple of the block size %d", t, n, ti.elems)
	}
	if need := n / ti.elems * ti.bytes; len(src) < need {
		return fmt.Errorf("kernels: dequantize %s: %d elements need %d bytes, have %d", t, n, need, len(src))
	}
	nb := n / ti.elems
	switch t {
	case TypeF32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case TypeF16:
		im.dequantF16(dst, src[:2*n])
	case TypeBF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	case TypeQ8_0:
		im.dequantQ8_0(dst[:nb*32], src[:nb*34])
	case TypeQ4_0:
		for b := 0; b < nb; b++ {
			blk := src[b*18 : b*18+18]
			d := F16ToF32(binary.LittleEndian.Uint16(blk))
			y := dst[b*32 : b*32+32]
			for j := 0; j < 16; j++ {
				y[j] = float32(int(blk[2+j]&0xF)-8) * d
				y[j+16] = float32(int(blk[2+j]>>4)-8) * d
			}
		}
	case TypeQ4_1:
		im.dequantQ4_1(dst[:nb*32], src[:nb*20])
	case TypeQ5_0:
		im.dequantQ5_0(dst[:nb*32], src[:nb*22])
	case TypeQ5_1:
		im.dequantQ5_1(dst[:nb*32], src[:nb*24])
	case TypeQ2_K:
		for b := 0; b < nb; b++ {
			dequantQ2KBlock(im, dst[b*qkK:b*qkK+qkK], src[b*84:b*84+84])
		}
	case TypeQ3_K:
		for b := 0; b < nb; b++ {
			dequantQ3KBlock(im, dst[b*qkK:b*qkK+qkK], src[b*110:b*110+110])
		}
	case TypeQ4_K:
		for b := 0; b < nb; b++ {
			blk := src[b*144 : b*144+144]
			d := F16ToF32(binary.LittleEndian.Uint16(blk))
			dmin := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
			scales := blk[4:16]
			q := blk[16:144]
			y := dst[b*qkK : b*qkK+qkK]
			if im.q4kBlock != nil {
				var dm [16]float32 // scales d*sc, then mins dmin*m, of the 8 sub-blocks
				for k := 0; k < 8; k++ {
					sc, mn := scaleMinK4(k, scales)
					dm[k], dm[8+k] = d*float32(sc), dmin*float32(mn)
				}
				im.q4kBlock(y, q, &dm)
				continue
			}
			is := 0
			for j := 0; j < qkK; j += 64 {
				sc, mn := scaleMinK4(is, scales)
				d1, m1 := d*float32(sc), dmin*float32(mn)
				sc, mn = scaleMinK4(is+1, scales)
				d2, m2 := d*float32(sc), dmin*float32(mn)
				for l := 0; l < 32; l++ {
					y[j+l] = float32(d1*float32(q[l]&0xF)) - m1
					y[j+32+l] = float32(d2*float32(q[l]>>4)) - m2
				}
				q = q[32:]
				is += 2
			}
		}
	case TypeQ5_K:
		for b := 0; b < nb; b++ {
			blk := src[b*176 : b*176+176]
			d := F16ToF32(binary.LittleEndian.Uint16(blk))
			dmin := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
			scales := blk[4:16]
			qh := blk[16:48]
			ql := blk[48:176]
			y := dst[b*qkK : b*qkK+qkK]
			is := 0
			u1, u2 := byte(1), byte(2)
			for j := 0; j < qkK; j += 64 {
				sc, mn := scaleMinK4(is, scales)
				d1, m1 := d*float32(sc), dmin*float32(mn)
				sc, mn = scaleMinK4(is+1, scales)
				d2, m2 := d*float32(sc), dmin*float32(mn)
				for l := 0; l < 32; l++ {
					h1, h2 := byte(0), byte(0)
					if qh[l]&u1 != 0 {
						h1 = 16
					}
					if qh[l]&u2 != 0 {
						h2 = 16
					}
					y[j+l] = float32(d1*float32(ql[l]&0xF+h1)) - m1
					y[j+32+l] = float32(d2*float32(ql[l]>>4+h2)) - m2
				}
				ql = ql[32:]
				is += 2
				u1 <<= 2
				u2 <<= 2
			}
		}
	case TypeQ6_K:
		for b := 0; b < nb; b++ {
			blk := src[b*210 : b*210+210]
			ql := blk[0:128]
			qh := blk[128:192]
			sc := blk[192:208]
			d := F16ToF32(binary.LittleEndian.Uint16(blk[208:]))
			y := dst[b*qkK : b*qkK+qkK]
			for n := 0; n < qkK; n += 128 {
				for l := 0; l < 32; l++ {
					is := l / 16
					q1 := int(ql[l]&0xF|(qh[l]>>0&3)<<4) - 32
					q2 := int(ql[l+32]&0xF|(qh[l]>>2&3)<<4) - 32
					q3 := int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
					q4 := int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
					y[n+l] = float32(d*float32(int8(sc[is]))) * float32(q1)
					y[n+l+32] = float32(d*float32(int8(sc[is+2]))) * float32(q2)
					y[n+l+64] = float32(d*float32(int8(sc[is+4]))) * float32(q3)
					y[n+l+96] = float32(d*float32(int8(sc[is+6]))) * float32(q4)
				}
				ql = ql[64:]
				qh = qh[32:]
				sc = sc[8:]
			}
		}
	}
	return nil
}

// scaleMinK4 unpacks the 6-bit scale and min j of a Q4_K/Q5_K super-block (get_scale_min_k4).
func scaleMinK4(j int, q []byte) (d, m byte) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xF | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// F16ToF32 converts IEEE binary16 bits to float32 (exact).
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1F
	man := uint32(h) & 0x3FF
	switch {
	case exp == 0x1F: // Inf or NaN
		return math.Float32frombits(sign | 0x7F800000 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// subnormal: value = man * 2^-24
	f := float32(man) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// F32ToF16 converts float32 to IEEE binary16 bits, rounding to nearest even (as F16C's
// VCVTPS2PH with imm 0, which ggml uses); NaN stays a quiet NaN.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xFF
	man := b & 0x7FFFFF
	if exp == 0xFF {
		if man != 0 {
			return sign | 0x7E00 | uint16(man>>13)
		}
		return sign | 0x7C00
	}
	e := exp - 127 + 15
	if e >= 0x1F {
		return sign | 0x7C00
	}
	if e <= 0 {
		if e < -10 {
			return sign // underflow to zero (even a half ulp rounds to zero here)
		}
		m := man | 0x800000 // implicit bit
		shift := uint(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | man>>13
	rem := man & 0x1FFF
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, up to Inf: correct
	}
	return sign | uint16(r)
}

// F32ToBF16 converts float32 to bfloat16 bits as ggml_compute_fp32_to_bf16: round to nearest
// even, NaN forced quiet, subnormals kept.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + (u>>16)&1)) >> 16)
}

// QuantizeF16 writes len(src) little-endian binary16 values to dst (2 bytes each).
func QuantizeF16(dst []byte, src []float32) {
	checkLen("QuantizeF16", len(dst), 2*len(src))
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(v))
	}
}

// QuantizeBF16 writes len(src) little-endian bfloat16 values to dst (2 bytes each).
func QuantizeBF16(dst []byte, src []float32) {
	checkLen("QuantizeBF16", len(dst), 2*len(src))
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
	}
}

// QuantizeQ8_0 writes Q8_0 blocks (34 bytes per 32 values) as ggml's quantize_row_q8_0_ref:
// d = max|x|/127 stored as F16, q = round(x/d) half away from zero, using the float32 d.
func QuantizeQ8_0(dst []byte, src []float32) error {
	if len(src)%32 != 0 {
		return fmt.Errorf("kernels: quantize Q8_0: %d values is not a multiple of 32", len(src))
	}
	nb := len(src) / 32
	if len(dst) < nb*34 {
		return fmt.Errorf("kernels: quantize Q8_0: %d values need %d bytes, have %d", len(src), nb*34, len(dst))
	}
	for b := 0; b < nb; b++ {
		x := src[b*32 : b*32+32]
		var amax float32
		for _, v := range x {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		blk := dst[b*34 : b*34+34]
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		for j, v := range x {
			blk[2+j] = byte(int8(math.Round(float64(v * id))))
		}
	}
	return nil
}

// dequantF16Generic converts len(dst) binary16 values (2 bytes each, little-endian).
func dequantF16Generic(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

// dequantQ8_0Generic converts len(dst)/32 Q8_0 blocks: float32(q)*d.
func dequantQ8_0Generic(dst []float32, src []byte) {
	nb := len(dst) / 32
	for b := 0; b < nb; b++ {
		blk := src[b*34 : b*34+34]
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		y := dst[b*32 : b*32+32]
		for j := range y {
			y[j] = float32(int8(blk[2+j])) * d
		}
	}
}

// dequantQ4_1Generic converts len(dst)/32 Q4_1 blocks (d, m, 16 bytes of nibbles):
// float32(q·d) + m, low nibbles first.
func dequantQ4_1Generic(dst []float32, src []byte) {
	nb := len(dst) / 32
	for b := 0; b < nb; b++ {
		blk := src[b*20 : b*20+20]
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		m := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
		y := dst[b*32 : b*32+32]
		for j := 0; j < 16; j++ {
			y[j] = float32(float32(blk[4+j]&0xF)*d) + m
			y[j+16] = float32(float32(blk[4+j]>>4)*d) + m
		}
	}
}

// dequantQ5_0Generic converts len(dst)/32 Q5_0 blocks (d, qh, 16 bytes of nibbles):
// float32(q − 16)·d, the 5th bit of value j being bit j of qh.
func dequantQ5_0Generic(dst []float32, src []byte) {
	nb := len(dst) / 32
	for b := 0; b < nb; b++ {
		blk := src[b*22 : b*22+22]
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		qh := binary.LittleEndian.Uint32(blk[2:])
		qs := blk[6:22]
		y := dst[b*32 : b*32+32]
		for j := 0; j < 16; j++ {
			h0 := byte((qh>>uint(j))<<4) & 0x10
			h1 := byte(qh>>uint(j+12)) & 0x10
			y[j] = float32(int(qs[j]&0xF|h0)-16) * d
			y[j+16] = float32(int(qs[j]>>4|h1)-16) * d
		}
	}
}

// dequantQ5_1Generic converts len(dst)/32 Q5_1 blocks (d, m, qh, 16 bytes of nibbles):
// float32(q·d) + m, the 5th bit of value j being bit j of qh.
func dequantQ5_1Generic(dst []float32, src []byte) {
	nb := len(dst) / 32
	for b := 0; b < nb; b++ {
		blk := src[b*24 : b*24+24]
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		m := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
		qh := binary.LittleEndian.Uint32(blk[4:])
		qs := blk[8:24]
		y := dst[b*32 : b*32+32]
		for j := 0; j < 16; j++ {
			h0 := byte((qh>>uint(j))<<4) & 0x10
			h1 := byte(qh>>uint(j+12)) & 0x10
			y[j] = float32(float32(qs[j]&0xF|h0)*d) + m
			y[j+16] = float32(float32(qs[j]>>4|h1)*d) + m
		}
	}
}
