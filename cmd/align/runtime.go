package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newRuntimeCmd is a placeholder until its package lands.
func newRuntimeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "runtime",
		Short: "Check the Ollama server: version, models, a one-token test (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("runtime: not yet available in this build") },
	}
}
