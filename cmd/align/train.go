package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newTrainCmd is a placeholder until its package lands.
func newTrainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "train",
		Short: "Train a policy from a recipe (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("train: not yet available in this build") },
	}
}
