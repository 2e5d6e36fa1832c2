package kernels

import (
	"context"
	"testing"
	"time"
)

func TestRunBenchQuick(t *testing.T) {
	var got []BenchResult
	err := RunBench(context.Background(), BenchOptions{Quick: true, MinTime: time.Millisecond,
		Kernels: []string{"fma_peak", "sgemm", "token_logprobs", "lse_2pass", "dot"}, Threads: []int{1}, CPUTime: true},
		func(r BenchResult) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.Kernel] = true
		if r.NsPerOp <= 0 || r.Ratio <= 0 || r.ISA == "" || r.Threads != 1 || (r.Clock != "cpu" && r.Clock != "wall") {
			t.Errorf("bad point %+v", r)
		}
		if r.Kernel == "sgemm" && (r.GFLOPS <= 0 || r.LimitGFLOPS <= 0) {
			t.Errorf("sgemm without GFLOPS: %+v", r)
		}
		if r.Kernel == "token_logprobs" && (r.GBps <= 0 || r.LimitGBps <= 0) {
			t.Errorf("token_logprobs without GB/s: %+v", r)
		}
	}
	for _, k := range []string{"fma_peak", "sgemm", "token_logprobs", "token_logprobs+ce_backward", "lse_2pass", "dot"} {
		if !seen[k] {
			t.Errorf("no point for %s", k)
		}
	}
	if err := RunBench(context.Background(), BenchOptions{Quick: true, Kernels: []string{"nope"}}, func(BenchResult) {}); err == nil {
		t.Error("unknown kernel accepted")
	}
}

// TestFMAPeak: the multi-thread FMA peak is a positive, finite figure for 1 and 2 threads.
func TestFMAPeak(t *testing.T) {
	for _, th := range []int{1, 2} {
		if g := FMAPeak(th, 5*time.Millisecond); !(g > 0) || g > 1e6 {
			t.Errorf("FMAPeak(%d) = %g GFLOPS", th, g)
		}
	}
}
