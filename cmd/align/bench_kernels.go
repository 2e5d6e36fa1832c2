package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newBenchKernelsCmd is a placeholder until its package lands.
func newBenchKernelsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "kernels",
		Short: "Benchmark the SIMD kernels against the machine's limits (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("kernels: not yet available in this build") },
	}
}
