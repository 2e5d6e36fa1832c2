package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/pairs"
)

// dataFlags are the reading options every `align data` command shares.
type dataFlags struct {
	cols        map[string]*string
	maps        []string
	skipInvalid bool
	maxRowBytes int
	noRoleCheck bool
	asJSON      bool
}

func (f *dataFlags) register(cmd *cobra.Command, skip bool) {
	f.cols = map[string]*string{}
	// The --NAME-col flags, each mapping one of align's column names.
	for _, c := range []string{"prompt", "chosen", "rejected", "score_chosen", "score_rejected", "id", "messages", "completion", "label", "responses"} {
		f.cols[c] = cmd.Flags().String(strings.ReplaceAll(c, "_", "-")+"-col", "", fmt.Sprintf("the file's column holding %s", c))
	}
	cmd.Flags().StringArrayVar(&f.maps, "map", nil, "map a column, name=source (repeatable), e.g. --map chosen=good_response")
	if skip {
		cmd.Flags().BoolVar(&f.skipInvalid, "skip-invalid", false, "skip invalid rows, and report how many and why")
	}
	cmd.Flags().IntVar(&f.maxRowBytes, "max-row-bytes", data.DefaultMaxRowBytes, "the most text one row may hold (bytes)")
	cmd.Flags().BoolVar(&f.noRoleCheck, "no-role-check", false, "do not require user/assistant turns to alternate")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print one JSON object")
}

func (f *dataFlags) options() (data.Options, error) {
	opt := data.Options{SkipInvalid: f.skipInvalid, MaxRowBytes: f.maxRowBytes, NoRoleCheck: f.noRoleCheck, Columns: map[string]string{}}
	for c, v := range f.cols {
		if *v != "" {
			opt.Columns[c] = *v
		}
	}
	if err := data.ParseColumnMap(f.maps, opt.Columns); err != nil {
		return opt, err
	}
	return opt, nil
}

func dataPrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Inspect, validate, convert, split and pair preference datasets",
		Long: `Preference datasets in Parquet (Hugging Face conventions), JSONL and JSON (gzip too): Anthropic
HH transcripts, ShareGPT (LLaMA-Factory), TRL's conversational formats, ranked responses
(vicuna80_ranked, UltraFeedback completions), KTO-style unpaired data. The format and the
columns are detected; name other columns with --prompt-col, --chosen-col, ... or --map.
See docs/data.md.`,
		Example: `  align data inspect testdata/data/dpo_en_demo.json
  align data validate testdata/data/harmless-base-test.jsonl.gz
  align data convert testdata/data/dpo_en_demo.json /tmp/dpo.parquet
  align data split /tmp/dpo.parquet --test 0.1 --seed 1 --out-train /tmp/train.parquet --out-test /tmp/test.parquet
  align data pairs testdata/data/vicuna80_ranked.jsonl /tmp/pairs.jsonl --scheme best_vs_rest --skip-invalid`,
	}
	cmd.AddCommand(newDataInspectCmd(), newDataValidateCmd(), newDataConvertCmd(), newDataSplitCmd(), newDataPairsCmd(), newCurateCmd())
	return cmd
}

