package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/model"
	"github.com/alignkit/align/recipes"
	"github.com/alignkit/align/train"
)

// newModelsCmd lists the local Ollama store with whether align can train each model.
func newModelsCmd() *cobra.Command {
	var (
		rf     runtimeFlags
		store  string
		recipe string
		sets   []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the Ollama store's models: can align train each, and in how much memory",
		Long: `models lists the models of the Ollama server ($OLLAMA_HOST or --ollama; /api/tags and
/api/show), or, with --store DIR or when the server does not answer, of the store directory
($OLLAMA_MODELS, else ~/.ollama/models) through its manifests. For each: name, architecture,
parameters, file type, context length, whether align can train it — decided by the loader's own
checks on the GGUF header, and when not, exactly why (an unsupported architecture, a tensor of an
unsupported type, a missing tensor...) — and the estimated peak memory of a LoRA run of the
recipe (default dpo: 8 pairs of 512 tokens per step, LoRA r=16 on q,k,v,o, the base as
reference), as it is and with --set model.low_memory=true (docs/model.md, "Memory estimate").`,
		Example: `  align models
  align models --json
  align models --store ~/.ollama/models
  align models --recipe simpo --set max_length=1024`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := recipes.Load(recipe, sets)
			if err != nil {
				return err
			}
			opt := train.ModelsOptions{Store: store, Recipe: r}
			if store == "" {
				if opt.Pool, err = rf.pool(); err != nil {
					return err
				}
			}
			list, err := train.ListModels(cmd.Context(), opt)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			if list.Note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "align:", list.Note)
			}
			fmt.Fprintf(out, "%d models in %s; memory: a LoRA run of recipe %s (peak RSS estimate)\n", len(list.Models), list.Source, r.Name)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tARCH\tPARAMS\tTYPE\tCONTEXT\tTRAIN\tMEMORY\tLOW-MEMORY")
			for _, m := range list.Models {
				train, mem, low := "yes", mb(m.Memory), mb(m.MemoryLowMemory)
				if !m.Trainable {
					train, mem, low = "no", "-", "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, orDash(m.Architecture), params(m), orDash(m.FileType), ctxLen(m.ContextLength), train, mem, low)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, m := range list.Models {
				if !m.Trainable {
					fmt.Fprintf(out, "%s: not trainable: %s\n", m.Name, m.Reason)
				}
			}
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&store, "store", "", "read this Ollama store directory's manifests instead of asking the server")
	cmd.Flags().StringVar(&recipe, "recipe", "dpo", "the recipe (name or YAML file) whose LoRA run the memory estimate is for")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a recipe field, e.g. --set max_length=1024 (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// mb is an estimate's total in MB (10⁶ bytes).
func mb(e *model.MemoryEstimate) string {
	if e == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f MB", float64(e.Total)/1e6)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func params(m train.ModelEntry) string {
	switch n := float64(m.Parameters); {
	case m.Parameters == 0:
		return orDash(m.ParameterSize)
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", n/1e6)
	default:
		return fmt.Sprintf("%.0fK", n/1e3)
	}
}

func ctxLen(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}
