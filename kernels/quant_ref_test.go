package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// This file checks the decoders of Q4_1, Q5_0, Q5_1, Q2_K and Q3_K two ways: on hand-built
// blocks whose values are worked out here, and on blocks made by reference quantizers written
// here from ggml's block definitions (ggml-common.h) and its quantize_row_*_ref packing. The
// quantizers place each quant with per-element bit writers (element i → byte, bit), a different
// formulation from the decoders' per-sub-block loops, and return the values they mean the block
// to hold: Dequantize must give those bit for bit.

// setBits ORs v (nbits wide) into the element i of a packing where byte b holds per bytes
// elements: element i lies in byte off(i) at bit shift(i).
func setBits(buf []byte, at int, shift uint, v byte) { buf[at] |= v << shift }

// refQ4_1 quantizes 32 values: d = (max−min)/15, m = min, q = round((x−m)/d).
func refQ4_1(x []float32) ([]byte, []float32) {
	lo, hi := minMax(x)
	d := (hi - lo) / 15
	dh, mh := F32ToF16(d), F32ToF16(lo)
	df, mf := F16ToF32(dh), F16ToF32(mh)
	blk := binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, dh), mh)
	blk = append(blk, make([]byte, 16)...)
	want := make([]float32, 32)
	for i, v := range x {
		q := clampRound((v-mf)/df, 0, 15)
		setBits(blk[4:], i%16, uint(4*(i/16)), byte(q))
		want[i] = float32(float32(q)*df) + mf
	}
	return blk, want
}

// refQ5_0 quantizes 32 values as quantize_row_q5_0_ref: d = (signed value of largest
// magnitude)/−16, q = round(x/d)+16 in [0, 31]; value = (q−16)·d.
func refQ5_0(x []float32) ([]byte, []float32) {
	var amax, vmax float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, vmax = a, v
		}
	}
	d := vmax / -16
	dh := F32ToF16(d)
	df := F16ToF32(dh)
	blk := binary.LittleEndian.AppendUint16(nil, dh)
	qh := uint32(0)
	qs := make([]byte, 16)
	want := make([]float32, 32)
	for i, v := range x {
		q := clampRound(v/df+16, 0, 31)
		setBits(qs, i%16, uint(4*(i/16)), byte(q&15))
		qh |= uint32(q>>4) << uint(i)
		want[i] = float32(q-16) * df
	}
	return append(binary.LittleEndian.AppendUint32(blk, qh), qs...), want
}

// refQ5_1 quantizes 32 values: d = (max−min)/31, m = min, q = round((x−m)/d) in [0, 31].
func refQ5_1(x []float32) ([]byte, []float32) {
	lo, hi := minMax(x)
	dh, mh := F32ToF16((hi-lo)/31), F32ToF16(lo)
	df, mf := F16ToF32(dh), F16ToF32(mh)
	blk := binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, dh), mh)
	qh := uint32(0)
	qs := make([]byte, 16)
	want := make([]float32, 32)
	for i, v := range x {
		q := clampRound((v-mf)/df, 0, 31)
		setBits(qs, i%16, uint(4*(i/16)), byte(q&15))
		qh |= uint32(q>>4) << uint(i)
		want[i] = float32(float32(q)*df) + mf
	}
	return append(binary.LittleEndian.AppendUint32(blk, qh), qs...), want
}

// k23Pos is where the 2 low bits of element i of a Q2_K/Q3_K super-block go
// (quantize_row_q2_K_ref): byte 32·(i/128) + i%32, bit 2·((i%128)/32).
func k23Pos(i int) (int, uint) { return 32*(i/128) + i%32, uint(2 * ((i % 128) / 32)) }

