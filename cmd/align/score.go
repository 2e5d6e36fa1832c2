package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/model"
	"github.com/alignkit/align/runtime"
	"github.com/alignkit/align/train"
)

// newScoreCmd prints the per-token log-probs of a response under a model.
func newScoreCmd() *cobra.Command {
	var (
		modelName, reward, prompt, response string
		asJSON, matchOllama                 bool
	)
	cmd := &cobra.Command{
		Use:   "score",
		Short: "Per-token log-probs of a response under a model, and their sum",
		Long: `Score renders the prompt (as a user turn, with the generation prompt) and the response (an
assistant turn, ending with the end-of-turn token) through the model's chat template, exactly as
Ollama renders /api/chat, and prints each response token with its log-prob and their sum. A model
without a template (stories260K) scores raw completion: prompt text, then response text.

--model takes a GGUF path or an Ollama model name.

--reward RUN scores with a reward model instead (a run of align train --recipe reward): it
prints the reward of the response, r = w·h of the hidden state of the response's last token,
encoded as the run's training encoded its pairs. It runs on align's own engine, no server.

--match-ollama scores as Ollama v0.17.4's runner computes (model.LoadOptions.F16KV: f16
activations and KV cache, flash attention, ggml's rounding; llama.cpp's graph, or the Go
engine's for qwen3 and gemma3): the log-probs equal those /api/generate returns with logprobs,
bit for bit on the checked files (docs/model.md). It is scalar and slow, for checking a model
against the server. The default is align's training path (float32 activations, what training
optimizes): within about 1e-3 of the server at F32 and F16 weights, further off at quantized ones,
whose activations the runner quantizes too (up to 1.6e-1 per token at Q4_K, docs/model.md).`,
		Example: `  align score --model testdata/models/stories260K.gguf --prompt "Once upon a time" --response ", there was a girl."
  align score --model stories260k --prompt "The cat" --response " sat." --json
  align score --model stories260k --prompt "Once upon a time" --response ", there was a girl." --match-ollama
  align score --reward runs/reward-quickstart --prompt "Tom was a little bird." --response "He was happy with his friends."`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (modelName == "") == (reward == "") {
				return errors.New("score: give --model (log-probs) or --reward (a reward model's run), one of them")
			}
			if reward != "" {
				return scoreReward(cmd, reward, prompt, response, asJSON)
			}
			m, err := openModel(cmd.Context(), modelName, model.LoadOptions{F16KV: matchOllama})
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
	f.StringVar(&modelName, "model", "", "GGUF path or Ollama model name")
	f.StringVar(&reward, "reward", "", "reward model: a run directory of align train --recipe reward")
	f.StringVar(&prompt, "prompt", "", "prompt text (a user turn)")
	f.StringVar(&response, "response", "", "response text to score (required)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object: tokens [{id, token, logprob}] and sum (with --reward: run and reward)")
	f.BoolVar(&matchOllama, "match-ollama", false, "re-enact Ollama's runner: the server's log-probs exactly (slow)")
	_ = cmd.MarkFlagRequired("response")
	return cmd
}

// scoreReward prints the reward of one response under a reward model's run.
func scoreReward(cmd *cobra.Command, run, prompt, response string, asJSON bool) error {
	rm, err := train.OpenRewardModel(cmd.Context(), run, train.RewardOptions{})
	if err != nil {
		return err
	}
	defer rm.Close()
	rs, err := rm.Rewards(cmd.Context(), prompt, []string{response})
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"run": run, "prompt": prompt, "response": response, "reward": rs[0]})
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "reward %.6f\n", rs[0])
	return err
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
