package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newSafetyCmd is a placeholder until its package lands.
func newSafetyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "safety",
		Short: "Build refusal pairs for safety retrofitting (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("safety: not yet available in this build") },
	}
}
