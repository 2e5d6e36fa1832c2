package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/runtime"
)

func newSampleCmd() *cobra.Command {
	var (
		rf                  runtimeFlags
		model, prompts, out string
		k                   int
		seed                int64
		opt                 = runtime.PolicyOptions()
		raw, chat           bool
		logprobs            bool
		topLogprobs         int
		asJSON              bool
	)
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Sample K completions per prompt through Ollama, resumably",
		Long: `sample asks the Ollama server(s) for K completions of every prompt, each with its own
recorded seed, and appends each one to --out (JSONL, one row per (prompt_id, sample)) as soon
as it arrives. Run it again with the same --out and it asks only for the rows still missing;
Ctrl-C or a crash loses nothing already written.

Sampling defaults to the model's own distribution: temperature 1, top_p 1, top_k 0, min_p 0,
repeat_penalty 1, all sent explicitly (Ollama's own defaults are repeat_penalty 1.1, top_k 40,
top_p 0.9). --num-predict must be at least 1 (Ollama reads 0 as unlimited).

--prompts reads what data.ReadPrompts reads: AlpacaEval model_outputs.json, MT-Bench
question.jsonl (first turn), CSV with a prompt column, JSON/JSONL/Parquet rows with prompt,
messages, instruction, question or turns, or plain text (one prompt per line). A prompt that is
one user turn goes through the model's template (or none with --raw); --chat sends it as a user
message to /api/chat instead. Longer conversations always go to /api/chat.`,
		Example: `  align sample --model stories260k --prompts prompts.txt --k 4 --out samples.jsonl --raw --num-predict 64
  align sample --model policy --prompts mt_bench_question.jsonl --k 8 --temperature 0.7 --seed 1 --out s.jsonl --json
  align sample --model policy --prompts p.jsonl --out s.jsonl --ollama 127.0.0.1:11434,127.0.0.1:11435`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model == "" || prompts == "" || out == "" {
				return fmt.Errorf("sample: --model, --prompts and --out are required")
			}
			ps, err := readSamplePrompts(prompts, chat)
			if err != nil {
				return err
			}
			pool, err := rf.pool()
			if err != nil {
				return err
			}
			job := runtime.SampleJob{Model: model, Prompts: ps, K: k, Seed: seed, Options: opt, Raw: raw,
				Logprobs: logprobs || topLogprobs > 0, TopLogprobs: topLogprobs, Out: out}
			var progress func(done, total int)
			if isTerminal(os.Stderr) && !asJSON {
				bar := progressbar.NewOptions(len(ps)*k, progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription("sampling"), progressbar.OptionShowCount(),
					progressbar.OptionSetWidth(30), progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }))
				progress = func(done, _ int) { bar.Set(done) }
			}
			sum, runErr := job.Run(cmd.Context(), pool, progress)
			w := cmd.OutOrStdout()
			if asJSON {
				if err := json.NewEncoder(w).Encode(sum); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "%s: %d prompts × %d = %d rows; %d already there, %d written, %d failed (%.1fs)\n",
					sum.Out, sum.Prompts, sum.K, sum.Total, sum.Existing, sum.Written, sum.Failed, sum.Elapsed.Seconds())
				if sum.TornBytes > 0 {
					fmt.Fprintf(w, "dropped a torn last line (%d bytes) left by an earlier crash\n", sum.TornBytes)
				}
			}
			return runErr
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "model name on the server (required)")
	f.StringVar(&prompts, "prompts", "", "prompts file: AlpacaEval/MT-Bench/CSV/JSON/JSONL/Parquet, or text lines (required)")
	f.StringVar(&out, "out", "", "output JSONL; an existing file is resumed (required)")
	f.IntVar(&k, "k", 4, "samples per prompt")
	f.Int64Var(&seed, "seed", 0, "base seed; each (prompt, sample) gets its own seed derived from it, recorded in the row")
	f.Float64Var(&opt.Temperature, "temperature", opt.Temperature, "sampling temperature")
	f.Float64Var(&opt.TopP, "top-p", opt.TopP, "nucleus sampling (1 = off)")
	f.IntVar(&opt.TopK, "top-k", opt.TopK, "top-k sampling (0 = off)")
	f.Float64Var(&opt.MinP, "min-p", opt.MinP, "min-p sampling (0 = off)")
	f.Float64Var(&opt.RepeatPenalty, "repeat-penalty", opt.RepeatPenalty, "repetition penalty (1 = off)")
	f.IntVar(&opt.NumPredict, "num-predict", opt.NumPredict, "most tokens per completion (≥ 1)")
	f.StringArrayVar(&opt.Stop, "stop", nil, "stop sequence (repeatable)")
	f.BoolVar(&raw, "raw", false, "send text prompts with no template (raw completion)")
	f.BoolVar(&chat, "chat", false, "send text prompts as a user message to /api/chat")
	f.BoolVar(&logprobs, "logprobs", false, "record each generated token's log-probability")
	f.IntVar(&topLogprobs, "top-logprobs", 0, "also record this many alternatives per token (0–20)")
	f.BoolVar(&asJSON, "json", false, "print the summary as one JSON object")
	return cmd
}

// readSamplePrompts reads a prompts file with data.ReadPrompts. A prompt that is one user turn
// is sent as text (through the model's template, or raw) unless chat; longer conversations
// always go to /api/chat.
func readSamplePrompts(path string, chat bool) ([]runtime.Prompt, error) {
	dps, err := data.ReadPrompts(path)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	if len(dps) == 0 {
		return nil, fmt.Errorf("sample: %s has no prompts", path)
	}
	ps := make([]runtime.Prompt, 0, len(dps))
	for _, dp := range dps {
		if len(dp.Messages) == 1 && dp.Messages[0].Role == "user" {
			ps = append(ps, textPrompt(dp.ID, dp.Messages[0].Content, chat))
			continue
		}
		p := runtime.Prompt{ID: dp.ID}
		for _, m := range dp.Messages {
			p.Messages = append(p.Messages, runtime.Message(m))
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func textPrompt(id, text string, chat bool) runtime.Prompt {
	if chat {
		return runtime.Prompt{ID: id, Messages: []runtime.Message{{Role: "user", Content: text}}}
	}
	return runtime.Prompt{ID: id, Prompt: text}
}
