//go:build amd64 && !purego

package kernels

import "fmt"

// transpose8AVX512 is the assembly t8 (transpose8_512) behind the bounds checks its pure-Go twin
// transpose8Generic makes; n must be a multiple of 16.
func transpose8AVX512(dst []float32, ds int, src []float32, ld, n int) {
	if n <= 0 {
		return
	}
	if n%16 != 0 || ds < 8 || ld < n {
		panic(fmt.Sprintf("kernels: transpose8: n=%d ds=%d ld=%d", n, ds, ld))
	}
	_ = dst[(n-1)*ds+7]
	_ = src[7*ld+n-1]
	transpose8_512(&dst[0], ds, &src[0], ld, n)
}

// packRows48AVX512 is the assembly rows48 (packRows48_512) behind the bounds checks of its
// pure-Go twin packRows48Generic.
func packRows48AVX512(dst []float32, kc int, src []float32, ld, rows, panels int) {
	if rows <= 0 || panels <= 0 {
		return
	}
	if rows > kc || ld < panels*48 {
		panic(fmt.Sprintf("kernels: packRows48: rows=%d kc=%d ld=%d panels=%d", rows, kc, ld, panels))
	}
	_ = dst[(panels-1)*48*kc+rows*48-1]
	_ = src[(rows-1)*ld+panels*48-1]
	packRows48_512(&dst[0], kc, &src[0], ld, rows, panels)
}
