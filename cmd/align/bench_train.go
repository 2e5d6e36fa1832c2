package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/model/bench"
)

// newBenchTrainCmd measures training tokens/s against a same-run PyTorch peer and Ollama.
func newBenchTrainCmd() *cobra.Command {
	var (
		asJSON, noPeer, withOllama, pairs bool
		seqLen, iters                     int
		single, stories, peer, quant      string
		cpuProfile                        string
		models, modes                     []string
		pairsData                         string
		pairsN, pairsBatch, pairsMaxLen   int
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Benchmark training tokens/s against PyTorch and Ollama",
		Long: `Measures tokens/s and MFU of the model engine, one sequence of --seq-len tokens per step, in
the modes forward (reference log-probs), lora (r=16 on q,k,v,o,gate,up,down), full, lora-resident
(the projections kept in the --quant encoding, multiplied without a float32 copy) and lora-lowmem
(resident plus activation recomputation; a training step is forward, backward and an AdamW update), on stories260K and on random-weight shapes:
smollm2-135m-shape, qwen2.5-0.5b-shape, llama3.2-1b-shape, qwen2.5-1.5b-shape, and one real shape per
further architecture: qwen3-0.6b-shape, gemma3-270m-shape, gemma2-2b-shape, phi3-mini-shape. MFU is the step's
model FLOPs (forward 2N + attention, LoRA forward + input and adapter gradients, full 6N + 3x
attention) times tokens/s over the FMA peak measured in the same process at the same thread count.
Each measurement runs in a child process (so its peak RSS is its own); a mode whose memory
estimate exceeds the available memory is skipped with the estimate. The float32 modes are followed
by the plain-PyTorch peer bench/peers/train_torch.py on the same shape and step (QK-norm, Gemma's
norms, GeGLU, soft-caps and sliding windows included; Debian python3-torch, OPENBLAS_CORETYPE=SkylakeX on AVX-512); no ratio is reported when the peer runs the
reference BLAS. With --ollama it also compares forward tokens/s with Ollama's own prompt
evaluation of stories260K ($OLLAMA_HOST, model stories260k).

With --pairs it measures prompt sharing instead: DPO steps (reference log-probs, then the
policy's forward and backward) over the first --pairs-n pairs of --pairs-data that fit
--pairs-max-len tokens, encoded with stories260K's tokenizer, --pairs-batch pairs per step, on
the first of --models (default stories260K) in the first of --modes (lora or full; default lora),
once with every sequence laid out whole and once with each pair's prompt computed once. The two
run interleaved batch by batch in this process, so that the ratio is fair on a loaded machine; it
prints pairs/s for each and their ratio, and the ratio per second of process CPU time.`,
		Example: `  align bench train
  align bench train --json --models smollm2-135m-shape --iters 2
  align bench train --models qwen2.5-0.5b-shape --modes lora,lora-resident --quant q4_k --no-peer
  align bench train --single llama3.2-1b-shape:lora-lowmem --quant q4_k --iters 1
  align bench train --single smollm2-135m-shape:lora --iters 20 --cpuprofile lora.prof && go tool pprof -top lora.prof
  align bench train --pairs --json
  align bench train --pairs --models smollm2-135m-shape --pairs-n 8 --iters 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			qt, err := bench.ParseQuant(quant)
			if err != nil {
				return fmt.Errorf("bench train: %w", err)
			}
			if pairs {
				return benchPairs(out, asJSON, stories, models, modes, bench.PairsOptions{Data: pairsData, Stories: stories,
					Pairs: pairsN, Batch: pairsBatch, MaxLen: pairsMaxLen, Iters: iters})
			}
			if single != "" { // one measurement, in this process
				name, mode, _ := strings.Cut(single, ":")
				for _, s := range bench.Shapes(stories) {
					if s.Name == name {
						stop, err := startCPUProfile(cpuProfile)
						if err != nil {
							return fmt.Errorf("bench train: %w", err)
						}
						r, err := bench.Measure(s, mode, seqLen, iters, qt)
						if err := stop(); err != nil {
							return fmt.Errorf("bench train: %w", err)
						}
						if err != nil {
							return err
						}
						return json.NewEncoder(out).Encode(bench.ChildLine(r))
					}
				}
				return fmt.Errorf("bench train: unknown model %q (want one of %s)", name, strings.Join(bench.ShapeNames(), ", "))
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintf(tw, "model\tmode\tseq\talign tok/s\tmfu\tpeer tok/s\tratio\talign RSS MB\tpeer RSS MB\n")
			}
			print := func(r bench.Result) {
				if asJSON {
					_ = json.NewEncoder(out).Encode(r)
					return
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.2f\t%.1f\t%.2f×\t%.0f\t%.0f\t%s\n", r.Model, r.Mode, r.SeqLen, r.TokensPerS,
					r.MFU, r.PeerTokensPerS, r.Ratio, r.PeakRSSMB, r.PeerPeakRSSMB, r.Note)
				tw.Flush()
			}
			_, err = bench.Train(cmd.Context(), bench.Options{Exe: exe, PeerPy: peer, SeqLen: seqLen, Iters: iters,
				Threads: runtime.GOMAXPROCS(0), Stories: stories, Models: models, Modes: modes, Quant: qt, OnResult: print,
				SkipPeers: noPeer})
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
	f.BoolVar(&asJSON, "json", false, "one JSON object per line: model, mode, seq_len, tokens_per_s, mfu, flops_per_token, fma_peak_gflops, threads, quant, peer, peer_blas, peer_tokens_per_s, ratio, peak_rss_mb, peer_peak_rss_mb, note")
	f.IntVar(&seqLen, "seq-len", 512, "tokens per step")
	f.IntVar(&iters, "iters", 3, "timed steps per measurement (after one warm-up)")
	f.StringSliceVar(&models, "models", nil, "subset of "+strings.Join(bench.ShapeNames(), ", ")+" (default all)")
	f.StringSliceVar(&modes, "modes", nil, "subset of "+strings.Join(bench.Modes(), ", ")+" (default all)")
	f.StringVar(&quant, "quant", "q8_0", "resident encoding of the random shapes' projections in the -resident and -lowmem modes: q8_0, q4_k, f16 or bf16")
	f.StringVar(&stories, "stories", filepath.Join("testdata", "models", "stories260K.gguf"), "stories260K GGUF (random weights of its shape if absent)")
	f.StringVar(&peer, "peer", filepath.Join("bench", "peers", "train_torch.py"), "the PyTorch peer script")
	f.BoolVar(&noPeer, "no-peer", false, "skip the PyTorch peer")
	f.BoolVar(&withOllama, "ollama", false, "also compare forward tokens/s with Ollama's prompt evaluation (needs the server)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "with --single: write a CPU profile of the measurement (model build included) to this file, for go tool pprof")
	f.StringVar(&single, "single", "", "run one SHAPE:MODE measurement in this process and print it as JSON (no peer, no memory check)")
	f.BoolVar(&pairs, "pairs", false, "measure prompt sharing: DPO-step pairs/s with the prompt per sequence and once per pair, and their ratio")
	f.StringVar(&pairsData, "pairs-data", filepath.Join("testdata", "data", "harmless-base-test.jsonl.gz"), "--pairs: preference pairs (HH harmless-base by default)")
	f.IntVar(&pairsN, "pairs-n", 32, "--pairs: pairs measured")
	f.IntVar(&pairsBatch, "pairs-batch", 4, "--pairs: pairs per step")
	f.IntVar(&pairsMaxLen, "pairs-max-len", 1024, "--pairs: longest sequence a measured pair may have (tokens)")
	return cmd
}

// benchPairs runs and prints `align bench train --pairs`.
func benchPairs(out io.Writer, asJSON bool, stories string, models, modes []string, o bench.PairsOptions) error {
	name, mode := "stories260K", "lora"
	if len(models) > 0 {
		name = models[0]
	}
	if len(modes) > 0 {
		mode = modes[0]
	}
	if mode != "lora" && mode != "full" {
		return fmt.Errorf("bench train --pairs: mode %q: want lora or full", mode)
	}
	found := false
	for _, s := range bench.Shapes(stories) {
		if s.Name == name {
			o.Shape, found = s, true
		}
	}
	if !found {
		return fmt.Errorf("bench train --pairs: unknown model %q (want one of %s)", name, strings.Join(bench.ShapeNames(), ", "))
	}
	o.Mode = mode
	r, err := bench.PairsBench(o)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(out).Encode(r)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\tmode\tpairs\tbatch\tprompt tok\tresponse tok\trows unshared\trows shared\tunshared pairs/s\tshared pairs/s\tratio\tcpu ratio\tmax |dlogp|\n")
	fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.0f\t%d\t%d\t%.2f\t%.2f\t%.2f×\t%.2f×\t%.2g\n", r.Model, r.Mode, r.Pairs, r.Batch, r.MeanPromptTokens,
		r.MeanResponseTokens, r.RowsUnshared, r.RowsShared, r.UnsharedPairsPerS, r.SharedPairsPerS, r.Ratio, r.CPURatio, r.MaxLogProbDiff)
	return tw.Flush()
}

// startCPUProfile starts a CPU profile written to path ("" = none) and returns what stops it.
func startCPUProfile(path string) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error { pprof.StopCPUProfile(); return f.Close() }, nil
}
