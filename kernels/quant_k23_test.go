package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randomK23 returns nb random Q2_K or Q3_K blocks: random quant and scale bytes, with the f16
// super-block scales random bits (NaN, Inf and subnormals included) in the first blocks and
// sane values after.
func randomK23(r *rand.Rand, typ GGMLType, nb int) []byte {
	_, by := BlockSize(typ)
	raw := make([]byte, nb*by)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	special := []uint16{0x7C00, 0x7E01, 0x7C01, 0x0001, 0x8000, 0xFBFF, 0x3C00}
	for b := 0; b < nb; b++ {
		for k, at := range map[GGMLType][]int{TypeQ2_K: {80, 82}, TypeQ3_K: {108}}[typ] {
			v := F32ToF16(float32(r.NormFloat64() * 0.01))
			if b < len(special) {
				v = special[(b+k)%len(special)]
			}
			binary.LittleEndian.PutUint16(raw[b*by+at:], v)
		}
	}
	return raw
}

// TestDequantK23SIMD: every path decodes Q2_K and Q3_K bit for bit as the pure-Go twin.
func TestDequantK23SIMD(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	const nb = 41
	for _, typ := range []GGMLType{TypeQ2_K, TypeQ3_K} {
		raw := randomK23(r, typ, nb)
		want := make([]float32, nb*qkK)
		if err := dequantizeWith(&genericImpl, typ, want, raw); err != nil {
			t.Fatal(err)
		}
		t.Run(typ.String(), func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, im *impl) {
				for _, b := range []int{0, 1, 2, nb} {
					got := make([]float32, b*qkK)
					if err := dequantizeWith(im, typ, got, raw); err != nil {
						t.Fatal(err)
					}
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s block %d [%d]: %g want %g", typ, i/qkK, i%qkK, got[i], want[i])
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
	for _, typ := range []GGMLType{TypeQ2_K, TypeQ3_K} {
		raw := randomK23(r, typ, nb)
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
