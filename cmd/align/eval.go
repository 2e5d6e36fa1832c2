package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newEvalCmd is a placeholder until its package lands.
func newEvalCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "eval",
		Short: "Win rate, LC win rate, Bradley-Terry, reward accuracy, safety (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("eval: not yet available in this build") },
	}
}
