package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/model"
	"github.com/alignkit/align/runtime"
)

// newScoreCmd prints the per-token log-probs of a response under a model.
func newScoreCmd() *cobra.Command {
	var (
		modelName, prompt, response string
		asJSON                      bool
	)
	cmd := &cobra.Command{
		Use:   "score",
		Short: "Per-token log-probs of a response under a model, and their sum",
		Long: `Score renders the prompt (as a user turn, with the generation prompt) and the response (an
assistant turn, ending with the end-of-turn token) through the model's chat template, exactly as
Ollama renders /api/chat, and prints each response token with its log-prob and their sum. A model
without a template (stories260K) scores raw completion: prompt text, then response text.

--model takes a GGUF path or an Ollama model name.`,
		Example: `  align score --model testdata/models/stories260K.gguf --prompt "Once upon a time" --response ", there was a girl."
  align score --model stories260k --prompt "The cat" --response " sat." --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openModel(cmd.Context(), modelName, model.LoadOptions{})
			if err != nil {
				return err
			}
			for _, n := range m.Notes() {
				fmt.Fprintln(cmd.ErrOrStderr(), "note:", n)
			}
			toks, err := m.Score(prompt, response)
			if err != nil {
				return err
			}
			var sum float64
			for _, t := range toks {
				sum += float64(t.LogProb)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(map[string]any{"model": modelName, "tokens": toks, "sum": sum})
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "id\ttoken\tlogprob")
			for _, t := range toks {
				fmt.Fprintf(tw, "%d\t%q\t%.6f\n", t.ID, t.Token, t.LogProb)
			}
			fmt.Fprintf(tw, "\tsum\t%.6f\n", sum)
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelName, "model", "", "GGUF path or Ollama model name (required)")
	f.StringVar(&prompt, "prompt", "", "prompt text (a user turn)")
	f.StringVar(&response, "response", "", "response text to score (required)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object: tokens [{id, token, logprob}] and sum")
	_ = cmd.MarkFlagRequired("model")
	_ = cmd.MarkFlagRequired("response")
	return cmd
}

// openModel loads a GGUF path or an Ollama model name, which runtime.Locate turns into the
// model's GGUF blob on this machine (through the server at $OLLAMA_HOST, else the manifests
// under $OLLAMA_MODELS), with the Ollama model's own template unless opt names one.
func openModel(ctx context.Context, nameOrPath string, opt model.LoadOptions) (*model.Model, error) {
	pool, err := envPool()
	if err != nil {
		return nil, err
	}
	loc, err := runtime.Locate(ctx, pool, nameOrPath)
	if err != nil {
		return nil, err
	}
	if opt.Template == "" {
		opt.Template = loc.Template
	}
	return model.Load(loc.Path, opt)
}
