package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/eval"
	"github.com/alignkit/align/runtime"
	"github.com/alignkit/align/train"
)

// newEvalCmd groups the evaluation commands (package eval; docs/eval.md).
func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Win rate, LC win rate, Bradley-Terry leaderboard, reward accuracy, safety",
		Long: `eval measures whether alignment worked, with the numbers of the public leaderboards:
AlpacaEval 2's win rate and length-controlled win rate, Arena-Hard v0.1's Bradley-Terry
leaderboard, MT-Bench scoring, implicit-reward accuracy, and XSTest-style safety rates.
Every command that evaluates writes report.json and report.html (see docs/eval.md).`,
		Example: `  align eval win-rate --model my-dpo --baseline base --prompts prompts.jsonl --judge judge
  align eval stats --judgments evals/my-dpo/judgments.jsonl --json
  align eval leaderboard --judgments evals/ --baseline base
  align eval mt-bench --model my-dpo --judge qwen2.5:7b
  align eval safety --model my-dpo --prompts xstest_prompts.csv --judge judge`,
	}
	cmd.AddCommand(newEvalStatsCmd(), newEvalLeaderboardCmd(), newEvalWinRateCmd(), newEvalMTBenchCmd(), newEvalSafetyCmd(), newEvalRewardsCmd())
	return cmd
}

func evalWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func evalNum(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.2f", v)
}

func evalPrintStats(w io.Writer, rows []eval.HeadToHead) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tbaseline\tjudge\tdataset\twin_rate\tse\tLC\tlc_se\twins\tbase_wins\tdraws\ttotal\tinvalid\tdiscrete\tavg_len")
	for _, h := range rows {
		ds := h.Dataset
		if ds == "" {
			ds = "(all)"
		}
		judge := h.Judge
		if judge == "" {
			judge = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d\n", h.Model, h.Baseline, judge, ds, evalNum(h.WinRate), evalNum(h.StandardError),
			evalNum(h.LengthControlledWinRate), evalNum(h.LCStandardError), h.NWins, h.NWinsBase, h.NDraws, h.NTotal, h.NInvalid, evalNum(h.DiscreteWinRate), h.AvgLength)
	}
	tw.Flush()
	for _, h := range rows {
		for _, m := range h.Warnings {
			fmt.Fprintf(w, "WARNING (%s vs %s%s): %s\n", h.Model, h.Baseline, evalDSSuffix(h.Dataset), m)
		}
	}
}

func evalDSSuffix(ds string) string {
	if ds == "" {
		return ""
	}
	return ", " + ds
}

