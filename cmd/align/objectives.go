package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/objectives"
)

// newObjectivesCmd groups the loss library's commands: list and score.
func newObjectivesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "objectives",
		Short: "The preference-loss library: list objectives, score log-probs",
		Long: `The preference-loss library on its own: DPO and TRL's loss types, f-DPO, SimPO, CPL,
Curry-DPO, INPO, DNO, SRPO, APO and HyPO. It sees only numbers (log-prob sums, lengths,
scores) and returns the loss, its gradient w.r.t. every policy input, and metrics.`,
		Example: `  align objectives list
  align objectives score --objective dpo --param beta=0.1 --in pairs.jsonl`,
	}
	cmd.AddCommand(newObjectivesListCmd(), newObjectivesScoreCmd())
	return cmd
}

func newObjectivesListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every objective with its parameters, defaults, ranges, inputs and paper",
		Example: `  align objectives list
  align objectives list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg := objectives.Registry()
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(reg)
			}
			return printObjectives(out, reg)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the registry as JSON")
	return cmd
}

func printObjectives(w io.Writer, reg []objectives.Info) error {
	for i, info := range reg {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s — %s\n  paper:  %s\n  inputs: %s (differentiated: %s)\n", info.Name, info.Summary, info.Paper,
			strings.Join(info.Inputs, ", "), strings.Join(info.Differentiated, ", "))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, p := range info.Params {
			fmt.Fprintf(tw, "  --param %s=\t%s\tdefault %s\trange %s\t%s\n", p.Name, p.Type, p.Default, p.Range, p.Doc)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func newObjectivesScoreCmd() *cobra.Command {
	var (
		name   string
		params []string
		inPath string
	)
	cmd := &cobra.Command{
		Use:   "score",
		Short: "Score examples (one JSON object per line) with an objective: loss, gradients, metrics",
		Long: `score reads one JSON object per line, whose fields are exactly the objective's inputs
(see 'align objectives list'; e.g. dpo takes pi_w, pi_l, ref_w, ref_l, len_w, len_l), and
writes one line per example: {"loss": x, "grads": {"pi_w": g, ...}, "metrics": {...}}.
Each line is scored as a batch of one. A line with a missing or extra field is an error that
names the line and the field.`,
		Example: `  echo '{"pi_w":-10,"pi_l":-12,"ref_w":-11,"ref_l":-11,"len_w":5,"len_l":6}' | align objectives score --objective dpo
  align objectives score --objective f_dpo --param f_divergence_type=js_divergence --in trl_logps.jsonl
  align objectives score --objective simpo --param beta=2.5 --param gamma_beta_ratio=0.55 --in -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw := map[string]string{}
			for _, kv := range params {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return fmt.Errorf("objectives score: --param %q: want name=value", kv)
				}
				raw[strings.TrimSpace(k)] = v
			}
			obj, err := objectives.New(name, raw)
			if err != nil {
				return err
			}
			var r io.Reader = cmd.InOrStdin()
			if inPath != "" && inPath != "-" {
				f, err := os.Open(inPath)
				if err != nil {
					return fmt.Errorf("objectives score: %w", err)
				}
				defer f.Close()
				r = f
			}
			return objectives.ScoreJSONL(obj, r, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&name, "objective", "", "objective name (see 'align objectives list')")
	cmd.Flags().StringArrayVar(&params, "param", nil, "parameter as name=value (repeatable)")
	cmd.Flags().StringVar(&inPath, "in", "-", "input JSONL file, or - for standard input")
	_ = cmd.MarkFlagRequired("objective")
	return cmd
}
