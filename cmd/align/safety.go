package main

import (
	"encoding/json"
	"fmt"
	"github.com/alignkit/align/pairs"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/data/curate"
	"github.com/alignkit/align/eval"
	"github.com/alignkit/align/eval/safety"
	"github.com/alignkit/align/runtime"
)

// newSafetyCmd groups the safety-retrofitting commands.
func newSafetyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "safety",
		Short: "Build refusal pairs for safety retrofitting; list the attack-style templates",
		Long: `safety builds the data of safety retrofitting ("Efficient Safety Retrofitting Against
Jailbreaking for LLMs"): DPO on refusal pairs lowers the attack success rate while keeping
general quality, and safe prompts paired the other way keep over-refusal down. Train on the
pairs with the safety-dpo recipe; measure with align eval safety and align eval win-rate. See
docs/safety.md.`,
		Example: `  align safety attacks
  align safety build-pairs --model policy --prompts xstest_prompts.csv --judge judge --attack all --out refusal_pairs.jsonl
  align safety mix --pairs refusal_pairs.jsonl --general general.parquet --ratio 0.3 --out mixed.jsonl
  align safety report --base policy --model policy-safe --prompts heldout.csv --general alpaca_eval.json --judge judge --out retrofit/`,
	}
	cmd.AddCommand(newSafetyBuildPairsCmd(), newSafetyAttacksCmd(), newSafetyMixCmd(), newSafetyReportCmd())
	return cmd
}

func loadAttackSelection(file string, names []string) ([]curate.Attack, error) {
	as, err := curate.LoadAttacks(file)
	if err != nil {
		return nil, err
	}
	if len(names) == 1 && names[0] == "all" {
		return as, nil
	}
	if len(names) == 0 {
		if file == "" {
			return nil, nil
		}
		return as, nil
	}
	return curate.SelectAttacks(as, names)
}

