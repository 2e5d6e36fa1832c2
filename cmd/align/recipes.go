package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newRecipesCmd is a placeholder until its package lands.
func newRecipesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "recipes",
		Short: "List and show the embedded recipes (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("recipes: not yet available in this build") },
	}
}
