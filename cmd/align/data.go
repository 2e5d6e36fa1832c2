package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newDataCmd is a placeholder until its package lands.
func newDataCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "data",
		Short: "Inspect, validate, convert, split and pair preference datasets (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("data: not yet available in this build") },
	}
}
