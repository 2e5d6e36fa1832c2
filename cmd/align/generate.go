package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/model"
	"github.com/alignkit/align/train"
)

// generation is one text of align generate --json: revision 0 is the first answer.
type generation = train.Revision

// newGenerateCmd samples a continuation with align's native engine (KV cache, local sampler).
func newGenerateCmd() *cobra.Command {
	var (
		modelName, prompt, revTmpl string
		revisions                  int
		asJSON                     bool
		opt                        model.SampleOptions
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate text from a raw prompt with align's native engine",
		Long: `Generate samples a continuation of a raw prompt (no chat template) with align's own forward
pass and a KV cache: greedy at --temperature 0, else temperature, top-k and top-p sampling from
--seed. It stops at the end-of-sequence token or --max-tokens. It is the fallback when no
Ollama server runs, and the engine behind the golden tests.

--model takes a GGUF path or an Ollama model name (resolved through the server at
$OLLAMA_HOST, or through the manifests under $OLLAMA_MODELS).

--revisions N applies SRPO's self-revision at inference: y0 is sampled from the prompt x, then
y(k+1) from the revision prompt rendered from x and y(k) with --revision-template (a Go
text/template with {{.Prompt}} and {{.Response}}; default: the SRPO recipe's
objective.revision_template), for k < N. Revision k samples with seed --seed+k. Without
--json, each of the N+1 texts is printed after a "### revision K" line; revision 0 is printed
as prompt plus continuation (as without --revisions), the revisions as their continuation.`,
		Example: `  align generate --model testdata/models/stories260K.gguf --prompt "Once upon a time"
  align generate --model stories260k --prompt "The cat" --temperature 0.8 --top-p 0.9 --seed 7
  align generate --model stories260k --prompt "Tell a story about a dog." --revisions 2 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openModel(cmd.Context(), modelName, model.LoadOptions{})
			if err != nil {
				return err
			}
			for _, n := range m.Notes() {
				fmt.Fprintln(cmd.ErrOrStderr(), "note:", n)
			}
			defer m.Close()
			gens, err := train.Revise(cmd.Context(), m, prompt, revisions, revTmpl, opt)
			if err != nil {
				return fmt.Errorf("generate: %w", err)
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(gens)
			case revisions == 0:
				_, err = fmt.Fprintln(out, prompt+gens[0].Text)
				return err
			}
			for _, g := range gens {
				text := g.Text
				if g.Revision == 0 {
					text = prompt + text
				}
				if _, err := fmt.Fprintf(out, "### revision %d\n%s\n", g.Revision, text); err != nil {
					return err
				}
			}
			return nil
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
	f.IntVar(&revisions, "revisions", 0, "SRPO self-revision rounds after the first answer")
	f.StringVar(&revTmpl, "revision-template", train.DefaultRevisionTemplate(), "revision prompt (Go text/template with {{.Prompt}}, {{.Response}})")
	f.BoolVar(&asJSON, "json", false, "print the texts as JSON: [{revision, prompt, text}]")
	_ = cmd.MarkFlagRequired("model")
	_ = cmd.MarkFlagRequired("prompt")
	return cmd
}
