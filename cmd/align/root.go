package main

import (
	"github.com/spf13/cobra"
)

// newRootCmd builds the whole command tree explicitly; no command registers itself through
// package state.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "align",
		Short: "Preference-optimization alignment of language models, on the CPU, in Go",
		Long: `align trains language models with preference objectives (DPO and its TRL variants,
f-DPO, SimPO, CPL, Curry-DPO, INPO, DNO, SRPO, APO, HyPO) natively on the CPU over GGUF
weights, and uses a local Ollama server for generation and LLM-as-judge evaluation.`,
		Example: `  align train --recipe quickstart
  align data inspect testdata/data/dpo_en_demo.json
  align eval win-rate --model my-dpo --baseline base --prompts prompts.jsonl --judge judge
  align objectives list --json`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newDataCmd(),
		newObjectivesCmd(),
		newRuntimeCmd(),
		newSampleCmd(),
		newGenerateCmd(),
		newScoreCmd(),
		newBenchCmd(),
		newTrainCmd(),
		newModelsCmd(),
		newExportCmd(),
		newRecipesCmd(),
		newEvalCmd(),
		newSafetyCmd(),
	)
	return root
}

// newBenchCmd groups the benchmarks that measure align against this machine's limits and peers.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks measured against the machine's own limits and against peers",
		Example: `  align bench kernels --json
  align bench train --json`,
	}
	cmd.AddCommand(newBenchKernelsCmd(), newBenchTrainCmd(), newBenchParityCmd())
	return cmd
}