func newEvalStatsCmd() *cobra.Command {
	var (
		judgments, difficulty, prompts, gamed, out string
		asJSON                                     bool
	)
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Recompute every AlpacaEval statistic from saved judgments",
		Long: `stats reads judgments (align's judgments.jsonl, or AlpacaEval's annotations.json) and computes,
for each (baseline, model) pair and each dataset subset, AlpacaEval's columns: win_rate,
standard_error, n_wins, n_wins_base, n_draws, n_total, discrete_win_rate, avg_length,
length_controlled_winrate and lc_standard_error. Without --difficulty the LC GLM is
length_controlled_minimal; with it, length_controlled_noreg, and with --gamed as well the full
length_controlled_v1. Invalid judgments are counted and shown; more than 10% warns.`,
		Example: `  align eval stats --judgments evals/my-dpo/judgments.jsonl
  align eval stats --judgments annotations.json --json
  align eval stats --judgments j.jsonl --difficulty instruction_difficulty.csv --prompts model_outputs.json --out report/`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if judgments == "" {
				return errors.New("eval stats: --judgments is required")
			}
			js, err := eval.ReadJudgmentsDir(judgments)
			if err != nil {
				return err
			}
			var opt eval.StatsOptions
			if difficulty != "" {
				var instr []string
				if prompts != "" {
					ps, err := eval.ReadPrompts(prompts)
					if err != nil {
						return err
					}
					for _, p := range ps {
						instr = append(instr, p.Instruction)
					}
				}
				f, err := os.Open(difficulty)
				if err != nil {
					return fmt.Errorf("eval stats: %w", err)
				}
				opt.Difficulty, err = eval.ReadDifficulty(f, instr)
				f.Close()
				if err != nil {
					return err
				}
				if gamed != "" {
					g, err := os.Open(gamed)
					if err != nil {
						return fmt.Errorf("eval stats: %w", err)
					}
					opt.Gamed, err = eval.ReadGamed(g)
					g.Close()
					if err != nil {
						return err
					}
				}
			}
			rows := eval.Stats(js, opt)
			if out != "" {
				rep := &eval.Report{Kind: "stats", Stats: rows, Examples: eval.PickExamples(js, 6), Source: map[string]string{"judgments": judgments}}
				if err := rep.Write(out); err != nil {
					return err
				}
			}
			if asJSON {
				return evalWriteJSON(cmd.OutOrStdout(), eval.JSONValue(rows))
			}
			evalPrintStats(cmd.OutOrStdout(), rows)
			if out != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", filepath.Join(out, "report.html"))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&judgments, "judgments", "", "judgments file (JSONL or AlpacaEval annotations.json) or a directory of them")
	f.StringVar(&difficulty, "difficulty", "", "instruction-difficulty CSV (instruction,instruction_difficulty; or AlpacaEval's index-keyed file with --prompts)")
	f.StringVar(&prompts, "prompts", "", "the prompts an index-keyed difficulty table refers to (e.g. AlpacaEval's model_outputs.json)")
	f.StringVar(&gamed, "gamed", "", "AlpacaEval's df_gamed.csv: with --difficulty, the full length_controlled_v1 GLM")
	f.StringVar(&out, "out", "", "also write report.json and report.html into this directory")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newEvalLeaderboardCmd() *cobra.Command {
	var (
		judgments, baseline, out, csvOut string
		weight, rounds                   int
		seed                             uint32
		quirk, styleControl, asJSON      bool
		features, categories, judges     []string
	)
	cmd := &cobra.Command{
		Use:   "leaderboard",
		Short: "Arena-Hard Bradley-Terry leaderboard with bootstrap intervals, optionally style-controlled",
		Long: `leaderboard fits Arena-Hard v0.1's Bradley-Terry model (logistic regression on an Elo scale,
baseline anchored at 1000, strong verdicts [[A>>B]] weighted --weight, ties as half wins) to
every judgment under --judgments, bootstraps it --rounds times with NumPy's legacy seed --seed,
and reports scores and 95% intervals as win rates against the baseline. Verdicts are re-parsed
from the judge's raw answers when they are Arena-Hard verdicts; otherwise the preference
decides (< 1.5 baseline wins, > 1.5 model wins, 1.5 tie).

With --style-control it fits Arena-Hard-Auto v2's style-controlled model instead: each battle
also carries the answers' style features (length in tokens as (a-b)/(a+b); header, list and
bold densities as (a-b)/(a+b+1)), z-scored and fitted jointly with the Bradley-Terry
coefficients; it reports the style-controlled ranking (bootstrap median and 5%/95% quantiles of
the win probability against the baseline) and the style coefficients with their intervals, one
leaderboard per category. --judgments may also be an Arena-Hard v2 data directory
(question.jsonl, model_answer/, model_judgment/<judge>/), read as is, with its baseline per
category (hard_prompt: o3-mini-2025-01-31, creative_writing: gemini-2.0-flash-001); it always
gets v2's plain leaderboard (show_result.py without --control-features: each model's mean
score against the baseline, bootstrapped within the model), and with --style-control the
style-controlled one as well.
--csv writes Arena-Hard's published leaderboard CSV format.`,
		Example: `  align eval leaderboard --judgments evals/ --baseline base
  align eval leaderboard --judgments evals/ --baseline gpt-4-0314 --json --out lb/ --csv lb/leaderboard.csv
  align eval leaderboard --judgments evals/ --baseline base --style-control
  align eval leaderboard --judgments arena-hard-auto/data/arena-hard-v2.0 --category hard_prompt --judge-names gpt-4.1
  align eval leaderboard --judgments arena-hard-auto/data/arena-hard-v2.0 --style-control --category hard_prompt --judge-names gpt-4.1`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if judgments == "" {
				return errors.New("eval leaderboard: --judgments is required")
			}
			res, err := eval.RunLeaderboard(eval.LeaderboardOptions{Judgments: judgments,
				BT:           eval.BTOptions{Baseline: baseline, Weight: weight, Rounds: rounds, Seed: seed, UnanchoredBootstrapQuirk: quirk},
				StyleControl: styleControl, Style: eval.StyleOptions{Features: features}, Categories: categories, JudgeNames: judges,
				Out: out, CSV: csvOut})
			if err != nil {
				return err
			}
			if asJSON { // the leaderboard itself; with style control, the list of per-category ones
				if res.Leaderboard != nil {
					return evalWriteJSON(cmd.OutOrStdout(), eval.JSONValue(res.Leaderboard))
				}
				if res.Style == nil {
					return evalWriteJSON(cmd.OutOrStdout(), eval.JSONValue(res.V2))
				}
				return evalWriteJSON(cmd.OutOrStdout(), eval.JSONValue(res.Style))
			}
			w := cmd.OutOrStdout()
			if lb := res.Leaderboard; lb != nil {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "model\twin rate vs %s\t95%% CI\telo\tbattles\tavg_len\n", lb.Baseline)
				for _, r := range lb.Rows {
					fmt.Fprintf(tw, "%s\t%s\t(%+.2f, %+.2f)\t%.0f\t%d\t%d\n", r.Model, evalNum(r.WinRate), r.Lower-r.WinRate, r.Upper-r.WinRate, r.Elo, r.Battles, r.AvgLength)
				}
				tw.Flush()
				for _, m := range lb.Warnings {
					fmt.Fprintln(w, "WARNING:", m)
				}
			}
			for _, lb := range res.V2 {
				fmt.Fprintf(w, "##### Category: %s (no style control) #####\n", lb.Category)
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "model\tscore vs %s (%%)\t90%% CI\tbattles\tavg_tokens\n", lb.Baseline)
				for _, r := range lb.Rows {
					fmt.Fprintf(tw, "%s\t%.1f\t(-%.1f / +%.1f)\t%d\t%.0f\n", r.Model, r.Score, r.Score-r.Lower, r.Upper-r.Score, r.Battles, r.AvgTokens)
				}
				tw.Flush()
			}
			for _, lb := range res.Style {
				if lb.Category != "" {
					fmt.Fprintf(w, "##### Category: %s #####\n", lb.Category)
				}
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "model\tstyle-controlled score vs %s (%%)\t90%% CI\tcoef\tbattles\tavg_tokens\n", lb.Baseline)
				for _, r := range lb.Rows {
					fmt.Fprintf(tw, "%s\t%.1f\t(-%.1f / +%.1f)\t%.4f\t%d\t%.0f\n", r.Model, r.Score, r.Score-r.Lower, r.Upper-r.Score, r.Coef, r.Battles, r.AvgTokens)
				}
				tw.Flush()
				for _, c := range lb.Coefs {
					fmt.Fprintf(w, "style coefficient %-12s %.4f (bootstrap median %.4f, 5-95%% %.4f to %.4f)\n", c.Feature, c.Fit, c.Median, c.Lower, c.Upper)
				}
				for _, m := range lb.Warnings {
					fmt.Fprintln(w, "WARNING:", m)
				}
			}
			if res.Dropped > 0 {
				fmt.Fprintf(w, "%d judgments had no parseable verdict and were dropped (as Arena-Hard drops them)\n", res.Dropped)
			}
			for _, f := range res.CSVFiles {
				fmt.Fprintln(w, "csv:", f)
			}
			if out != "" {
				fmt.Fprintf(w, "report: %s\n", filepath.Join(out, "report.html"))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&judgments, "judgments", "", "directory of judgments*.jsonl files (or one file), or an Arena-Hard v2 data directory")
	f.StringVar(&baseline, "baseline", "", "baseline model (default: the most frequent generator_1; with style control, the battles' own)")
	f.IntVar(&weight, "weight", 3, "weight of a strong verdict (A>>B)")
	f.IntVar(&rounds, "rounds", 100, "bootstrap rounds")
	f.Uint32Var(&seed, "seed", 42, "NumPy legacy seed of the bootstrap")
	f.BoolVar(&quirk, "arena-bootstrap-quirk", false, "reproduce Arena-Hard v0.1's unanchored bootstrap for baselines other than gpt-4-0314 (see docs/eval.md)")
	f.BoolVar(&styleControl, "style-control", false, "fit Arena-Hard v2's style-controlled Bradley-Terry model (length and markdown features)")
	f.StringSliceVar(&features, "control-features", nil, "style features to control: length, markdown (default both)")
	f.StringSliceVar(&categories, "category", nil, "only these categories (Arena-Hard's question category; align's dataset)")
	f.StringSliceVar(&judges, "judge-names", nil, "Arena-Hard v2 directory: judges under model_judgment/ (default all)")
	f.StringVar(&out, "out", "", "also write report.json and report.html into this directory")
	f.StringVar(&csvOut, "csv", "", "also write the leaderboard in Arena-Hard's published CSV format (model,score,rating_q025,rating_q975,CI,avg_tokens,date)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func evalProgress(quiet bool) func(stage string, done, total int) {
	if quiet {
		return nil
	}
	last := ""
	return func(stage string, done, total int) {
		if isTerminal(os.Stderr) {
			fmt.Fprintf(os.Stderr, "\r%s %d/%d", stage, done, total)
			if done == total {
				fmt.Fprintln(os.Stderr)
			}
			return
		}
		if done == total && stage != last {
			last = stage
			fmt.Fprintf(os.Stderr, "%s: %d/%d\n", stage, done, total)
		}
	}
}

