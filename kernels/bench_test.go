package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The go test benchmarks: one sub-benchmark per implementation. `align bench kernels` measures
// the same kernels against the machine's limits (bench.go).

func BenchmarkSgemm(b *testing.B) {
	shapes := [][3]int{{512, 576, 576}, {512, 1536, 576}, {512, 576, 1536}, {512, 4864, 896}}
	r := rand.New(rand.NewPCG(1, 1))
	for _, im := range availableImpls() {
		for _, s := range shapes {
			for _, tr := range []string{"NN", "NT", "TN"} {
				m, n, k := s[0], s[1], s[2]
				a := randVec(r, m*k, 1)
				bb := randVec(r, k*n, 1)
				c := make([]float32, m*n)
				ta, tb := tr[0] == 'T', tr[1] == 'T'
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				b.Run(fmt.Sprintf("%s/%s/M%dN%dK%d", im.name, tr, m, n, k), func(b *testing.B) {
					b.SetBytes(0)
					for b.Loop() {
						sgemmWith(im, 1, ta, tb, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
					}
					b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
				})
			}
		}
	}
}

func BenchmarkTokenLogProbs(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, im := range availableImpls() {
		for _, V := range []int{32000, 128256} {
			T := 64
			logits := randVec(r, T*V, 3)
			targets := make([]int32, T)
			out, lse := make([]float32, T), make([]float32, T)
			b.Run(fmt.Sprintf("%s/T%dV%d", im.name, T, V), func(b *testing.B) {
				b.SetBytes(int64(4 * T * V))
				for b.Loop() {
					tokenLogProbsWith(im, 1, out, lse, logits, targets, T, V)
				}
			})
		}
	}
}

func BenchmarkLSE(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, im := range availableImpls() {
		for _, V := range []int{1024, 4096, 32000, 128256} {
			x := randVec(r, V, 3)
			for alg, f := range map[string]func([]float32) float32{"3pass": im.lse3, "2pass": im.lse2} {
				b.Run(fmt.Sprintf("%s/%s/V%d", im.name, alg, V), func(b *testing.B) {
					b.SetBytes(int64(4 * V))
					for b.Loop() {
						f(x)
					}
				})
			}
		}
	}
}

// BenchmarkSgemmMicroKernel times the AVX-512 8×48 micro-kernel alone on packed panels, in the
// order Sgemm runs it: one A panel (L1) against a sweep of 16 B panels (L2), with K slices as
// deep as Sgemm cuts them: its ceiling inside Sgemm.
func BenchmarkSgemmMicroKernel(b *testing.B) {
	im := implByName("avx512")
	if im == nil {
		b.Skip("no AVX-512 on this CPU")
	}
	r := rand.New(rand.NewPCG(4, 4))
	g := im.gemm
	const panels = 16
	for _, kc := range []int{288, 448, 512} {
		a := randVec(r, g.mr*kc, 1)
		bp := randVec(r, panels*g.nr*kc, 1)
		c := make([]float32, g.mr*panels*g.nr)
		b.Run(fmt.Sprintf("kc%d", kc), func(b *testing.B) {
			for b.Loop() {
				for j := 0; j < panels; j++ {
					g.fn(kc, a, bp[j*g.nr*kc:], c[j*g.nr:], panels*g.nr, 1, 0)
				}
			}
			b.ReportMetric(2*float64(panels*g.mr*g.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
