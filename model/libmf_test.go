package model

import (
	"crypto/sha256"
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/alignkit/align/kernels"
)

// TestLibmFloat: libmExpf, libmSinf, libmCosf and libmTanhf give glibc 2.36's results
// (__expf_fma, __sinf_fma, __cosf_fma, __tanhf, printed by a C program on this machine) on inputs where glibc is not
// correctly rounded (so that float32(math.Exp(float64(x))) and the like give other bits: checked
// too), on arguments of 120 and more (the 2/π table reduction) and at expf's underflow edge.
func TestLibmFloat(t *testing.T) {
	cases := []struct {
		x, want uint32
		fn      byte
	}{
		{0xc1efffb1, 0x3e1dcd11, 'c'}, {0xc1efff8d, 0x3e1dbb48, 'c'}, {0xc1effea0, 0x3e1d4631, 'c'}, {0xc1effe26, 0x3e1d09ea, 'c'},
		{0xc1efee0b, 0x3f7d45ca, 's'}, {0xc1efd640, 0x3f7db041, 's'}, {0xc1ef9142, 0x3f7eb35d, 's'}, {0xc1ef905c, 0x3f7eb640, 's'},
		{0xc1efca94, 0x29d848a3, 'e'}, {0xc1efb9f1, 0x29da0c40, 'e'}, {0xc1efb5fc, 0x29da7835, 'e'}, {0xc1ef976e, 0x29ddc0df, 'e'},
		{0x430db22d, 0xbea3292e, 's'}, {0x430fe396, 0xbf15a14d, 's'}, {0x432ddc29, 0xbef4be2e, 'c'}, {0x4343ca3e, 0x3f07e1d8, 'c'},
		// tanhf: |x| < 1 (expm1f(−2|x|)) and |x| ≥ 1 (expm1f(2|x|)), both signs
		{0x3c05b059, 0x3c05af96, 't'}, {0x3c06d39e, 0x3c06d2d6, 't'}, {0x3c07f6e3, 0x3c07f617, 't'}, {0x3c11110b, 0x3c111012, 't'},
		{0xbd048d14, 0xbd04813c, 't'}, {0xbd05b059, 0xbd05a434, 't'}, {0xbd07f6e3, 0xbd07ea1b, 't'}, {0xbd0da73c, 0xbd0d98c8, 't'},
		{0x3f807f73, 0x3f436291, 't'}, {0x3f90a3dd, 0x3f4f9efa, 't'}, {0x3fa0c847, 0x3f5998dc, 't'}, {0x3fb0da7c, 0x3f619e76, 't'},
	}
	for _, c := range cases {
		x := math.Float32frombits(c.x)
		var got, rounded float32
		switch c.fn {
		case 'e':
			got, rounded = libmExpf(x), float32(math.Exp(float64(x)))
		case 's':
			got, rounded = libmSinf(x), float32(math.Sin(float64(x)))
		case 'c':
			got, rounded = libmCosf(x), float32(math.Cos(float64(x)))
		case 't':
			got, rounded = libmTanhf(x), float32(math.Tanh(float64(x)))
		}
		if math.Float32bits(got) != c.want {
			t.Errorf("%c(%g): %08x, glibc %08x", c.fn, x, math.Float32bits(got), c.want)
		}
		if math.Float32bits(rounded) == c.want {
			t.Errorf("%c(%g): the correctly rounded result is glibc's too: not a distinguishing case", c.fn, x)
		}
	}
	for _, c := range []struct {
		got  float32
		want uint32
	}{
		{libmSinf(1e30), 0xbf4a89b0}, {libmCosf(-7.5e5), 0x3e87aa30}, {libmExpf(-103.5), 1}, {libmExpf(-104), 0},
		{libmExpf(float32(math.Inf(-1))), 0}, {libmCosf(0x1p-13), 0x3f800000}, {libmSinf(0x1p-13), 0x39000000},
	} {
		if math.Float32bits(c.got) != c.want {
			t.Errorf("%g (%08x), glibc %08x", c.got, math.Float32bits(c.got), c.want)
		}
	}
	if !math.IsInf(float64(libmExpf(89)), 1) || !math.IsNaN(float64(libmSinf(float32(math.Inf(1))))) {
		t.Errorf("expf(89) = %g, sinf(+Inf) = %g", libmExpf(89), libmSinf(float32(math.Inf(1))))
	}
}

