package main

import (
	"github.com/alignkit/align/train"
	"github.com/spf13/cobra"
)

// newExportCmd writes a trained run to Ollama, a GGUF file, an adapter GGUF or a PEFT folder.
func newExportCmd() *cobra.Command {
	var (
		run     string
		targets []string
		hosts   []string
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a trained run to Ollama, GGUF, adapter GGUF or PEFT",
		Long: `export loads a run's newest checkpoint and writes it out:
  ollama:NAME   a merged F16 GGUF, created on the Ollama server with the base model's template
  gguf:FILE     a merged GGUF (F16; F32 when FILE ends in .f32.gguf)
  adapter:FILE  a llama.cpp LoRA adapter GGUF
  peft:DIR      adapter_model.safetensors and adapter_config.json`,
		Example: `  align export --run runs/quickstart --to ollama:stories-happy
  align export --run runs/dpo --to gguf:dpo.gguf --to peft:dpo-peft`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, t := range targets {
				if err := train.Export(cmd.Context(), run, t, train.ExportOptions{Hosts: hosts, Out: cmd.OutOrStdout()}); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "run directory (from align train)")
	cmd.Flags().StringArrayVar(&targets, "to", nil, "target: ollama:NAME, gguf:FILE, adapter:FILE or peft:DIR (repeatable)")
	cmd.Flags().StringArrayVar(&hosts, "ollama", nil, "Ollama host(s) for ollama: targets (default $OLLAMA_HOST)")
	_ = cmd.MarkFlagRequired("run")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}
