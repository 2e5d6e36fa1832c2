package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// TestDequantSIMD checks the F16, Q8_0 and Q4_K dequantization of every path bit for bit
// against F16ToF32 and the pure-Go twin: all 65536 binary16 patterns (signalling NaNs included)
// at every offset mod 16, and Q8_0 and Q4_K blocks with random quants, scales and mins (finite,
// Inf, NaN, subnormal).
func TestDequantSIMD(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	all := make([]byte, 2*65536)
	for h := 0; h < 65536; h++ {
		binary.LittleEndian.PutUint16(all[2*h:], uint16(h))
	}
	nb := 67
	q8 := make([]byte, 34*nb)
	for i := range q8 {
		q8[i] = byte(r.IntN(256))
	}
	for i, d := range []uint16{0x3C00, 0x7C00, 0x7E01, 0x7C01, 0x0001, 0x8000, 0xFBFF} {
		binary.LittleEndian.PutUint16(q8[34*i:], d)
	}
	q4 := make([]byte, 144*nb)
	for i := range q4 {
		q4[i] = byte(r.IntN(256))
	}
	for i, d := range []uint16{0x3C00, 0x7C00, 0x7E01, 0x0001, 0x8000, 0xFBFF} {
		binary.LittleEndian.PutUint16(q4[144*i+2*(i%2):], d)
	}
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, b := range []int{0, 1, 2, nb} {
			got, want := make([]float32, 256*b), make([]float32, 256*b)
			if err := dequantizeWith(im, TypeQ4_K, got, q4); err != nil {
				t.Fatal(err)
			}
			if err := dequantizeWith(&genericImpl, TypeQ4_K, want, q4); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("Q4_K block %d [%d]: %g want %g", i/256, i%256, got[i], want[i])
				}
			}
		}
		for _, off := range []int{0, 1, 7, 15} {
			for _, n := range []int{0, 1, 15, 16, 17, 33, 65536 - off} {
				dst := make([]float32, n)
				if err := dequantizeWith(im, TypeF16, dst, all[2*off:2*(off+n)]); err != nil {
					t.Fatal(err)
				}
				for i, v := range dst {
					h := uint16(off + i)
					if want := F16ToF32(h); math.Float32bits(v) != math.Float32bits(want) {
						t.Fatalf("F16 %#04x: %#08x want %#08x", h, math.Float32bits(v), math.Float32bits(want))
					}
				}
			}
		}
		for b := 0; b <= nb; b++ {
			got, want := make([]float32, 32*b), make([]float32, 32*b)
			if err := dequantizeWith(im, TypeQ8_0, got, q8); err != nil {
				t.Fatal(err)
			}
			dequantQ8_0Generic(want, q8)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("Q8_0 block %d [%d]: %g want %g", i/32, i%32, got[i], want[i])
				}
			}
		}
	})
}
