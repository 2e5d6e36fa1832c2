package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randomK23 returns nb random blocks of Q2_K, Q3_K, Q4_1, Q5_0 or Q5_1: random quant and scale
// bytes, with the f16 (super-)block scales and mins special values (NaN with a payload,
// signalling NaN, Inf, subnormal, −0, the largest finite) in the first blocks, each block's two
// f16 fields different ones (so d and m are both NaN, with different payloads, in some block),
// and sane values after.
func randomK23(r *rand.Rand, typ GGMLType, nb int) []byte {
	_, by := BlockSize(typ)
	raw := make([]byte, nb*by)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	special := []uint16{0x7C00, 0x7E01, 0x7C01, 0x0001, 0x8000, 0xFBFF, 0x3C00}
	for b := 0; b < nb; b++ {
		for k, at := range map[GGMLType][]int{TypeQ2_K: {80, 82}, TypeQ3_K: {108},
			TypeQ4_1: {0, 2}, TypeQ5_0: {0}, TypeQ5_1: {0, 2}}[typ] {
			v := F32ToF16(float32(r.NormFloat64() * 0.01))
			if b < len(special) {
				v = special[(b+k)%len(special)]
			}
			binary.LittleEndian.PutUint16(raw[b*by+at:], v)
		}
	}
	return raw
}

// TestDequantK23SIMD: every path decodes Q2_K, Q3_K, Q4_1, Q5_0 and Q5_1 bit for bit as the
// pure-Go twin.
func TestDequantK23SIMD(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	const nb = 41
	for _, typ := range []GGMLType{TypeQ2_K, TypeQ3_K, TypeQ4_1, TypeQ5_0, TypeQ5_1} {
		raw := randomK23(r, typ, nb)
		el, _ := BlockSize(typ)
		want := make([]float32, nb*el)
		if err := dequantizeWith(&genericImpl, typ, want, raw); err != nil {
			t.Fatal(err)
		}
		t.Run(typ.String(), func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, im *impl) {
				for _, b := range []int{0, 1, 2, 7, nb} {
					got := make([]float32, b*el)
					if err := dequantizeWith(im, typ, got, raw); err != nil {
						t.Fatal(err)
					}
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s block %d [%d]: %#08x want %#08x", typ, i/el, i%el,
								math.Float32bits(got[i]), math.Float32bits(want[i]))
						}
					}
				}
			})
		})
	}
}

// BenchmarkDequant measures each path's decoding speed of the types with SIMD twins, in
// values/s (a 4096×256 weight: 1 M values).
func BenchmarkDequant(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const nb = 4096
	for _, typ := range []GGMLType{TypeQ2_K, TypeQ3_K, TypeQ4_1, TypeQ5_0, TypeQ5_1} {
		el, _ := BlockSize(typ)
		raw := randomK23(r, typ, nb*qkK/el)
		dst := make([]float32, nb*qkK)
		for _, im := range availableImpls() {
			b.Run(fmt.Sprintf("%s/%s", typ, im.name), func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					if err := dequantizeWith(im, typ, dst, raw); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(dst))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gvalues/s")
			})
		}
	}
}
