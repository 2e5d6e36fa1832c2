// Package kernels holds align's hot loops: float32 softmax-family reductions, SGEMM,
// normalisation and element-wise layers, the AdamW update and GGUF dequantization.
//
// Every exported kernel dispatches once, at init, to the best implementation this CPU runs
// (AVX-512, AVX2+FMA or pure Go), chosen with github.com/klauspost/cpuid/v2. The environment
// variable ALIGN_KERNELS=generic|avx2|avx512 forces a path. Every assembly routine has a pure-Go
// twin with the same signature, and the tests compare the two against a float64 reference.
//
// It knows nothing of models or losses: it sees flat float32 slices and shapes.
package kernels