func newDataInspectCmd() *cobra.Command {
	var f dataFlags
	var modelPath string
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Describe a dataset: format, schema, rows, role patterns, lengths",
		Long: `inspect reads the whole file and prints its detected format and layout, its schema, its row
count (invalid rows counted apart, with their reasons), the most common role patterns, and
length statistics in characters (Unicode code points) and, with --model GGUF, in tokens of
that model's tokenizer (message contents only, without the chat template).`,
		Example: `  align data inspect testdata/data/dpo_en_demo.json
  align data inspect testdata/data/harmless-base-test.jsonl.gz --json
  align data inspect pairs.parquet --model testdata/models/stories260K.gguf
  align data inspect mine.jsonl --map chosen=good_response --map rejected=bad_response`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options()
			if err != nil {
				return err
			}
			var tok data.Tokenizer
			if modelPath != "" {
				m, err := model.Load(modelPath, model.LoadOptions{})
				if err != nil {
					return err
				}
				defer m.Close()
				tok = func(s string) (int, error) {
					ids, err := m.Tokenize(s, false)
					return len(ids), err
				}
			}
			ins, err := data.Inspect(args[0], opt, tok)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.asJSON {
				ins.Report.Issues = firstIssues(ins.Report.Issues, 20)
				return dataPrintJSON(out, ins)
			}
			fmt.Fprintf(out, "file:    %s\nformat:  %s\nkind:    %s\nrows:    %d (%s)\n", ins.File, ins.Format, ins.Kind, ins.Rows, ins.Report.Summary())
			fmt.Fprintln(out, "schema:")
			for _, c := range ins.Schema {
				fmt.Fprintf(out, "  %-16s %s\n", c.Name, c.Type)
			}
			fmt.Fprintln(out, "role patterns (prompt | response):")
			for _, p := range ins.RolePatterns {
				fmt.Fprintf(out, "  %6d  %s\n", p.Rows, p.Pattern)
			}
			printLengths(out, "length in characters", ins.Chars)
			if ins.Tokens != nil {
				printLengths(out, "length in tokens ("+modelPath+")", ins.Tokens)
			}
			if ins.ResponsesPerPrompt != nil {
				s := ins.ResponsesPerPrompt
				fmt.Fprintf(out, "responses per prompt: min %d, mean %.1f, max %d\n", s.Min, s.Mean, s.Max)
			}
			if ins.Labels != nil {
				fmt.Fprintf(out, "labels: %d true, %d false\n", ins.Labels["true"], ins.Labels["false"])
			}
			for _, is := range firstIssues(ins.Report.Issues, 10) {
				fmt.Fprintln(out, "  invalid:", is.Error())
			}
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&modelPath, "model", "", "a GGUF file whose tokenizer counts tokens")
	return cmd
}

func firstIssues(is []data.Issue, n int) []data.Issue {
	if len(is) > n {
		return is[:n]
	}
	return is
}

func printLengths(out io.Writer, title string, m map[string]data.LengthStats) {
	fmt.Fprintln(out, title+":")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	order := map[string]int{"prompt": 0, "chosen": 1, "rejected": 2, "response": 3, "completion": 4}
	sort.Slice(keys, func(i, j int) bool { return order[keys[i]] < order[keys[j]] })
	fmt.Fprintf(out, "  %-10s %8s %8s %10s %8s %8s %8s\n", "field", "count", "min", "mean", "p50", "p95", "max")
	for _, k := range keys {
		s := m[k]
		fmt.Fprintf(out, "  %-10s %8d %8d %10.1f %8d %8d %8d\n", k, s.Count, s.Min, s.Mean, s.P50, s.P95, s.Max)
	}
}

