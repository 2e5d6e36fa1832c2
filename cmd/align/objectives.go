package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newObjectivesCmd is a placeholder until its package lands.
func newObjectivesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "objectives",
		Short: "The preference-loss library: list objectives, score log-probs (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("objectives: not yet available in this build") },
	}
}