// refQ2K quantizes 256 values: per sub-block of 16, min m = −min(0, min x) and scale s =
// (max − min)/3; the scales become 4-bit multiples of d = max s/15, the mins of dmin = max m/15;
// q = round((x + ml)/dl) in [0, 3]; value = dl·q − ml.
func refQ2K(x []float32) ([]byte, []float32) {
	var sc, mn [16]float32
	for s := 0; s < 16; s++ {
		lo, hi := minMax(x[16*s : 16*s+16])
		lo = min(lo, 0)
		sc[s], mn[s] = (hi-lo)/3, -lo
	}
	smax, mmax := maxOf(sc[:]), maxOf(mn[:])
	dh, mh := F32ToF16(smax/15), F32ToF16(mmax/15)
	d, dmin := F16ToF32(dh), F16ToF32(mh)
	blk := make([]byte, 84)
	binary.LittleEndian.PutUint16(blk[80:], dh)
	binary.LittleEndian.PutUint16(blk[82:], mh)
	want := make([]float32, 256)
	for s := 0; s < 16; s++ {
		ls := clampRound(sc[s]/d, 1, 15)
		lm := 0
		if dmin > 0 {
			lm = clampRound(mn[s]/dmin, 0, 15)
		}
		blk[s] = byte(ls | lm<<4)
		dl, ml := d*float32(ls), dmin*float32(lm)
		for l := 0; l < 16; l++ {
			i := 16*s + l
			q := clampRound((x[i]+ml)/dl, 0, 3)
			at, sh := k23Pos(i)
			setBits(blk[16:80], at, sh, byte(q))
			want[i] = float32(dl*float32(q)) - ml
		}
	}
	return blk, want
}

// refQ3K quantizes 256 values: per sub-block of 16, a signed scale s = (value of largest
// magnitude)/−4; the scales become 6-bit multiples l−32 of d = (the signed scale of largest
// magnitude)/−32; q = round(x/dl) in [−4, 3], stored as q+4 with its bit 2 in hmask.
func refQ3K(x []float32) ([]byte, []float32) {
	var sc [16]float32
	var amax, smax float32
	for s := 0; s < 16; s++ {
		var a, v float32
		for _, e := range x[16*s : 16*s+16] {
			if ae := float32(math.Abs(float64(e))); ae > a {
				a, v = ae, e
			}
		}
		sc[s] = v / -4
		if a := float32(math.Abs(float64(sc[s]))); a > amax {
			amax, smax = a, sc[s]
		}
	}
	dh := F32ToF16(smax / -32)
	d := F16ToF32(dh)
	blk := make([]byte, 110)
	binary.LittleEndian.PutUint16(blk[108:], dh)
	hm, qs, scales := blk[0:32], blk[32:96], blk[96:108]
	want := make([]float32, 256)
	for s := 0; s < 16; s++ {
		l := clampRound(sc[s]/d, -32, 31) + 32 // 6 bits
		// low 4 bits: nibble (s/8) of byte s%8; top 2 bits: byte 8+s%4 at bit 2·(s/4)
		setBits(scales, s%8, uint(4*(s/8)), byte(l&15))
		setBits(scales, 8+s%4, uint(2*(s/4)), byte(l>>4))
		dl := d * float32(l-32)
		for k := 0; k < 16; k++ {
			i := 16*s + k
			q := 0
			if dl != 0 {
				q = clampRound(x[i]/dl, -4, 3)
			}
			u := q + 4
			at, sh := k23Pos(i)
			setBits(qs, at, sh, byte(u&3))
			setBits(hm, i%32, uint(i/32), byte(u>>2))
			want[i] = dl * float32(q)
		}
	}
	return blk, want
}

func minMax(x []float32) (lo, hi float32) {
	lo, hi = x[0], x[0]
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

func maxOf(x []float32) float32 {
	m := x[0]
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

func clampRound(v float32, lo, hi int) int {
	q := int(math.RoundToEven(float64(v)))
	return min(hi, max(lo, q))
}

// TestDequantizeReferenceQuantizer: values quantized by the reference quantizers above decode
// to exactly what each quantizer meant, and within the type's resolution of the input.
func TestDequantizeReferenceQuantizer(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		typ   GGMLType
		quant func([]float32) ([]byte, []float32)
		// rel is the largest mean |error| allowed, as a fraction of the inputs' mean |x| (a
		// misplaced bit gives errors of the order of |x| itself).
		rel float64
	}{
		{TypeQ4_1, refQ4_1, 0.12},
		{TypeQ5_0, refQ5_0, 0.07},
		{TypeQ5_1, refQ5_1, 0.06},
		{TypeQ2_K, refQ2K, 0.35},
		{TypeQ3_K, refQ3K, 0.18},
	}
	for _, c := range cases {
		elems, bytes := BlockSize(c.typ)
		nb := 9
		x := make([]float32, nb*elems)
		for i := range x {
			x[i] = float32(r.NormFloat64()) * float32(1+i/elems) // a different scale per block
		}
		x[3] = 0 // a zero and an outlier in block 0
		x[7] = 11
		var raw []byte
		var want []float32
		for b := 0; b < nb; b++ {
			blk, w := c.quant(x[b*elems : (b+1)*elems])
			if len(blk) != bytes {
				t.Fatalf("%s: quantizer wrote %d bytes, block is %d", c.typ, len(blk), bytes)
			}
			raw, want = append(raw, blk...), append(want, w...)
		}
		got := make([]float32, len(x))
		if err := Dequantize(c.typ, got, raw); err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		var errSum, absSum float64
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s block %d [%d]: %g, the quantizer meant %g", c.typ, i/elems, i%elems, got[i], want[i])
			}
			errSum += math.Abs(float64(got[i] - x[i]))
			absSum += math.Abs(float64(x[i]))
		}
		if rel := errSum / absSum; rel > c.rel {
			t.Errorf("%s: mean |error| %.3f of mean |x|, want ≤ %.2f", c.typ, rel, c.rel)
		} else {
			t.Logf("%s: mean |error| %.3f of mean |x|", c.typ, rel)
		}
	}
}

