package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newScoreCmd is a placeholder until its package lands.
func newScoreCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "score",
		Short: "Per-token log-probs of a response under a model (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("score: not yet available in this build") },
	}
}
