package objectives

import (
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// threadCPU is the calling thread's CPU time. On a loaded machine, examples per CPU-second is a
// steadier figure than examples per wall-second (the benchmarks run with -cpu 1).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchN is the batch size of every benchmark: 1M examples, as the issue asks.
const benchN = 1 << 20

func benchVariants() []variant {
	return []variant{
		kv("dpo"),
		kv("dpo", "loss_type", "ipo"),
		kv("dpo", "loss_type", "robust", "label_smoothing", "0.1"),
		kv("dpo", "loss_type", "exo_pair", "label_smoothing", "0.001"),
		kv("dpo", "loss_type", "apo_down"),
		kv("f_dpo", "f_divergence_type", "js_divergence"),
		kv("f_dpo", "f_divergence_type", "alpha_divergence"),
		kv("simpo"),
		kv("cpl", "gamma", "0.99", "bc_coeff", "0.1"),
		kv("cpl_ranked"),
		kv("curry_dpo"),
		kv("inpo"),
		kv("dno"),
		kv("dno_prct"),
		kv("srpo", "alpha", "0.5"),
		kv("apo"),
		kv("hypo"),
	}
}

// BenchmarkObjectives computes each objective's loss and gradients over a batch of 1M examples
// (CPL: 0-6 tokens per completion; Curry-DPO: 5 responses; HyPO: 4 online samples; CPL ranked:
// 4 segments). It reports examples/s; one iteration is one whole batch.
func BenchmarkObjectives(b *testing.B) {
	for _, v := range benchVariants() {
		b.Run(v.String(), func(b *testing.B) {
			obj := mustNew(b, v)
			in := randomBatch(obj, benchN, rand.New(rand.NewPCG(1, 1)))
			grad := NewGrad(obj, in)
			b.ReportAllocs()
			b.ResetTimer()
			c0 := threadCPU()
			for b.Loop() {
				if _, err := obj.Loss(in, grad); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := threadCPU() - c0; cpu > 0 {
				b.ReportMetric(float64(benchN)*float64(b.N)/cpu.Seconds(), "examples/cpu-s")
			}
			b.ReportMetric(float64(benchN)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkCalibrationExpLog1p times 1M independent math.Exp + math.Log1p calls, the floor
// of any stable softplus on this machine, so that the objectives' figures can be read as a
// ratio to it when the machine is loaded.
func BenchmarkCalibrationExpLog1p(b *testing.B) {
	xs := make([]float64, benchN)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range xs {
		xs[i] = 4*r.Float64() - 2
	}
	out := make([]float64, benchN)
	b.ResetTimer()
	for b.Loop() {
		for i, x := range xs {
			out[i] = math.Log1p(math.Exp(-math.Abs(x)))
		}
	}
	b.ReportMetric(float64(benchN)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
}
