package model

import (
	"math"
	"math/big"
)

// The runner's ggml calls the C library's float functions: expf in flash attention's online
// softmax (and swiglu's scalar tail), cosf and sinf in the RoPE cache. On this machine that is
// glibc 2.36 (Debian 12), whose x86-64 build picks, on a CPU with FMA and AVX2, the FMA variants
// of its float routines (__expf_fma, __sinf_fma, __cosf_fma). They are not correctly rounded:
// against the correctly rounded float32(math.Exp(float64(x))) they differ on about 0.06% of
// inputs (expf) and 0.6–1.3% (cosf, sinf over RoPE's angles). libmExpf, libmSinf and libmCosf
// compute what those routines compute: the same double-precision reductions and polynomials,
// with math.FMA exactly where the compiled routines fuse (read from the machine's libm.so.6),
// and explicit conversions on the plain products so that Go does not fuse them.

// libmSincos is one of glibc's sincosf tables (sincos_t); the second negates the cosine
// polynomial (quadrants 2 and 3).
type libmSincos struct {
	sign                           [4]float64
	hpiInv, hpi                    float64 // 2/π·2²⁴, π/2
	c0, c1, c2, c3, c4, s1, s2, s3 float64
}

var libmSincosTab = [2]libmSincos{
	{sign: [4]float64{1, -1, -1, 1}, hpiInv: 0x1.45f306dc9c883p+23, hpi: 0x1.921fb54442d18p+0,
		c0: 1, c1: -0x1.ffffffd0c621cp-2, c2: 0x1.55553e1068f19p-5, c3: -0x1.6c087e89a359dp-10, c4: 0x1.99343027bf8c3p-16,
		s1: -0x1.555545995a603p-3, s2: 0x1.1107605230bc4p-7, s3: -0x1.994eb3774cf24p-13},
	{sign: [4]float64{1, -1, -1, 1}, hpiInv: 0x1.45f306dc9c883p+23, hpi: 0x1.921fb54442d18p+0,
		c0: -1, c1: 0x1.ffffffd0c621cp-2, c2: -0x1.55553e1068f19p-5, c3: 0x1.6c087e89a359dp-10, c4: -0x1.99343027bf8c3p-16,
		s1: -0x1.555545995a603p-3, s2: 0x1.1107605230bc4p-7, s3: -0x1.994eb3774cf24p-13},
}

// libmTwoOverPi is 2/π in hexadecimal to 192 bits; libmInvPio4[i] is its 32-bit window ending at
// bit 8(i+1) (glibc's __inv_pio4, for the reduction of arguments of 120 and more).
const libmTwoOverPi = "a2f9836e4e441529fc2757d1f534ddc0db6295993c439041"

var libmInvPio4 = func() (t [24]uint32) {
	b := new(big.Int)
	b.SetString(libmTwoOverPi, 16)
	for i := range t {
		w := new(big.Int).Rsh(b, uint(192-8*(i+1)))
		t[i] = uint32(w.Uint64())
	}
	return t
}()

func libmAbsTop12(x float32) uint32 { return math.Float32bits(x) >> 20 & 0x7ff }

// libmSinfPoly is sinf_poly: the sine polynomial of x (x2 = x²) for an even quadrant n, the
// cosine one for an odd n.
func libmSinfPoly(x, x2 float64, p *libmSincos, n int) float32 {
	if n&1 == 0 {
		x3 := float64(x * x2)
		s1 := math.FMA(x2, p.s3, p.s2)
		x5 := float64(x3 * x2)
		s := math.FMA(x3, p.s1, x)
		return float32(math.FMA(s1, x5, s))
	}
	x4 := float64(x2 * x2)
	c2 := math.FMA(x2, p.c4, p.c3)
	c1 := math.FMA(x2, p.c1, p.c0)
	x6 := float64(x2 * x4)
	c := math.FMA(x4, p.c2, c1)
	return float32(math.FMA(c2, x6, c))
}

