package main

import (
	"fmt"

	"github.com/ollama/ollama/envconfig"
	"github.com/spf13/cobra"

	"github.com/alignkit/align/model"
)

// newGenerateCmd samples a continuation with align's native engine (KV cache, local sampler).
func newGenerateCmd() *cobra.Command {
	var (
		modelName, prompt string
		opt               model.SampleOptions
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate text from a raw prompt with align's native engine",
		Long: `Generate samples a continuation of a raw prompt (no chat template) with align's own forward
pass and a KV cache: greedy at --temperature 0, else temperature, top-k and top-p sampling from
--seed. It stops at the end-of-sequence token or --max-tokens. It is the fallback when no
Ollama server runs, and the engine behind the golden tests.

--model takes a GGUF path or an Ollama model name (resolved through the server at
$OLLAMA_HOST, or through the manifests under $OLLAMA_MODELS).`,
		Example: `  align generate --model testdata/models/stories260K.gguf --prompt "Once upon a time"
  align generate --model stories260k --prompt "The cat" --temperature 0.8 --top-p 0.9 --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := model.Open(cmd.Context(), modelName, envconfig.Host().String(), model.LoadOptions{})
			if err != nil {
				return err
			}
			text, err := m.GenerateText(cmd.Context(), prompt, opt)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), prompt+text)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelName, "model", "", "GGUF path or Ollama model name (required)")
	f.StringVar(&prompt, "prompt", "", "raw prompt text (required)")
	f.Float32Var(&opt.Temperature, "temperature", 0, "sampling temperature; 0 = greedy")
	f.Uint64Var(&opt.Seed, "seed", 0, "random seed for sampling")
	f.IntVar(&opt.MaxTokens, "max-tokens", 256, "maximum tokens to generate")
	f.IntVar(&opt.TopK, "top-k", 0, "keep the k most likely tokens; 0 = all")
	f.Float32Var(&opt.TopP, "top-p", 1, "nucleus sampling mass; 1 = off")
	_ = cmd.MarkFlagRequired("model")
	_ = cmd.MarkFlagRequired("prompt")
	return cmd
}
