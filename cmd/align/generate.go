package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newGenerateCmd is a placeholder until its package lands.
func newGenerateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "generate",
		Short: "Generate text with align's native engine (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("generate: not yet available in this build") },
	}
}