func newDataValidateCmd() *cobra.Command {
	var f dataFlags
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "List every problem in a dataset, with file, row and column; exit 1 if any",
		Long: `validate reads the whole file and prints every problem with its location, like
  data: hh.parquet row 1041 column "chosen": empty response
then a summary by reason. It exits with status 1 when it finds any problem, 0 otherwise.
Checked: missing or mistyped columns, null or empty prompts and responses, chosen identical to
rejected, invalid UTF-8, role sequences that do not alternate user/assistant, rows over
--max-row-bytes of text, JSON syntax errors (with the line), truncated gzip streams, and
truncated or corrupted Parquet files.`,
		Example: `  align data validate testdata/data/harmless-base-test.jsonl.gz
  align data validate train.parquet --json
  align data validate mine.jsonl --prompt-col question --chosen-col good --rejected-col bad`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options()
			if err != nil {
				return err
			}
			rep := data.Validate(args[0], opt)
			out := cmd.OutOrStdout()
			if f.asJSON {
				if err := dataPrintJSON(out, map[string]any{"file": args[0], "ok": rep.OK(), "report": rep}); err != nil {
					return err
				}
			} else {
				for _, is := range rep.Issues {
					fmt.Fprintln(out, is.Error())
				}
				if rep.Skipped > len(rep.Issues) {
					fmt.Fprintf(out, "... and %d more\n", rep.Skipped-len(rep.Issues))
				}
				fmt.Fprintln(out, rep.Summary())
			}
			if !rep.OK() {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

func newDataConvertCmd() *cobra.Command {
	var f dataFlags
	cmd := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Convert any supported dataset to Parquet (HF conventions) or JSONL, streaming",
		Long: `convert reads IN in any supported format and writes its records to OUT, by OUT's extension:
.parquet (zstd, row groups of about 64 MiB, Hugging Face conventions) or .jsonl / .jsonl.gz.
It streams: memory stays flat whatever the size. An invalid row stops it unless
--skip-invalid is given; then the skipped rows are counted by reason. OUT appears only when
complete.`,
		Example: `  align data convert testdata/data/harmless-base-test.jsonl.gz /tmp/hh.parquet --skip-invalid
  align data convert /tmp/hh.parquet /tmp/hh.jsonl
  align data convert mine.json out.parquet --map chosen=good_response --map rejected=bad_response`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options()
			if err != nil {
				return err
			}
			res, err := data.Convert(args[0], args[1], opt)
			if err != nil {
				if !opt.SkipInvalid && !data.IsFatal(err) {
					return fmt.Errorf("%w\n(use --skip-invalid to skip invalid rows, or `align data validate` to list them all)", err)
				}
				return err
			}
			res.Report.Issues = firstIssues(res.Report.Issues, 20)
			if f.asJSON {
				return dataPrintJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d %s records to %s (from %s; %s)\n", res.Written, res.Kind, args[1], res.Input, res.Report.Summary())
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}

func newDataSplitCmd() *cobra.Command {
	var f dataFlags
	var test float64
	var seed uint64
	var trainOut, testOut string
	cmd := &cobra.Command{
		Use:   "split IN --test FRACTION --seed S --out-train F --out-test F",
		Short: "Split a dataset by prompt hash, so the same prompt never lands on both sides",
		Long: `split sends each record to the test side when SHA-256 of the seed and its prompt (roles and
contents), its first 8 bytes taken as a fraction of 2^64, is below --test. The split is deterministic for a given
seed, independent of the file's order, and every record of one prompt goes to the same side.
The outputs' formats follow their extensions.`,
		Example: `  align data split testdata/data/dpo_en_demo.json --test 0.1 --seed 1 --out-train /tmp/train.parquet --out-test /tmp/test.parquet
  align data split pairs.jsonl --test 0.2 --seed 7 --out-train tr.jsonl --out-test te.jsonl --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options()
			if err != nil {
				return err
			}
			if trainOut == "" || testOut == "" {
				return fmt.Errorf("data split: give both --out-train and --out-test")
			}
			res, err := data.Split(args[0], trainOut, testOut, test, seed, opt)
			if err != nil {
				return err
			}
			res.Report.Issues = firstIssues(res.Report.Issues, 20)
			if f.asJSON {
				return dataPrintJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "train: %d records -> %s\ntest:  %d records -> %s\n(%s)\n", res.Train, trainOut, res.Test, testOut, res.Report.Summary())
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().Float64Var(&test, "test", 0.1, "the fraction of prompts for the test side")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "the hash seed")
	cmd.Flags().StringVar(&trainOut, "out-train", "", "the train output (.parquet, .jsonl)")
	cmd.Flags().StringVar(&testOut, "out-test", "", "the test output (.parquet, .jsonl)")
	return cmd
}

func newDataPairsCmd() *cobra.Command {
	var f dataFlags
	var scheme string
	cmd := &cobra.Command{
		Use:   "pairs IN OUT --scheme best_vs_rest|all_pairs",
		Short: "Turn ranked data into preference pairs in Curry-DPO's curriculum order",
		Long: `pairs reads ranked data (a prompt with N scored responses) and writes pairs (Curry-DPO, arXiv 2403.07230):
  best_vs_rest  the top-scored response against each strictly lower-scored one (the paper's)
  all_pairs     every (i, j) with score_i > score_j (an align extension)
Equal scores give no pair. Each prompt's pairs are ordered easy first: by descending score gap,
ties broken by the chosen response's rank, then the rejected one's. The output holds every
prompt's easiest pair (stage 1), then every prompt's second (stage 2), and so on; each pair's
meta has its "stage", "chosen_model" and "rejected_model".`,
		Example: `  align data pairs testdata/data/vicuna80_ranked.jsonl /tmp/vicuna_pairs.parquet --skip-invalid
  align data pairs ultrafeedback.parquet pairs.jsonl --scheme all_pairs --json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options()
			if err != nil {
				return err
			}
			res, err := pairs.MakeRankedPairs(args[0], args[1], scheme, opt)
			if err != nil {
				return err
			}
			res.Report.Issues = firstIssues(res.Report.Issues, 20)
			if f.asJSON {
				return dataPrintJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d prompts -> %d pairs in %d stages %v -> %s (%d prompts gave no pair; %s)\n",
				res.Prompts, res.Pairs, res.Stages, res.StageCounts, args[1], res.NoPairs, res.Report.Summary())
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&scheme, "scheme", "best_vs_rest", "best_vs_rest or all_pairs")
	return cmd
}
