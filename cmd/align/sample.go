package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newSampleCmd is a placeholder until its package lands.
func newSampleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sample",
		Short: "Sample K completions per prompt through Ollama, resumably (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("sample: not yet available in this build") },
	}
}
