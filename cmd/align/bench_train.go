package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/model/bench"
)

// newBenchTrainCmd measures training tokens/s against a same-run PyTorch peer and Ollama.
func newBenchTrainCmd() *cobra.Command {
	var (
		asJSON, noPeer, withOllama, lowMemory bool
		seqLen, iters                         int
		single, stories, peer                 string
		models                                []string
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Benchmark training tokens/s against PyTorch and Ollama",
		Long: `Measures tokens/s of the model engine for forward only (reference log-probs), LoRA
forward+backward (r=16 on q,k,v,o,gate,up,down) and full fine-tuning, on stories260K and on a
SmolLM2-135M-shaped model with random weights (30 layers, dim 576, 9/3 heads, ffn 1536, vocab
49152), one sequence of --seq-len tokens per step. Each measurement runs in a child process (so
its peak RSS is its own), followed by the plain-PyTorch peer bench/peers/train_torch.py on the
same shape and step (Debian python3-torch). With --ollama it also compares forward tokens/s with
Ollama's own prompt evaluation of stories260K ($OLLAMA_HOST, model stories260k).`,
		Example: `  align bench train
  align bench train --json --models smollm2-135m-shape --iters 2
  align bench train --models smollm2-135m-shape --low-memory --no-peer`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if single != "" { // child: one measurement
				name, mode, _ := strings.Cut(single, ":")
				for _, s := range bench.Shapes(stories) {
					if s.Name == name {
						tps, err := bench.MeasureOne(s, mode, seqLen, iters)
						if err != nil {
							return err
						}
						return json.NewEncoder(out).Encode(map[string]any{"peer": "align", "tokens_per_s": tps, "peak_rss_mb": bench.PeakRSSMB()})
					}
				}
				return fmt.Errorf("bench train: unknown model %q", name)
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintf(tw, "model\tmode\tseq\talign tok/s\tpeer tok/s\tratio\talign RSS MB\tpeer RSS MB\n")
			}
			print := func(r bench.Result) {
				if asJSON {
					_ = json.NewEncoder(out).Encode(r)
					return
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.1f\t%.2f×\t%.0f\t%.0f\t%s\n", r.Model, r.Mode, r.SeqLen, r.TokensPerS,
					r.PeerTokensPerS, r.Ratio, r.PeakRSSMB, r.PeerPeakRSSMB, r.Note)
				tw.Flush()
			}
			_, err = bench.Train(cmd.Context(), bench.Options{Exe: exe, PeerPy: peer, SeqLen: seqLen, Iters: iters,
				Threads: runtime.GOMAXPROCS(0), Stories: stories, Models: models, OnResult: print, SkipPeers: noPeer,
				LowMemory: lowMemory})
			if err != nil {
				return err
			}
			if withOllama {
				pool, err := envPool()
				if err != nil {
					return fmt.Errorf("bench train: --ollama: %w", err)
				}
				if err := pool.Require(cmd.Context(), "stories260k"); err != nil {
					return fmt.Errorf("bench train: --ollama: %w", err)
				}
				r, err := bench.OllamaPromptEval(cmd.Context(), pool, stories, "stories260k", seqLen, iters)
				if err != nil {
					return fmt.Errorf("bench train: ollama prompt eval: %w", err)
				}
				print(r)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "one JSON object per line: model, mode, seq_len, tokens_per_s, peer, peer_tokens_per_s, ratio, peak_rss_mb, peer_peak_rss_mb")
	f.IntVar(&seqLen, "seq-len", 512, "tokens per step")
	f.IntVar(&iters, "iters", 3, "timed steps per measurement (after one warm-up)")
	f.StringSliceVar(&models, "models", nil, "subset of stories260K, smollm2-135m-shape (default all)")
	f.StringVar(&stories, "stories", filepath.Join("testdata", "models", "stories260K.gguf"), "stories260K GGUF (random weights of its shape if absent)")
	f.StringVar(&peer, "peer", filepath.Join("bench", "peers", "train_torch.py"), "the PyTorch peer script")
	f.BoolVar(&noPeer, "no-peer", false, "skip the PyTorch peer")
	f.BoolVar(&withOllama, "ollama", false, "also compare forward tokens/s with Ollama's prompt evaluation (needs the server)")
	f.StringVar(&single, "single", "", "internal: run one MODEL:MODE measurement and print it")
	_ = f.MarkHidden("single")
	f.BoolVar(&lowMemory, "low-memory", false, "also measure forward and LoRA with the projections kept quantized (Q8_0 for random shapes)")
	return cmd
}
