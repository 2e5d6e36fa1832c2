//go:build amd64 && !purego

package kernels

import "github.com/klauspost/cpuid/v2"

//go:generate sh -c "cd internal/asmgen && go run . -out ../../simd_amd64.s -stubs ../../simd_stub_amd64.go -pkg kernels"

// archImpls returns the SIMD implementations this CPU runs, worst first.
func archImpls() []*impl {
	var out []*impl
	if cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3, cpuid.AVX) {
		out = append(out, &avx2Impl)
	}
	if hasAVX512() {
		out = append(out, &avx512Impl)
	}
	return out
}

// hasAVX512 reports AVX-512F (plus BMI2 for the tail masks and OS support of the zmm state,
// which cpuid checks through XGETBV).
func hasAVX512() bool {
	return cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX, cpuid.BMI2, cpuid.FMA3)
}
