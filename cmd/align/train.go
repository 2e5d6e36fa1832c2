package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/alignkit/align/recipes"
	"github.com/alignkit/align/train"
	"github.com/spf13/cobra"
)

// newTrainCmd trains a policy from a recipe.
func newTrainCmd() *cobra.Command {
	var (
		recipe              string
		sets                []string
		resume              string
		out                 string
		asJSON              bool
		quiet               bool
		localSampler, dense bool
		force               bool
		threads             int
		hosts               []string
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a policy from a recipe (DPO and variants, offline and online)",
		Long: `train runs a recipe (docs/recipes.md): it reads the data, computes the reference log-probs once
(cached on disk), trains with AdamW, writes metrics.jsonl, checkpoints and report.html into the
run directory, and exports as output.export says. --recipe takes an embedded recipe's name
(align recipes list) or a YAML file; --set overrides any field. --resume DIR continues a run
from its newest checkpoint, with the same result as an uninterrupted run.

Before the models load it prints the run's estimated peak memory (weights, reference,
activations, optimizer, runtime; docs/model.md) beside this machine's available memory, and
refuses to start when the estimate exceeds it (--force starts anyway). Before the first step it
runs one warm-up micro-batch and prints the measured tokens/s times the tokens of an epoch as the
estimated time per epoch.`,
		Example: `  align train --recipe quickstart
  align train --recipe quickstart --set objective.name=simpo --set beta=2.0
  align train --recipe my.yaml --set learning_rate=1e-4 --set output.dir=runs/a
  align train --resume runs/a
  align train --recipe my.yaml --force   # start although the memory estimate exceeds what is free`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt := train.Options{Threads: threads, OllamaHosts: hosts, Force: force}
			if !quiet {
				opt.Progress = cmd.ErrOrStderr()
				if f, ok := opt.Progress.(*os.File); ok && f == os.Stderr {
					opt.Progress = os.Stderr
				}
			}
			switch {
			case resume != "":
				if recipe != "" || len(sets) > 0 {
					return fmt.Errorf("train: --resume continues the run as it was recorded; drop --recipe and --set")
				}
				opt.Resume, opt.RunDir = true, resume
			case recipe == "":
				return fmt.Errorf("train: give --recipe NAME|FILE (see align recipes list) or --resume DIR")
			default:
				if localSampler {
					sets = append(sets, "online.local_sampler=true")
				}
				if dense {
					sets = append(sets, "model.dense=true")
				}
				r, err := recipes.Load(recipe, sets)
				if err != nil {
					return err
				}
				opt.Recipe, opt.RunDir = r, out
				if out == "" {
					// A rerun of the same recipe goes to a fresh directory rather than failing.
					opt.RunDir = freeRunDir(r.RunDir())
				}
			}
			res, err := train.Run(cmd.Context(), opt)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			fmt.Fprintf(w, "trained %s: %d steps on %d pairs, final loss %.4f, %.0f tokens/s, %.1fs\n", res.Objective, res.Steps, res.Pairs, res.FinalLoss, res.TokensPerSec, res.TrainSeconds)
			if !math.IsNaN(res.WinRateAfter) {
				fmt.Fprintf(w, "held-out win rate vs base (rule judge): before %.1f%%, after %.1f%%; KL to base %.3f nats/response\n", 100*res.WinRateBefore, 100*res.WinRateAfter, res.KL)
			}
			fmt.Fprintf(w, "run: %s\nreport: %s\ncheckpoint: %s\n", res.RunDir, res.Report, res.Checkpoint)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&recipe, "recipe", "", "embedded recipe name or YAML file")
	f.StringArrayVar(&sets, "set", nil, "override a recipe field: key=value (dotted keys; repeatable)")
	f.StringVar(&resume, "resume", "", "continue the run in this directory from its newest checkpoint")
	f.StringVar(&out, "out", "", "run directory (default: the recipe's output.dir, else runs/NAME)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	f.BoolVar(&dense, "dense", false, "decode a quantized base to float32 at load instead of keeping it encoded (model.dense)")
	f.BoolVar(&localSampler, "local-sampler", false, "sample the online loop with align's own engine instead of Ollama")
	f.BoolVar(&force, "force", false, "start even when the estimated peak memory exceeds the available memory")
	f.IntVar(&threads, "threads", 0, "compute threads (0 = all cores)")
	f.StringArrayVar(&hosts, "ollama", nil, "Ollama host(s) for the online sampler, the LLM judge and ollama: exports (default $OLLAMA_HOST)")
	return cmd
}

// freeRunDir returns dir, or dir-2, dir-3, … when dir already holds a run.
func freeRunDir(dir string) string {
	for n := 2; ; n++ {
		if _, _, ok, _ := train.LatestCheckpoint(dir); !ok {
			if _, err := os.Stat(filepath.Join(dir, "recipe.yaml")); err != nil {
				return dir
			}
		}
		dir = fmt.Sprintf("%s-%d", strings.TrimSuffix(dir, fmt.Sprintf("-%d", n-1)), n)
	}
}