// TestLibmTables: the 2/π digits against 2/π computed here (π by Machin's formula, 260 bits),
// and the exp2 table against three entries printed from the machine's libm.so.6.
func TestLibmTables(t *testing.T) {
	const prec = 260
	atanInv := func(n int64) *big.Float { // atan(1/n) = Σ (−1)^k / ((2k+1)·n^(2k+1))
		sum := new(big.Float).SetPrec(prec)
		pow := new(big.Float).SetPrec(prec).Quo(big.NewFloat(1).SetPrec(prec), new(big.Float).SetInt64(n))
		n2 := new(big.Float).SetPrec(prec).SetInt64(n * n)
		for k := int64(0); k < 200; k++ {
			term := new(big.Float).SetPrec(prec).Quo(pow, new(big.Float).SetInt64(2*k+1))
			if k%2 == 0 {
				sum.Add(sum, term)
			} else {
				sum.Sub(sum, term)
			}
			pow.Quo(pow, n2)
		}
		return sum
	}
	pi := new(big.Float).SetPrec(prec).Mul(big.NewFloat(16), atanInv(5))
	pi.Sub(pi, new(big.Float).SetPrec(prec).Mul(big.NewFloat(4), atanInv(239)))
	twoOverPi := new(big.Float).SetPrec(prec).Quo(big.NewFloat(2), pi)
	bits, _ := new(big.Float).SetPrec(prec).SetMantExp(twoOverPi, 192).Int(nil)
	want := new(big.Int)
	want.SetString(libmTwoOverPi, 16)
	if bits.Cmp(want) != 0 {
		t.Fatalf("2/π·2¹⁹² = %x, the table has %s", bits, libmTwoOverPi)
	}
	if libmInvPio4[0] != 0xa2 || libmInvPio4[3] != 0xa2f9836e || libmInvPio4[23] != 0x3c439041 {
		t.Errorf("__inv_pio4 %x", libmInvPio4)
	}
	for i, w := range map[int]uint64{1: 0x3fefd9b0d3158574, 17: 0x3fee9f75e8ec5f74, 31: 0x3fefd0765b6e4540} {
		if libmExp2Tab[i] != w {
			t.Errorf("exp2 table[%d] = %016x, libm %016x", i, libmExp2Tab[i], w)
		}
	}
}

// TestGeluTable: ggmlGeluF16 is ggml's ggml_table_gelu_f16 on the runner's build. The SHA-256 of
// the 65536 little-endian entries is that of the table a C program computed with ggml's
// ggml_gelu_f32 expression, glibc 2.36's tanhf and _Float16 conversions (gcc -O3, x86-64
// without -march, as cgo builds ggml). Four entries are checked by value too.
func TestGeluTable(t *testing.T) {
	tab := ggmlGeluF16()
	b := make([]byte, 2*len(tab))
	for i, v := range tab {
		b[2*i], b[2*i+1] = byte(v), byte(v>>8)
	}
	const want = "5f1b2a3be12260a4f9f9e64defae321d729592e300d95c49a830377f72078ace"
	if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != want {
		t.Errorf("GELU table SHA-256 %s, the C program's %s", got, want)
	}
	for _, c := range []struct{ x, want float32 }{{0, 0}, {1, 0.8413}, {-1, -0.1587}, {2, 1.955}} {
		if got := kernels.F16ToF32(tab[kernels.F32ToF16(c.x)]); math.Abs(float64(got-c.want)) > 2e-3 {
			t.Errorf("gelu(%g) = %g, want %g", c.x, got, c.want)
		}
	}
}
