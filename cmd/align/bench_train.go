package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newBenchTrainCmd is a placeholder until its package lands.
func newBenchTrainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "train",
		Short: "Benchmark training tokens/s against PyTorch and Ollama (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("train: not yet available in this build") },
	}
}