// libmReduce reduces y (|y| ≥ π/4, finite) to x in [−π/4, π/4] and its quadrant n, with
// the quadrant's sign offset for the large reduction (which ignores y's sign).
func libmReduce(y float32) (x float64, n, sign int) {
	if libmAbsTop12(y) < 0x42f { // |y| < 120: one multiply-subtract
		r := float64(float64(y) * libmSincosTab[0].hpiInv)
		n := (int32(r) + 0x800000) >> 24
		return math.FMA(-float64(n), libmSincosTab[0].hpi, float64(y)), int(n), 0
	}
	xi := math.Float32bits(y)
	sign = int(xi >> 31)
	arr := libmInvPio4[(xi>>26)&15:]
	shift := (xi >> 23) & 7
	xi = (xi&0xffffff | 0x800000) << shift
	res0 := uint64(xi * arr[0]) // a 32-bit product, as glibc's
	res1 := uint64(xi) * uint64(arr[4])
	res2 := uint64(xi) * uint64(arr[8])
	res0 = res2>>32 | res0<<32
	res0 += res1
	nn := (res0 + 1<<61) >> 62
	res0 -= nn << 62
	return float64(float64(int64(res0)) * 0x1.921fb54442d18p-62), int(nn), sign
}

// libmReduced is sinf (odd 0) or cosf (odd 1) of a finite y with |y| ≥ π/4: the argument
// reduced to its quadrant n, then the polynomial of quadrant n + odd with the quadrant's sign
// and table.
func libmReduced(y float32, odd int) float32 {
	x, n, sign := libmReduce(y)
	p := &libmSincosTab[0]
	s := p.sign[(n+sign)&3]
	if (n+sign)&2 != 0 {
		p = &libmSincosTab[1]
	}
	return libmSinfPoly(float64(x*s), float64(x*x), p, n^odd)
}

// libmSinf is glibc 2.36's __sinf_fma.
func libmSinf(y float32) float32 {
	switch t := libmAbsTop12(y); {
	case t < 0x3f4: // |y| < π/4
		if t < 0x398 {
			return y
		}
		x := float64(y)
		return libmSinfPoly(x, float64(x*x), &libmSincosTab[0], 0)
	case t < 0x7f8:
		return libmReduced(y, 0)
	}
	return float32(math.NaN())
}

// libmCosf is glibc 2.36's __cosf_fma.
func libmCosf(y float32) float32 {
	switch t := libmAbsTop12(y); {
	case t < 0x3f4:
		if t < 0x398 {
			return 1
		}
		x := float64(y)
		return libmSinfPoly(x, float64(x*x), &libmSincosTab[0], 1)
	case t < 0x7f8:
		return libmReduced(y, 1)
	}
	return float32(math.NaN())
}

// libmExp2Tab[i] is the bits of 2^(i/32) less i<<47 (glibc's __exp2f_data.tab), from a
// 256-bit 2^(i/32) (five square roots of 2^i) rounded once to float64.
var libmExp2Tab = func() (t [32]uint64) {
	for i := range t {
		v := new(big.Float).SetPrec(256).SetMantExp(big.NewFloat(1), i)
		for k := 0; k < 5; k++ {
			v.Sqrt(v)
		}
		f, _ := v.Float64()
		t[i] = math.Float64bits(f) - uint64(i)<<47
	}
	return t
}()

// libmExpf is glibc 2.36's __expf_fma: x·32/ln2 = k + r, 2^(k/32) from the table, and a cubic
// in r.
func libmExpf(x float32) float32 {
	if libmAbsTop12(x) >= 0x42b { // |x| ≥ 88, or not finite
		switch {
		case math.Float32bits(x) == 0xff800000:
			return 0
		case libmAbsTop12(x) >= 0x7f8:
			return x + x
		case x > 0x1.62e42ep6:
			return float32(math.Inf(1))
		case x < -0x1.9fe368p6:
			return 0
		case x < -0x1.9d1d9ep6:
			return 0x1p-149 // __math_may_uflowf's tiny result
		}
	}
	const (
		invLn2N = 0x1.71547652b82fep+5
		shift   = 0x1.8p+52
		c0      = 0x1.c6af84b912394p-20
		c1      = 0x1.ebfce50fac4f3p-13
		c2      = 0x1.62e42ff0c52d6p-6
	)
	xd := float64(x)
	kd := math.FMA(invLn2N, xd, shift)
	ki := math.Float64bits(kd)
	kd -= shift
	r := math.FMA(invLn2N, xd, -kd)
	s := math.Float64frombits(libmExp2Tab[ki%32] + ki<<47)
	z := math.FMA(c0, r, c1)
	r2 := float64(r * r)
	y := math.FMA(c2, r, 1)
	y = math.FMA(z, r2, y)
	return float32(y * s)
}