// TestDequantizeHandBuiltK23 decodes one Q2_K and one Q3_K block whose every value is worked out
// here from the block layout (all values exact in float32).
func TestDequantizeHandBuiltK23(t *testing.T) {
	// Q2_K: d = 0.5, dmin = 0.25; sub-block s has scale nibble s%16 (0..15) and min nibble
	// 15-s; every byte of qs is 0b11_10_01_00 = 0xE4, so bit pair j of a byte is j: element i
	// has q = (i%128)/32.
	{
		blk := make([]byte, 84)
		for s := 0; s < 16; s++ {
			blk[s] = byte(s | (15-s)<<4)
		}
		for i := 16; i < 80; i++ {
			blk[i] = 0xE4
		}
		binary.LittleEndian.PutUint16(blk[80:], 0x3800) // 0.5
		binary.LittleEndian.PutUint16(blk[82:], 0x3400) // 0.25
		got := make([]float32, 256)
		if err := Dequantize(TypeQ2_K, got, blk); err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			s := i / 16
			q := (i % 128) / 32
			want := 0.5*float32(s)*float32(q) - 0.25*float32(15-s)
			if v != want {
				t.Fatalf("Q2_K [%d] = %g want %g", i, v, want)
			}
		}
		// Spot values: element 0 (s 0, q 0) = −3.75; element 255 (s 15, q 3) = 22.5.
		if got[0] != -3.75 || got[255] != 22.5 {
			t.Fatalf("Q2_K spot values %g, %g", got[0], got[255])
		}
	}
	// Q3_K: d = 0.25; scale s has low nibble s and top bits 0b10 (bytes 8..11 = 0xAA), so its
	// 6-bit value is 32+s and its scale s. qs all 0xE4 (low bits (i%128)/32), hmask bytes 0xFF at
	// even positions and 0 at odd ones: element i has q = low bits − 4·[i odd].
	{
		blk := make([]byte, 110)
		for i := 0; i < 32; i++ {
			if i%2 == 0 {
				blk[i] = 0xFF
			}
		}
		for i := 32; i < 96; i++ {
			blk[i] = 0xE4
		}
		sc := blk[96:108]
		for s := 0; s < 8; s++ {
			sc[s] = byte(s | (s+8)<<4) // low nibbles of scales s and s+8
		}
		for k := 8; k < 12; k++ {
			sc[k] = 0xAA // top bits 0b10 for all 16 scales: l = 32 + low nibble
		}
		binary.LittleEndian.PutUint16(blk[108:], 0x3400) // 0.25
		got := make([]float32, 256)
		if err := Dequantize(TypeQ3_K, got, blk); err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			s := i / 16
			q := (i % 128) / 32
			if i%2 == 1 {
				q -= 4
			}
			want := 0.25 * float32(s) * float32(q)
			if v != want {
				t.Fatalf("Q3_K [%d] = %g want %g", i, v, want)
			}
		}
		// Spot values: element 255 (s 15, odd: q 3−4 = −1) = −3.75; element 254 (q 3) = 11.25.
		if got[255] != -3.75 || got[254] != 11.25 {
			t.Fatalf("Q3_K spot values %g, %g", got[255], got[254])
		}
	}
}
