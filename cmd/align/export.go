package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newExportCmd is a placeholder until its package lands.
func newExportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Export a trained run to Ollama, GGUF, adapter GGUF or PEFT (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("export: not yet available in this build") },
	}
}