// libmExpm1f is glibc 2.36's __expm1f (sysdeps/ieee754/flt-32/s_expm1f.c, fdlibm's float
// expm1 in float arithmetic; x86-64 has no variant of it), for the arguments libmTanhf gives it
// (finite). Each product is rounded before it is added, as the compiled routine does.
func libmExpm1f(x float32) float32 {
	const (
		oThreshold = float32(8.8721679688e+01)
		ln2Hi      = float32(6.9313812256e-01)
		ln2Lo      = float32(9.0580006145e-06)
		invLn2     = float32(1.4426950216e+00)
		q1         = float32(-3.3333335072e-02)
		q2         = float32(1.5873016091e-03)
		q3         = float32(-7.9365076090e-05)
		q4         = float32(4.0082177293e-06)
		q5         = float32(-2.0109921195e-07)
	)
	hx := math.Float32bits(x)
	neg := hx&0x80000000 != 0
	hx &= 0x7fffffff
	if hx >= 0x4195b844 { // |x| ≥ 27·ln2
		if hx >= 0x42b17218 { // |x| ≥ 88.72…
			switch {
			case hx > 0x7f800000:
				return x + x
			case hx == 0x7f800000:
				if neg {
					return -1
				}
				return x
			case x > oThreshold:
				return float32(math.Inf(1))
			}
		}
		if neg {
			return -1 // tiny − one
		}
	}
	var hi, lo, c float32
	var k int32
	switch {
	case hx > 0x3eb17218: // |x| > ln2/2
		if hx < 0x3f851592 { // and < 1.5·ln2
			if !neg {
				hi, lo, k = x-ln2Hi, ln2Lo, 1
			} else {
				hi, lo, k = x+ln2Hi, -ln2Lo, -1
			}
		} else {
			half := float32(0.5)
			if neg {
				half = -0.5
			}
			k = int32(float32(invLn2*x) + half)
			t := float32(k)
			hi = x - float32(t*ln2Hi)
			lo = float32(t * ln2Lo)
		}
		x = hi - lo
		c = (hi - x) - lo
	case hx < 0x33000000: // |x| < 2⁻²⁵
		return x
	}
	hfx := float32(0.5 * x)
	hxs := float32(x * hfx)
	r1 := 1 + float32(hxs*(q1+float32(hxs*(q2+float32(hxs*(q3+float32(hxs*(q4+float32(hxs*q5)))))))))
	t := 3 - float32(r1*hfx)
	e := float32(hxs * ((r1 - t) / (6 - float32(x*t))))
	if k == 0 {
		return x - (float32(x*e) - hxs)
	}
	e = float32(x*(e-c)) - c
	e -= hxs
	switch {
	case k == -1:
		return float32(0.5*(x-e)) - 0.5
	case k == 1:
		if x < -0.25 {
			return float32(-2 * (e - (x + 0.5)))
		}
		return 1 + float32(2*(x-e))
	}
	twopk := math.Float32frombits(uint32(0x7f+k) << 23)
	if k <= -2 || k > 56 {
		y := 1 - (e - x)
		if k == 128 {
			y = float32(float32(y*2) * 0x1p127)
		} else {
			y = float32(y * twopk)
		}
		return y - 1
	}
	if k < 23 {
		t := math.Float32frombits(0x3f800000 - (0x1000000 >> k)) // 1 − 2⁻ᵏ
		return float32((t - (e - x)) * twopk)
	}
	t = math.Float32frombits(uint32(0x7f-k) << 23) // 2⁻ᵏ
	y := x - (e + t)
	y += 1
	return float32(y * twopk)
}

// libmTanhf is glibc 2.36's __tanhf (sysdeps/ieee754/flt-32/s_tanhf.c: fdlibm's float tanh
// through expm1f), which ggml's tanh op, the final logit soft-cap and flash attention's
// attention soft-cap call, and which its GELU table is built with.
func libmTanhf(x float32) float32 {
	jx := math.Float32bits(x)
	ix := jx & 0x7fffffff
	var z float32
	switch {
	case ix >= 0x7f800000: // inf or NaN
		if jx>>31 == 0 {
			return 1/x + 1
		}
		return 1/x - 1
	case ix >= 0x41b00000: // |x| ≥ 22
		z = 1
	case ix == 0:
		return x
	case ix < 0x24000000: // |x| < 2⁻⁵⁵
		return float32(x * (1 + x))
	case ix >= 0x3f800000: // |x| ≥ 1
		t := libmExpm1f(float32(2 * float32(math.Abs(float64(x)))))
		z = 1 - 2/(t+2)
	default:
		t := libmExpm1f(float32(-2 * float32(math.Abs(float64(x)))))
		z = -t / (t + 2)
	}
	if jx>>31 != 0 {
		return -z
	}
	return z
}