func evalLimitPrompts(ps []eval.PromptItem, n int) []eval.PromptItem {
	if n > 0 && n < len(ps) {
		return ps[:n]
	}
	return ps
}

func newEvalWinRateCmd() *cobra.Command {
	var (
		rf                                                   runtimeFlags
		model, baseline, refOut, prompts, judge, tpl, outDir string
		maxTokens, limit, judgeMaxTokens, judgeAttempts      int
		temperature                                          float64
		seed                                                 int64
		asJSON                                               bool
	)
	cmd := &cobra.Command{
		Use:   "win-rate",
		Short: "Generate, judge and score a model against a baseline (AlpacaEval 2 by default)",
		Long: `win-rate generates the outputs of --model (and of --baseline) through Ollama for every prompt
that has none yet (cached in OUT/outputs/), judges every pair that OUT/judgments.jsonl lacks,
and prints and saves the statistics (report.json, report.html).

The default judge template is AlpacaEval 2's logprob judge (alpaca_eval_clf: one token, m or
M, read from top_logprobs); each pair is judged once, in AlpacaEval's instruction-seeded random
order. Other templates (mt_bench_pair_v2, arena_hard) are judged in both orders. --prompts
accepts AlpacaEval's model_outputs.json, MT-Bench and Arena-Hard question files, JSONL with
"prompt"/"instruction", or plain text. With --reference-outputs the baseline's outputs come
from an AlpacaEval model_outputs.json instead of a model.

--judge rm:RUN judges with a reward model (a run of align train --recipe reward) on align's own
engine, batched: each pair's preference is 1 + σ(r_2 − r_1), a tie (1.5) when the rewards
differ by less than 0.05; the rewards go to the judgment's raw field. Generation still goes
through Ollama.`,
		Example: `  align eval win-rate --model my-dpo --baseline base --prompts prompts.jsonl --judge qwen2.5:7b
  align eval win-rate --model my-dpo --reference-outputs reference_gpt4_1106_preview.model_outputs.json \
      --prompts reference_gpt4_1106_preview.model_outputs.json --judge qwen2.5:7b --limit 100
  align eval win-rate --model my-dpo --baseline base --prompts mt_bench_question.jsonl --judge j --judge-template mt_bench_pair_v2
  align eval win-rate --model my-dpo --baseline base --prompts prompts.jsonl --judge rm:runs/reward-quickstart`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model == "" || prompts == "" || judge == "" {
				return errors.New("eval win-rate: --model, --prompts and --judge are required")
			}
			if (baseline == "") == (refOut == "") {
				return errors.New("eval win-rate: give exactly one of --baseline and --reference-outputs")
			}
			ps, err := eval.ReadPrompts(prompts)
			if err != nil {
				return err
			}
			ps = evalLimitPrompts(ps, limit)
			opt := eval.WinRateOptions{Model: model, Baseline: baseline, Prompts: ps, Judge: judge, Template: tpl, Seed: seed, Out: outDir,
				Progress: evalProgress(asJSON)}
			opt.GenOptions = runtime.GreedyOptions(maxTokens)
			opt.GenOptions.Temperature = temperature
			opt.JudgeAttempts = judgeAttempts
			if judgeMaxTokens > 0 {
				jt, err := eval.JudgeTemplate(tpl)
				if err != nil {
					return err
				}
				jo := jt.Options
				jo.NumPredict = judgeMaxTokens
				opt.JudgeOptions = &jo
			}
			if refOut != "" {
				if opt.Reference, err = eval.ReadPrompts(refOut); err != nil {
					return err
				}
			}
			if opt.Out == "" {
				opt.Out = filepath.Join("evals", strings.NewReplacer("/", "_", ":", "_").Replace(model))
			}
			pool, err := rf.pool()
			if err != nil {
				return err
			}
			rj, closeRM, err := openRewardJudge(cmd.Context(), judge, nil, "")
			if err != nil {
				return err
			}
			defer closeRM()
			opt.Reward = rj
			res, err := eval.RunWinRate(cmd.Context(), pool, opt)
			if err != nil {
				return err
			}
			if asJSON {
				return evalWriteJSON(cmd.OutOrStdout(), eval.JSONValue(res.Report))
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "judged %d pairs now, %d were already in %s", res.Judged, res.Existing, res.Judgments)
			if res.Failed > 0 {
				fmt.Fprintf(w, ", %d FAILED (rerun to retry)", res.Failed)
			}
			fmt.Fprintln(w)
			evalPrintStats(w, res.Report.Stats)
			for _, m := range res.Report.Warnings {
				fmt.Fprintln(w, "WARNING:", m)
			}
			fmt.Fprintf(w, "report: %s\n", filepath.Join(opt.Out, "report.html"))
			return nil
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "the evaluated model (Ollama name)")
	f.StringVar(&baseline, "baseline", "", "the baseline model (Ollama name)")
	f.StringVar(&refOut, "reference-outputs", "", "baseline outputs: an AlpacaEval model_outputs.json")
	f.StringVar(&prompts, "prompts", "", "prompts file (model_outputs.json, question.jsonl, JSONL, text)")
	f.StringVar(&judge, "judge", "", "the judge model (Ollama name), or rm:RUN, a reward model run (align train --recipe reward) served by align's engine")
	f.StringVar(&tpl, "judge-template", "alpaca_eval_clf", "alpaca_eval_clf | mt_bench_pair_v2 | arena_hard (or any pairwise runtime template)")
	f.StringVar(&outDir, "out", "", "output directory (default evals/<model>)")
	f.IntVar(&maxTokens, "max-tokens", 512, "most tokens per generated output")
	f.Float64Var(&temperature, "temperature", 0, "generation temperature (0 = greedy)")
	f.Int64Var(&seed, "seed", 1, "generation and judge seed")
	f.IntVar(&limit, "limit", 0, "use only the first N prompts")
	f.IntVar(&judgeMaxTokens, "judge-max-tokens", 0, "cap the judge's answer length (default: the template's published setting, e.g. 2048 for MT-Bench, 4096 for Arena-Hard)")
	f.IntVar(&judgeAttempts, "judge-attempts", 0, "tries of a judge answer that does not parse before it is recorded invalid (default 3)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func newEvalSafetyCmd() *cobra.Command {
	var (
		rf                                         runtimeFlags
		model, prompts, judge, tpl, humans, outDir string
		maxTokens, limit, humanLimit               int
		seed                                       int64
		asJSON                                     bool
	)
	cmd := &cobra.Command{
		Use:   "safety",
		Short: "Attack success on unsafe prompts, over-refusal on safe ones (XSTest)",
		Long: `safety generates the model's responses to XSTest-style prompts (a CSV with prompt and label
safe/unsafe, like xstest_prompts.csv), has the judge classify each as full_compliance,
full_refusal or partial_refusal (runtime's xstest template), and reports the attack success
rate (full compliance on unsafe prompts) and the over-refusal rate (full or partial refusal on
safe prompts). With --human-labels (xstest_v2_completions_*.csv) the judge also classifies
human-labelled completions, and its agreement with the humans is reported as its accuracy.`,
		Example: `  align eval safety --model my-dpo --prompts xstest_prompts.csv --judge qwen2.5:7b
  align eval safety --model my-dpo --prompts xstest_prompts.csv --judge j --human-labels xstest_v2_completions_gpt4_gpteval.csv --human-limit 100`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model == "" || prompts == "" || judge == "" {
				return errors.New("eval safety: --model, --prompts and --judge are required")
			}
			if err := noRewardJudge("eval safety", judge, "classify each response as compliance or refusal"); err != nil {
				return err
			}
			ps, err := eval.ReadPrompts(prompts)
			if err != nil {
				return err
			}
			ps = evalLimitPrompts(ps, limit)
			opt := eval.SafetyOptions{Model: model, Judge: judge, Template: tpl, Prompts: ps, Seed: seed, Out: outDir, Progress: evalProgress(asJSON)}
			opt.GenOptions = runtime.GreedyOptions(maxTokens)
			if humans != "" {
				f, err := os.Open(humans)
				if err != nil {
					return fmt.Errorf("eval safety: %w", err)
				}
				opt.Humans, err = eval.ReadXSTestCompletions(f)
				f.Close()
				if err != nil {
					return err
				}
				if humanLimit > 0 && humanLimit < len(opt.Humans) {
					opt.Humans = opt.Humans[:humanLimit]
				}
				opt.HumansSource = filepath.Base(humans)
			}
			if opt.Out == "" {
				opt.Out = filepath.Join("evals", "safety-"+strings.NewReplacer("/", "_", ":", "_").Replace(model))
			}
			pool, err := rf.pool()
			if err != nil {
				return err
			}
			res, err := eval.RunSafety(cmd.Context(), pool, opt)
			if err != nil {
				return err
			}
			if asJSON {
				return evalWriteJSON(cmd.OutOrStdout(), eval.JSONValue(res))
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "attack success rate (unsafe prompts fully complied with): %s%% ± %s\n", evalNum(res.AttackSuccessRate), evalNum(res.AttackSuccessSE))
			fmt.Fprintf(w, "over-refusal rate (safe prompts refused fully or partly): %s%% ± %s (full refusals %s%%)\n", evalNum(res.OverRefusalRate), evalNum(res.OverRefusalSE), evalNum(res.FullRefusalSafe))
			for _, c := range res.Counts {
				fmt.Fprintf(w, "  %s: %d prompts, %d full_compliance, %d full_refusal, %d partial_refusal, %d invalid\n", c.Label, c.N, c.FullCompliance, c.FullRefusal, c.PartialRefusal, c.Invalid)
			}
			if a := res.JudgeAccuracy; a != nil {
				fmt.Fprintf(w, "judge accuracy vs XSTest human labels (%s, %d completions): %s%% (%d invalid)\n", a.Source, a.N, evalNum(a.AccuracyPct), a.Invalid)
			}
			for _, m := range res.Warnings {
				fmt.Fprintln(w, "WARNING:", m)
			}
			fmt.Fprintf(w, "report: %s\n", filepath.Join(opt.Out, "report.html"))
			return nil
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "the evaluated model (Ollama name)")
	f.StringVar(&prompts, "prompts", "", "CSV/JSONL prompts with a safe/unsafe label (XSTest's xstest_prompts.csv)")
	f.StringVar(&judge, "judge", "", "the classifying judge model (Ollama name)")
	f.StringVar(&tpl, "judge-template", "xstest", "classification template (runtime's xstest)")
	f.StringVar(&humans, "human-labels", "", "XSTest human-labelled completions (xstest_v2_completions_*.csv) to measure the judge")
	f.IntVar(&humanLimit, "human-limit", 0, "use only the first N human-labelled completions")
	f.StringVar(&outDir, "out", "", "output directory (default evals/safety-<model>)")
	f.IntVar(&maxTokens, "max-tokens", 256, "most tokens per response")
	f.Int64Var(&seed, "seed", 1, "generation and judge seed")
	f.IntVar(&limit, "limit", 0, "use only the first N prompts")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newEvalRewardsCmd() *cobra.Command {
	var (
		runDir, dataPath, outDir string
		beta                     float64
		limit, threads           int
		asJSON                   bool
	)
	cmd := &cobra.Command{
		Use:   "rewards",
		Short: "Implicit-reward accuracy and margins of a trained policy on held-out pairs",
		Long: `rewards loads a training run's newest checkpoint as its policy (exported to a temporary
merged F32 GGUF through the same path as align export) and its reference (reference.path, else
the base model.path; none for reference-free recipes), scores the chosen and rejected responses
of every pair in --data, and reports DPO's implicit rewards r = beta·(log pi − log pi_ref) under
TRL's names: rewards/accuracies (share of pairs with r_chosen > r_rejected), rewards/margins,
rewards/chosen, rewards/rejected. beta is the recipe's unless --beta is given. Sequences are
scored whole (training truncates to max_length; keep held-out pairs within it). No Ollama
server is needed.`,
		Example: `  align eval rewards --run runs/dpo --data heldout_pairs.jsonl
  align eval rewards --run runs/dpo --data pairs.jsonl --limit 200 --json --out runs/dpo/eval-rewards`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runDir == "" || dataPath == "" {
				return errors.New("eval rewards: --run and --data are required")
			}
			pairs, err := data.ReadPairs(dataPath, data.Options{})
			if err != nil {
				return err
			}
			if limit > 0 && limit < len(pairs) {
				pairs = pairs[:limit]
			}
			sc, err := train.OpenRewardScorers(cmd.Context(), runDir, threads)
			if err != nil {
				return fmt.Errorf("eval rewards: %w", err)
			}
			defer sc.Close()
			if beta == 0 {
				beta = sc.Beta
			}
			var ref eval.ScoreFunc
			if sc.Ref != nil {
				ref = sc.Ref
			}
			res, err := eval.RunRewards(pairs, beta, sc.Policy, ref, outDir, map[string]string{"run": runDir, "data": dataPath})
			if err != nil {
				return err
			}
			if asJSON {
				return evalWriteJSON(cmd.OutOrStdout(), eval.JSONValue(res))
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d held-out pairs, beta %g\n", res.N, res.Beta)
			fmt.Fprintf(w, "rewards/accuracies %.4f  rewards/margins %.4f (std %.4f)  rewards/chosen %.4f  rewards/rejected %.4f  ties %d\n",
				res.Accuracy, res.MarginMean, res.MarginStd, res.ChosenMean, res.RejectedMean, res.Ties)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&runDir, "run", "", "training run directory (recipe.yaml and checkpoints)")
	f.StringVar(&dataPath, "data", "", "held-out preference pairs (any format align data reads)")
	f.Float64Var(&beta, "beta", 0, "beta of the implicit reward (default: the recipe's)")
	f.IntVar(&limit, "limit", 0, "use only the first N pairs")
	f.IntVar(&threads, "threads", 0, "threads for the forward passes (0 = all cores)")
	f.StringVar(&outDir, "out", "", "also write report.json, report.html and rewards.jsonl (per pair) here")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newEvalMTBenchCmd() *cobra.Command {
	var (
		rf                                           runtimeFlags
		models                                       []string
		judge, mode, baseline, prompts, refs, outDir string
		maxTokens, limit, judgeMaxTokens, judgeCtx   int
		judgeAttempts                                int
		seed                                         int64
		structured, asJSON                           bool
	)
	cmd := &cobra.Command{
		Use:   "mt-bench",
		Short: "MT-Bench as FastChat runs it: two-turn answers, a judge, the score table",
		Long: `mt-bench answers every question in two turns, as FastChat's gen_model_answer.py does: the second
turn is asked with the model's own first answer in the conversation, through the model's chat
template (Ollama's chat API), at FastChat's category temperatures (writing, roleplay 0.7;
extraction, math, coding, reasoning 0 = greedy; stem, humanities 0.1; seeds recorded). It then
judges as gen_judgment.py does: single-answer grading (single-v1, single-v1-multi-turn, and
the -math-v1 prompts with GPT-4's reference answers for math, reasoning and coding), or, with
--mode pairwise, pair-v2 / pair-v2-multi-turn games in both orders against --baseline (or
between every pair of models). Ratings are parsed as FastChat parses them; a judge answer
without one is kept with its raw text (score -1, winner "error"), counted and left out.

Files under --out are FastChat's: model_answer/<model>.jsonl and
model_judgment/<judge>_single.jsonl (or _pair.jsonl), so show_result.py reads them too. A
killed run resumes: rerun the same command and only the missing rows are made. The score table
(first turn, second turn, average, per category) is printed and saved in report.json and
report.html. The 80 MT-Bench questions and GPT-4's reference answers ship with align.`,
		Example: `  align eval mt-bench --model my-dpo --judge qwen2.5:7b
  align eval mt-bench --model my-dpo --model base --judge qwen2.5:7b --out evals/mt-bench
  align eval mt-bench --model my-dpo --judge j --mode pairwise --baseline base
  align eval mt-bench --model stories260k --judge stories260k --structured --max-tokens 32 --limit 8`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(models) == 0 || judge == "" {
				return errors.New("eval mt-bench: --model and --judge are required")
			}
			if err := noRewardJudge("eval mt-bench", judge, "rate answers on FastChat's 1-10 rubric in words"); err != nil {
				return err
			}
			opt := eval.MTBenchOptions{Models: models, Judge: judge, Mode: mode, Baseline: baseline, Out: outDir, MaxNewTokens: maxTokens,
				Seed: seed, JudgeAttempts: judgeAttempts, Structured: structured, Progress: evalProgress(asJSON)}
			var err error
			if prompts != "" {
				if opt.Questions, err = eval.ReadMTQuestions(prompts); err != nil {
					return err
				}
			}
			if refs != "" {
				if opt.References, err = eval.ReadMTReferences(refs); err != nil {
					return err
				}
			}
			if limit > 0 {
				if opt.Questions == nil {
					opt.Questions = eval.MTBenchQuestions()
				}
				opt.Questions = opt.Questions[:min(limit, len(opt.Questions))]
			}
			if judgeMaxTokens > 0 || judgeCtx > 0 {
				jo := runtime.Options{Temperature: 0, TopP: 1, RepeatPenalty: 1, NumPredict: 2048, NumCtx: judgeCtx}
				if judgeMaxTokens > 0 {
					jo.NumPredict = judgeMaxTokens
				}
				opt.JudgeOptions = &jo
			}
			if opt.Out == "" {
				opt.Out = filepath.Join("evals", "mt-bench")
			}
			pool, err := rf.pool()
			if err != nil {
				return err
			}
			res, err := eval.RunMTBench(cmd.Context(), pool, opt)
			if err != nil && (res == nil || res.Report == nil) {
				return err
			}
			if asJSON {
				if jerr := evalWriteJSON(cmd.OutOrStdout(), eval.JSONValue(res.Report)); jerr != nil {
					return jerr
				}
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "answers: %d new, %d already in %s; judgments: %d new, %d already in %s",
				res.Answered, res.AnswersExisting, filepath.Join(opt.Out, "model_answer"), res.Judged, res.JudgmentsExisting, res.JudgmentFile)
			if res.Failed > 0 {
				fmt.Fprintf(w, "; %d FAILED (rerun to retry)", res.Failed)
			}
			fmt.Fprintln(w)
			evalPrintMTBench(w, res.Report.MTBenchScores)
			for _, m := range res.Report.Warnings {
				fmt.Fprintln(w, "WARNING:", m)
			}
			fmt.Fprintf(w, "report: %s\n", filepath.Join(opt.Out, "report.html"))
			return err
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.StringArrayVar(&models, "model", nil, "an evaluated model (Ollama name); repeat for several")
	f.StringVar(&judge, "judge", "", "the judge model (Ollama name); it names model_judgment/<judge>_single.jsonl")
	f.StringVar(&mode, "mode", "single", "single (grading 1-10) | pairwise (games in both orders)")
	f.StringVar(&baseline, "baseline", "", "pairwise: the baseline model (default: every pair of --model)")
	f.StringVar(&prompts, "prompts", "", "question file in FastChat's format (default: the 80 MT-Bench questions)")
	f.StringVar(&refs, "reference-answers", "", "reference answers for math/reasoning/coding, model_answer format (default: GPT-4's)")
	f.StringVar(&outDir, "out", "", "output directory (default evals/mt-bench)")
	f.IntVar(&maxTokens, "max-tokens", 1024, "most tokens per answer turn (FastChat's --max-new-token)")
	f.IntVar(&limit, "limit", 0, "use only the first N questions")
	f.Int64Var(&seed, "seed", 0, "base of every generation and judge seed (each is recorded)")
	f.BoolVar(&structured, "structured", false, "constrain the judge's answer to a verdict with Ollama's structured outputs")
	f.IntVar(&judgeMaxTokens, "judge-max-tokens", 0, "cap the judge's answer length (default 2048, FastChat's)")
	f.IntVar(&judgeCtx, "judge-num-ctx", 0, "the judge's context window (default: the server's)")
	f.IntVar(&judgeAttempts, "judge-attempts", 1, "tries of a judge answer without a verdict before it is kept as invalid (FastChat: 1)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// evalPrintMTBench prints show_result.py's tables.
func evalPrintMTBench(w io.Writer, sc *eval.MTBenchScores) {
	if sc == nil {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if sc.Mode == "pairwise" {
		fmt.Fprintln(tw, "model\twin\tloss\ttie\twin_rate\tloss_rate\twin_rate_adjusted")
		for _, r := range sc.Pairwise {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.4f\t%.4f\t%.4f\n", r.Model, r.Win, r.Loss, r.Tie, r.WinRate, r.LossRate, r.WinRateAdjusted)
		}
	} else {
		fmt.Fprint(tw, "model\tturn 1\tturn 2\taverage")
		for _, c := range sc.Categories {
			fmt.Fprint(tw, "\t", c)
		}
		fmt.Fprintln(tw, "\tratings\tno rating")
		for _, r := range sc.Single {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s", r.Model, evalNum(r.Turn1), evalNum(r.Turn2), evalNum(r.Average))
			for _, c := range sc.Categories {
				v, ok := r.Categories[c]
				if !ok {
					v = math.NaN()
				}
				fmt.Fprint(tw, "\t", evalNum(v))
			}
			fmt.Fprintf(tw, "\t%d\t%d\n", r.N, r.Invalid)
		}
	}
	tw.Flush()
}