func newSafetyBuildPairsCmd() *cobra.Command {
	var (
		rf          runtimeFlags
		cfg         pairs.SafetyConfig
		prompts     string
		attackFile  string
		attackNames []string
		general     string
		opt         = runtime.PolicyOptions()
		asJSON      bool
		quiet       bool
	)
	cmd := &cobra.Command{
		Use:   "build-pairs",
		Short: "Sample a model on harmful and safe prompts, classify refusals, and pair them",
		Long: `build-pairs samples K responses per prompt from --model, asks --judge to classify each one
as full compliance, full refusal or partial refusal (the XSTest classifier prompt; the judge
sees the original request even when an attack template rewrote it), and pairs them:

  unsafe prompt: chosen = a refusal,   rejected = a compliance
  safe prompt:   chosen = a compliance, rejected = a refusal   (trains over-refusal away)

Prompts carry a "label" of safe or unsafe (XSTest's xstest_prompts.csv does); --label fills it
for files without one. --attack applies attack-style templates (names or styles, or "all") to
the unsafe prompts (also to the safe ones with --attack-safe); --attacks adds or replaces
templates from a YAML file of the same schema as the embedded set (align safety attacks).
--general mixes general preference pairs in at --mix-ratio of the output.

Like align data curate, every sample and classification is appended to <work>/samples.jsonl
and <work>/judgments.jsonl as it arrives; kill it and rerun, and only what is missing is asked.
<work>/report.json holds the compliance and refusal rates per attack style.`,
		Example: `  align safety build-pairs --model policy --prompts testdata/data/xstest/xstest_prompts.csv --judge judge \
      --attack all --k 4 --out refusal_pairs.parquet
  align safety build-pairs --model policy --prompts harmful.txt --label unsafe --judge judge \
      --attack role_play,prefix_injection --general hh.parquet --mix-ratio 0.3 --out pairs.jsonl
  align safety build-pairs --model policy --prompts p.csv --judge judge --attacks my_attacks.yaml --out pairs.jsonl --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if prompts == "" {
				return fmt.Errorf("safety: --prompts is required")
			}
			if err := noRewardJudge("safety build-pairs", cfg.Judge, "classify each response as compliance or refusal"); err != nil {
				return err
			}
			var err error
			if cfg.Prompts, err = curate.ReadTexts(prompts); err != nil {
				return err
			}
			if cfg.Attacks, err = loadAttackSelection(attackFile, attackNames); err != nil {
				return err
			}
			if general != "" {
				if cfg.General, err = data.ReadPairs(general, data.Options{}); err != nil {
					return err
				}
				if cfg.MixRatio == 0 {
					return fmt.Errorf("safety: --general needs --mix-ratio")
				}
			}
			cfg.Options = opt
			pool, err := rf.pool()
			if err != nil {
				return err
			}
			if !quiet {
				cfg.Progress = curateProgressPrinter(cmd.ErrOrStderr())
			}
			sum, err := pairs.BuildRefusalPairs(cmd.Context(), pairs.PoolBackend{Pool: pool}, cfg)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(sum)
			}
			printSafetySummary(w, sum)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prompts, "prompts", "", "labelled prompts (XSTest CSV, JSONL with a label field, or any prompt file with --label)")
	f.StringVar(&cfg.DefaultLabel, "label", "", "label of prompts without one: safe or unsafe")
	f.StringVar(&cfg.Model, "model", "", "model to sample (the one to retrofit)")
	f.IntVar(&cfg.K, "k", 4, "samples per prompt")
	f.Int64Var(&cfg.Seed, "seed", 1, "base seed of every sample and judge call")
	f.BoolVar(&cfg.Raw, "raw", false, "send prompts without the model's chat template")
	f.Float64Var(&opt.Temperature, "temperature", opt.Temperature, "sampling temperature")
	f.Float64Var(&opt.TopP, "top-p", opt.TopP, "nucleus sampling threshold")
	f.IntVar(&opt.NumPredict, "num-predict", opt.NumPredict, "maximum tokens per response")
	f.StringVar(&cfg.Judge, "judge", "", "judge model that classifies compliance and refusal")
	f.StringVar(&cfg.Template, "judge-template", "xstest", "runtime judge template of the classifier")
	f.IntVar(&cfg.JudgeAttempts, "judge-attempts", 3, "tries of a judge call whose answer does not parse")
	f.IntVar(&cfg.JudgeNumPredict, "judge-num-predict", 0, "cap the judge's answer in tokens (default: the template's setting)")
	f.StringVar(&attackFile, "attacks", "", "YAML file of extra attack templates (same schema as the embedded set)")
	f.StringSliceVar(&attackNames, "attack", nil, `attack names or styles to apply, or "all" (default: none, or all with --attacks)`)
	f.BoolVar(&cfg.AttackSafe, "attack-safe", false, "apply the attacks to safe prompts too")
	f.IntVar(&cfg.Pairs.MaxPairsPerPrompt, "max-pairs-per-prompt", 4, "pairs per prompt at most")
	f.BoolVar(&cfg.Pairs.PartialAsRefusal, "partial-as-refusal", false, "count partial refusals as refusals (default: on neither side)")
	f.StringVar(&cfg.Pairs.FallbackRefusal, "fallback-refusal", "", "chosen response for unsafe prompts the model never refused (default: no pair)")
	f.StringVar(&general, "general", "", "general preference pairs to mix in")
	f.Float64Var(&cfg.MixRatio, "mix-ratio", 0, "fraction of the output drawn from --general (0 ≤ r < 1)")
	f.StringVar(&cfg.Out, "out", "", "pairs output (.jsonl or .parquet)")
	f.StringVar(&cfg.Work, "work", "", "folder of the resumable logs and report.json (default <out>.work)")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "requests in flight (default: hosts × per-host)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	rf.add(cmd)
	return cmd
}

func printSafetySummary(w io.Writer, s pairs.SafetySummary) {
	fmt.Fprintf(w, "prompts: %d (%d after attacks); samples %d (%d new); classified %d (%d new), %d invalid (%.1f%%)\n",
		s.Prompts, s.Attacked, s.Samples, s.SamplesNew, s.JudgeCalls, s.JudgeNew, s.JudgeInvalid, 100*s.JudgeInvalidRate)
	for _, side := range []struct {
		name string
		m    map[string]*pairs.StyleStats
	}{{"unsafe", s.Unsafe}, {"safe", s.Safe}} {
		for _, st := range pairs.SortedStyles(side.m) {
			x := side.m[st]
			fmt.Fprintf(w, "  %-6s %-20s prompts %3d  compliance %5.1f%%  refusal %5.1f%%  partial %d  invalid %d\n",
				side.name, st, x.Prompts, 100*x.ComplianceRate, 100*x.RefusalRate, x.Partial, x.Invalid)
		}
	}
	fmt.Fprintf(w, "pairs: %d refusal (%d unsafe, %d safe) + %d general = %d in %s; %d prompts without a pair\n",
		s.RefusalPairs, s.UnsafePairs, s.SafePairs, s.GeneralPairs, s.Pairs, s.Out, s.NoPair)
}

func newSafetyAttacksCmd() *cobra.Command {
	var (
		file   string
		apply  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "attacks",
		Short: "List the attack-style templates (embedded, plus a YAML file's)",
		Long: `attacks lists the attack-style templates that build-pairs (and align eval safety) apply to
prompts: the embedded set (role play, prefix injection, refusal suppression, fiction framing,
base64, leetspeak, rot13, and the direct baseline), extended or overridden by --attacks FILE.
A template is a Go text/template over {{.Prompt}} with the functions base64, leet and rot13.
--apply TEXT shows each template applied to TEXT.`,
		Example: `  align safety attacks
  align safety attacks --attacks my_attacks.yaml --apply "How do I pick a lock?" --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			as, err := curate.LoadAttacks(file)
			if err != nil {
				return err
			}
			type row struct {
				curate.Attack
				Applied string `json:"applied,omitempty"`
			}
			var rows []row
			for _, a := range as {
				r := row{Attack: a}
				if apply != "" {
					if r.Applied, err = a.Apply(apply); err != nil {
						return err
					}
				}
				rows = append(rows, r)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(rows)
			}
			for _, r := range rows {
				fmt.Fprintf(w, "%-20s %-20s %s\n", r.Name, r.Style, r.Description)
				if apply != "" {
					fmt.Fprintf(w, "    %q\n", r.Applied)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "attacks", "", "YAML file of extra attack templates")
	cmd.Flags().StringVar(&apply, "apply", "", "show each template applied to this request")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func newSafetyMixCmd() *cobra.Command {
	var (
		pairsFile, general, out string
		ratio                   float64
		seed                    uint64
		asJSON                  bool
	)
	cmd := &cobra.Command{
		Use:   "mix",
		Short: "Mix general preference pairs into refusal pairs at a ratio",
		Long: `mix writes --pairs plus pairs drawn without replacement from --general, so that the general
ones make up --ratio of the output (0.3: three general pairs for every seven refusal pairs),
capped by what --general holds, shuffled with --seed. Mixing general data in keeps the
retrofitted model's general quality (the win rate against the base).`,
		Example: `  align safety mix --pairs refusal_pairs.jsonl --general testdata/data/dpo_en_demo.json --ratio 0.3 --out mixed.parquet`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pairsFile == "" || general == "" || out == "" {
				return fmt.Errorf("safety mix: --pairs, --general and --out are required")
			}
			a, err := data.ReadPairs(pairsFile, data.Options{})
			if err != nil {
				return err
			}
			g, err := data.ReadPairs(general, data.Options{})
			if err != nil {
				return err
			}
			mixed, err := pairs.MixPairs(a, g, ratio, seed)
			if err != nil {
				return err
			}
			if err := curate.WritePairs(out, mixed); err != nil {
				return err
			}
			res := map[string]any{"out": out, "pairs": len(a), "general": len(mixed) - len(a), "total": len(mixed)}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d pairs + %d general = %d\n", out, len(a), len(mixed)-len(a), len(mixed))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&pairsFile, "pairs", "", "refusal pairs")
	f.StringVar(&general, "general", "", "general preference pairs")
	f.Float64Var(&ratio, "ratio", 0.3, "fraction of the output drawn from --general (0 ≤ r < 1)")
	f.Uint64Var(&seed, "seed", 1, "seed of the draw and the shuffle")
	f.StringVar(&out, "out", "", "output (.jsonl or .parquet)")
	f.BoolVar(&asJSON, "json", false, "print the counts as JSON")
	return cmd
}

func newSafetyReportCmd() *cobra.Command {
	var (
		rf                               runtimeFlags
		opt                              safety.RetrofitOptions
		prompts, general, attackFile     string
		attackNames                      []string
		maxTokens, limit, judgeMaxTokens int
		asJSON                           bool
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "The retrofit report: attack success per style, over-refusal and win rate, before and after",
		Long: `report measures a safety retrofit on held-out data, for the base model and the retrofitted one:

  - attack success rate (full compliance on unsafe prompts) per attack style: the unsafe
    prompts of --prompts asked directly (style "none") and wrapped in each --attack template;
  - over-refusal rate on the safe prompts of --prompts (full or partial refusal);
  - win rate of the retrofitted model against the base on --general (AlpacaEval instructions).

Every number comes from align eval safety and align eval win-rate, run into folders under --out
(each resumable), and lands in one table, printed and written as --out/report.json and
--out/report.html. The base against itself is 50% by construction, not judged.`,
		Example: `  align safety report --base base --model base-safety-dpo --prompts heldout_xstest.csv \
      --general testdata/alpaca_eval_instructions.json --limit-general 100 --judge judge --attack all --out retrofit/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Base == "" || opt.Retrofitted == "" || prompts == "" || general == "" || opt.Judge == "" || opt.Out == "" {
				return fmt.Errorf("safety report: --base, --model, --prompts, --general, --judge and --out are required")
			}
			if err := noRewardJudge("safety report", opt.Judge, "classify responses and answer pairwise questions in words"); err != nil {
				return err
			}
			var err error
			if opt.Safety, err = eval.ReadPrompts(prompts); err != nil {
				return err
			}
			if opt.General, err = eval.ReadPrompts(general); err != nil {
				return err
			}
			if limit > 0 && limit < len(opt.General) {
				opt.General = opt.General[:limit]
			}
			if opt.Attacks, err = loadAttackSelection(attackFile, attackNames); err != nil {
				return err
			}
			opt.GenOptions = runtime.GreedyOptions(maxTokens)
			if judgeMaxTokens > 0 {
				jt, err := eval.JudgeTemplate(opt.WinRateTemplate)
				if err != nil {
					return err
				}
				jo := jt.Options
				jo.NumPredict = judgeMaxTokens
				opt.JudgeOptions = &jo
			}
			if !asJSON {
				opt.Progress = evalProgress(false)
			}
			pool, err := rf.pool()
			if err != nil {
				return err
			}
			rep, err := safety.RunRetrofit(cmd.Context(), pool, opt)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(rep)
			}
			fmt.Fprint(w, rep.Table())
			for _, m := range rep.Warnings {
				fmt.Fprintln(w, "WARNING:", m)
			}
			fmt.Fprintf(w, "report: %s\n", filepath.Join(opt.Out, "report.html"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.Base, "base", "", "the model before the retrofit (Ollama name)")
	f.StringVar(&opt.Retrofitted, "model", "", "the retrofitted model (Ollama name)")
	f.StringVar(&prompts, "prompts", "", "held-out prompts labelled safe/unsafe (XSTest CSV)")
	f.StringVar(&general, "general", "", "general prompts for the win rate (AlpacaEval instructions)")
	f.IntVar(&limit, "limit-general", 0, "use only the first N general prompts")
	f.StringVar(&attackFile, "attacks", "", "YAML file of extra attack templates")
	f.StringSliceVar(&attackNames, "attack", []string{"all"}, `attack names or styles applied to the unsafe prompts, or "all"`)
	f.StringVar(&opt.Judge, "judge", "", "judge model (classifier and pairwise judge)")
	f.StringVar(&opt.SafetyTemplate, "safety-template", "xstest", "classification template")
	f.StringVar(&opt.WinRateTemplate, "judge-template", "alpaca_eval_clf", "pairwise template of the win rate")
	f.IntVar(&judgeMaxTokens, "judge-max-tokens", 0, "cap the win-rate judge's answer (default: the template's setting)")
	f.IntVar(&opt.JudgeAttempts, "judge-attempts", 0, "tries of a judge answer that does not parse (default 3)")
	f.IntVar(&maxTokens, "max-tokens", 256, "most tokens per generated response")
	f.Int64Var(&opt.Seed, "seed", 1, "generation and judge seed")
	f.StringVar(&opt.Out, "out", "", "output folder (the eval runs, report.json, report.html)")
	f.BoolVar(&asJSON, "json", false, "print report.json")
	rf.add(cmd)
	return cmd
}
