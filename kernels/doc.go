// Package kernels holds align's hot loops: float32 softmax-family reductions, SGEMM,
// normalisation and element-wise layers, the AdamW update and GGUF dequantization.
//
// Every exported kernel dispatches once, at init, to the best implementation this CPU runs
// (AVX-512, AVX2+FMA or pure Go), chosen with github.com/klauspost/cpuid/v2. The environment
// variable ALIGN_KERNELS=generic|avx2|avx512 forces a path (an unknown or unsupported value
// warns on stderr and keeps the best one). Every assembly routine has a pure-Go twin with the
// same signature, and the tests compare each path against a float64 reference. The assembly
// (simd_amd64.s) is generated with avo by internal/asmgen (`go generate ./kernels`); the
// build tag purego, or any architecture but amd64, builds the pure-Go package.
//
// It knows nothing of models or losses: it sees flat float32 slices and shapes. See
// docs/kernels.md for the algorithms, tolerances and benchmark method.
package kernels
