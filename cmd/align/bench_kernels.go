package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/kernels"
)

func newBenchKernelsCmd() *cobra.Command {
	var (
		asJSON  bool
		quick   bool
		isas    []string
		threads string
		only    []string
		cpuTime bool
	)
	cmd := &cobra.Command{
		Use:   "kernels",
		Short: "Benchmark the SIMD kernels against the machine's limits, measured in the same run",
		Long: `Measures, in one run: the single-core memory read bandwidth (a sum over 256 MiB, and over
1 MiB for L2), the FMA peak of every ISA path (an assembly loop of independent FMA chains), then
each kernel on every ISA path. One line per (kernel, shape, ISA, threads). ratio is the achieved
figure over the same-run limit: GFLOPS over FMA peak × threads for sgemm, GB/s over the read
bandwidth (L2 when the data fits in it) for the others. Timings are the best of several batches;
the limits are measured again after every point and the best of the run judges every point, so
the table is printed at the end (progress goes to stderr). On a shared, loaded
machine, --cpu-time times single-thread points by the thread's CPU time instead of wall time.

Kernels: ` + strings.Join(kernels.BenchKernelNames(), ", "),
		Example: `  align bench kernels
  align bench kernels --json > kernels.jsonl
  align bench kernels --quick --kernel sgemm,token_logprobs
  align bench kernels --isa avx512 --threads 1 --cpu-time`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var th []int
			for _, s := range strings.Split(threads, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 {
					return fmt.Errorf("bench kernels: --threads %q: want a comma-separated list of positive integers", threads)
				}
				th = append(th, n)
			}
			out := cmd.OutOrStdout()
			enc := json.NewEncoder(out)
			if !asJSON {
				fmt.Fprintf(out, "%-28s %-26s %-8s %3s %14s %9s %9s %9s %9s %6s\n",
					"kernel", "shape", "isa", "thr", "ns/op", "GB/s", "GFLOPS", "lim_GB/s", "lim_GFLOP", "ratio")
			}
			progress := func(r kernels.BenchResult) {
				fmt.Fprintf(cmd.ErrOrStderr(), "measured %s, %s, %s, %d thread(s)\n", r.Kernel, r.Shape, r.ISA, r.Threads)
			}
			return kernels.RunBench(cmd.Context(), kernels.BenchOptions{Quick: quick, ISAs: isas, Threads: th, Kernels: only,
				CPUTime: cpuTime, Progress: progress},
				func(r kernels.BenchResult) {
					if asJSON {
						_ = enc.Encode(r)
						return
					}
					extra := ""
					if r.VsForward > 0 {
						extra = fmt.Sprintf("  (%.2fx forward)", r.VsForward)
					}
					fmt.Fprintf(out, "%-28s %-26s %-8s %3d %14.0f %9.2f %9.2f %9.2f %9.2f %6.3f%s\n",
						r.Kernel, r.Shape, r.ISA, r.Threads, r.NsPerOp, r.GBps, r.GFLOPS, r.LimitGBps, r.LimitGFLOPS, r.Ratio, extra)
				})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print one JSON object per line")
	f.BoolVar(&quick, "quick", false, "small shapes and short timings (a few seconds)")
	f.StringSliceVar(&isas, "isa", nil, "ISA paths to measure (generic, avx2, avx512); default: all this CPU runs")
	f.StringVar(&threads, "threads", "1,2", "thread counts for sgemm and token_logprobs")
	f.BoolVar(&cpuTime, "cpu-time", false, "time single-thread points by the thread's CPU time (steadier on a loaded machine; Linux)")
	f.StringSliceVar(&only, "kernel", nil, "only these kernels (name prefixes); the limits are always measured")
	return cmd
}
