package main

import (
	"encoding/json"
	"fmt"
	"github.com/alignkit/align/pairs"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/data/curate"
	"github.com/alignkit/align/runtime"
)

// newCurateCmd is `align data curate`: build ranked preference data with local models. The
// lead wires it under `align data`.
func newCurateCmd() *cobra.Command {
	var (
		rf          runtimeFlags
		cfg         pairs.Config
		promptsPath string
		excludes    []string
		evals       []string
		opt         = runtime.PolicyOptions()
		filt        = pairs.DefaultFilterOptions()
		asJSON      bool
		quiet       bool
	)
	cmd := &cobra.Command{
		Use:   "curate",
		Short: "Sample K responses per prompt from several models, filter, judge and rank them",
		Long: `curate builds preference data the way UltraFeedback and DNO do, with local models:

  1. prompts: read from --prompts (JSONL, JSON, CSV, AlpacaEval, MT-Bench, plain text lines);
     exact and near-duplicate prompts dropped (--dedup-prompts), prompts of earlier runs dropped
     (--exclude), and the set checked against evaluation sets (--check-contamination).
  2. candidates: K samples per prompt from each of --models, each with its own recorded seed.
  3. filters before judging, each counted: empty, truncated (done_reason=length), length
     bounds, degenerate repetition (automatic negatives by default), exact and near duplicates.
  4. judging: --rubric ultrafeedback (a 1–10 rating per response), dno (the 6-point additive
     rubric) or pairwise (all pairs or a knockout tournament, both orders). --judge rm:RUN
     judges with a reward model on align's engine instead: ultrafeedback takes each response's
     reward as its score, pairwise 1 + σ(r_2 − r_1); dno is refused (its rule counts rubric points).
  5. output: --out ranked Parquet or JSONL (prompt, responses with score, judge raw text, model
     and seed; filtered ones with their reason), --pairs (DNO's rules for --rubric dno, else
     --pair-mode), and report.json + report.html in the work folder.

Every sample and judgment is appended to <work>/samples.jsonl and <work>/judgments.jsonl as it
arrives. Kill it at any point and run the same command again: it asks only for what is
missing, and every row appears exactly once. See docs/curation.md.`,
		Example: `  align data curate --prompts prompts.jsonl --models stories260k --k 4 --judge stories260k \
      --rubric ultrafeedback --out ranked.parquet --pairs pairs.parquet
  align data curate --prompts p.txt --models policy,teacher --students policy --k 5 --judge judge \
      --rubric dno --out ranked.parquet --pairs dno_pairs.parquet --check-contamination alpaca_eval.json
  align data curate --prompts p.txt --models a,b --k 2 --judge j --rubric pairwise --tournament knockout --out r.jsonl
  align data curate --prompts p.txt --models stories260k --k 4 --judge rm:runs/reward-quickstart --out ranked.jsonl --pairs pairs.jsonl
  align data curate contamination --prompts train.jsonl --eval alpaca_eval.json --eval mt_bench_question.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if promptsPath == "" {
				return fmt.Errorf("curate: --prompts is required")
			}
			var err error
			if cfg.Prompts, err = curate.ReadTexts(promptsPath); err != nil {
				return err
			}
			if cfg.Exclude, err = readCurateTexts(excludes); err != nil {
				return err
			}
			if cfg.Eval, err = readCurateTexts(evals); err != nil {
				return err
			}
			cfg.Options, cfg.Filters = opt, filt
			pool, err := rf.pool()
			if err != nil {
				return err
			}
			if !quiet {
				cfg.Progress = curateProgressPrinter(cmd.ErrOrStderr())
			}
			rj, closeRM, err := openRewardJudge(cmd.Context(), cfg.Judge, nil, "")
			if err != nil {
				return err
			}
			defer closeRM()
			cfg.Reward = rj
			sum, err := pairs.Curate(cmd.Context(), pairs.PoolBackend{Pool: pool}, cfg)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(sum)
			}
			printCurateSummary(w, sum)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&promptsPath, "prompts", "", "prompt file (JSONL, JSON, CSV, AlpacaEval, MT-Bench, or text lines)")
	f.StringSliceVar(&cfg.Models, "models", nil, "models to sample from, comma-separated")
	f.StringSliceVar(&cfg.Students, "students", nil, "models whose samples are DNO student samples (the others are teachers)")
	f.IntVar(&cfg.K, "k", 4, "samples per prompt per model")
	f.Int64Var(&cfg.Seed, "seed", 1, "base seed of every sample and judge call")
	f.BoolVar(&cfg.Raw, "raw", false, "send prompts without the model's chat template")
	f.Float64Var(&opt.Temperature, "temperature", opt.Temperature, "sampling temperature")
	f.Float64Var(&opt.TopP, "top-p", opt.TopP, "nucleus sampling threshold")
	f.IntVar(&opt.TopK, "top-k", opt.TopK, "top-k sampling (0 = off)")
	f.IntVar(&opt.NumPredict, "num-predict", opt.NumPredict, "maximum tokens per response")
	f.StringVar(&cfg.Judge, "judge", "", "judge model (Ollama name), or rm:RUN, a reward model run (align train --recipe reward) served by align's engine")
	f.StringVar(&cfg.Rubric, "rubric", pairs.RubricUltraFeedback, "ultrafeedback (1–10), dno (6-point additive) or pairwise")
	f.StringVar(&cfg.Template, "judge-template", "", "runtime judge template (default: mt-bench/single-v1, dno-additive6, mt-bench/pair-v2)")
	f.StringVar(&cfg.Tournament, "tournament", pairs.TournamentRoundRobin, "pairwise: round-robin (all pairs) or knockout")
	f.IntVar(&cfg.JudgeAttempts, "judge-attempts", 3, "tries of a judge call whose answer does not parse")
	f.BoolVar(&cfg.Structured, "structured", false, "constrain the judge's answers to the template's verdict (Ollama structured outputs)")
	f.IntVar(&cfg.JudgeNumPredict, "judge-num-predict", 0, "cap the judge's answer in tokens (default: the template's setting)")
	f.StringVar(&cfg.Out, "out", "", "ranked output (.parquet or .jsonl)")
	f.StringVar(&cfg.Pairs, "pairs", "", "also write preference pairs here (.parquet or .jsonl)")
	f.StringVar(&cfg.PairMode, "pair-mode", pairs.PairsBestVsRest, "ultrafeedback/pairwise pairs: best-vs-rest, best-vs-worst, best-vs-random or all")
	f.Float64Var(&cfg.MinMargin, "min-margin", 0, "least score difference of a pair (0 = any)")
	cfg.DNO = pairs.PaperDNORule()
	f.BoolVar(&cfg.DNO.Restrictive, "dno-restrictive", false, "drop DNO's student-over-teacher pairs (the worse ablation)")
	f.StringVar(&cfg.Work, "work", "", "folder of the resumable logs and the report (default <out>.work)")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "requests in flight (default: hosts × per-host)")
	f.IntVar(&filt.MinChars, "min-chars", filt.MinChars, "drop shorter responses (characters)")
	f.IntVar(&filt.MaxChars, "max-chars", 0, "drop longer responses (0 = no bound)")
	f.IntVar(&filt.MinWords, "min-words", 0, "drop responses with fewer words")
	f.IntVar(&filt.MaxWords, "max-words", 0, "drop responses with more words (0 = no bound)")
	f.BoolVar(&filt.KeepTruncated, "keep-truncated", false, "keep responses cut at --num-predict")
	f.StringVar(&filt.Repetition, "repetition", filt.Repetition, "degenerate repetition: negative (automatic negative), drop or keep")
	f.Float64Var(&filt.NearDupJaccard, "near-dup", filt.NearDupJaccard, "word 3-gram Jaccard at which a response is a near duplicate")
	f.BoolVar(&cfg.DedupPrompts, "dedup-prompts", true, "drop exact and near-duplicate prompts")
	f.StringSliceVar(&excludes, "exclude", nil, "drop prompts that match these files' prompts (earlier runs)")
	f.StringSliceVar(&evals, "check-contamination", nil, "report prompts that match these evaluation sets")
	f.BoolVar(&cfg.DropContaminated, "drop-contaminated", false, "drop the prompts --check-contamination flags")
	f.IntVar(&cfg.Contamination.N, "ngram", 8, "word n-gram size of the prompt overlap tests")
	f.Float64Var(&cfg.Contamination.Threshold, "overlap", 0.5, "n-gram overlap coefficient at which two prompts match")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	rf.add(cmd)
	cmd.AddCommand(newContaminationCmd())
	return cmd
}

func readCurateTexts(paths []string) ([]curate.Text, error) {
	var out []curate.Text
	for _, p := range paths {
		ts, err := curate.ReadTexts(p)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// curateProgressPrinter prints a progress line at most every two seconds, and the last of each stage.
func curateProgressPrinter(w io.Writer) func(pairs.Progress) {
	var mu sync.Mutex
	var last time.Time
	return func(p pairs.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 2*time.Second && p.Done < p.Total {
			return
		}
		last = time.Now()
		fmt.Fprintln(w, p.String())
	}
}

func printCurateSummary(w io.Writer, s pairs.Summary) {
	fmt.Fprintf(w, "prompts: %d read, %d used, %d removed\n", s.PromptsIn, s.Prompts, len(s.PromptsRemoved))
	if c := s.Contamination; c != nil {
		fmt.Fprintf(w, "contamination: %s\n", c)
	}
	fmt.Fprintf(w, "samples: %d (%d new)\n", s.Samples, s.SamplesNew)
	fmt.Fprintf(w, "filters: %d judged, %d automatic negatives", s.Filters.Judged, s.Filters.AutoNegative)
	for _, r := range pairs.SortedReasons(s.Filters.Dropped) {
		fmt.Fprintf(w, ", %s %d", r, s.Filters.Dropped[r])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "judge: %d calls (%d new), %d invalid (%.1f%%)\n", s.JudgeCalls, s.JudgeNew, s.JudgeInvalid, 100*s.JudgeInvalidRate)
	for _, m := range s.Models {
		st := s.Scores[m]
		fmt.Fprintf(w, "scores %s: n %d, mean %.2f, min %.2f, max %.2f\n", m, st.N, st.Mean, st.Min, st.Max)
	}
	fmt.Fprintf(w, "wrote %s (%d rows)", s.Out, s.RankedRows)
	if s.Pairs != "" {
		fmt.Fprintf(w, ", %s (%d pairs)", s.Pairs, s.PairCount)
	}
	fmt.Fprintf(w, "; report in %s/report.html (%.1fs)\n", s.Work, s.Elapsed.Seconds())
}

// newContaminationCmd is `align data curate contamination`.
func newContaminationCmd() *cobra.Command {
	var (
		prompts string
		evals   []string
		opt     curate.ContaminationOptions
		asJSON  bool
		fail    bool
		show    int
	)
	cmd := &cobra.Command{
		Use:   "contamination",
		Short: "Check a prompt set against evaluation sets: exact matches and high n-gram overlap",
		Long: `contamination reports the prompts of --prompts that match an item of an --eval set, so that
training data is not accidentally tested on. Texts are normalised (NFKC, lower case, punctuation
and spacing folded). A prompt matches exactly when its normalised text equals an eval item's,
and by overlap when the overlap coefficient |A∩B|/min(|A|,|B|) of the two sets of word
--ngram-grams is at least --overlap (1 when a prompt embeds an eval question whole). Prompts
shorter than --ngram words compare whole. See docs/curation.md.`,
		Example: `  align data curate contamination --prompts train.jsonl --eval alpaca_eval.json --eval mt_bench_question.jsonl
  align data curate contamination --prompts prompts.txt --eval alpaca_eval.json --json --fail`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if prompts == "" || len(evals) == 0 {
				return fmt.Errorf("contamination: --prompts and --eval are required")
			}
			ps, err := curate.ReadTexts(prompts)
			if err != nil {
				return err
			}
			ev, err := readCurateTexts(evals)
			if err != nil {
				return err
			}
			rep := curate.CheckContamination(ps, ev, opt)
			w := cmd.OutOrStdout()
			if asJSON {
				if err := json.NewEncoder(w).Encode(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(w, rep)
				for i, h := range rep.Hits {
					if i == show {
						fmt.Fprintf(w, "... %d more (--json lists all)\n", len(rep.Hits)-show)
						break
					}
					kind := fmt.Sprintf("overlap %.2f", h.Overlap)
					if h.Exact {
						kind = "exact"
					}
					fmt.Fprintf(w, "%s [%s] %q ~ %s %s %q\n", h.PromptID, kind, clipText(h.Prompt, 70), h.EvalSource, h.EvalID, clipText(h.EvalText, 70))
				}
			}
			if fail && rep.Flagged() {
				return fmt.Errorf("contamination: %d exact and %d overlapping prompts", rep.Exact, rep.Overlap)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prompts, "prompts", "", "prompt set to check")
	f.StringSliceVar(&evals, "eval", nil, "evaluation set(s): AlpacaEval JSON, MT-Bench JSONL, any prompt file")
	f.IntVar(&opt.N, "ngram", 8, "word n-gram size")
	f.Float64Var(&opt.Threshold, "overlap", 0.5, "overlap coefficient at which a prompt is reported")
	f.IntVar(&show, "show", 20, "hits listed in the text output")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&fail, "fail", false, "exit with an error when any prompt matches")
	return cmd
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
