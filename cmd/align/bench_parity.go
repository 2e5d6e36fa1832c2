package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/alignkit/align/model/bench"
)

// newBenchParityCmd checks align's log-probs against the real server at real model shapes.
func newBenchParityCmd() *cobra.Command {
	var (
		rf                       runtimeFlags
		asJSON, fast, smallVocab bool
		shapes                   []string
		types                    []string
		tokens, np               int
		layers                   int
		dir, stories             string
		phi3Vocab                string
	)
	cmd := &cobra.Command{
		Use:   "parity",
		Short: "Log-prob parity with Ollama at real model shapes (random weights)",
		Long: `Writes a random-weight GGUF at each real model shape (qwen3-0.6b-shape, gemma3-270m-shape,
gemma2-2b-shape, phi3-mini-shape) with the generator the model package's parity tests use for
that architecture (model.WriteRandomGGUF for qwen3 and phi3, model.PeakedGGUF for gemma2 and
gemma3; the qwen3 and gemma vocabularies padded with unused tokens to the real models' 151936,
262144 and 256000 rows unless --small-vocab), at each --types encoding, imports it into the Ollama server, generates greedily with
log-probs (--tokens per prompt, two prompts), and scores the same tokens with align, with the runner re-enacted
(model.LoadOptions.F16KV), as the tests do. Prints per prompt the mean and max |Δ log-prob| against the bound
(1e-3 for the llama.cpp runner: gemma2, phi3; 2e-3 for Ollama's Go engine: qwen3, gemma3) and how
many top log-probs are above −1 (peaked); fails when a mean misses its bound. Too slow for the
test suite at these sizes: the small shapes run there (TestRandomArchParity,
TestGemmaParityWithOllama). Each GGUF is removed, and its Ollama model deleted, after its check.
A shape whose file the generator cannot write in the available memory (about 5 bytes per
parameter, the float32 model: phi3-mini-shape needs ~19 GB) is refused with the estimate;
--layers N writes N blocks of the same shape instead. Run the server with OLLAMA_KEEP_ALIVE=0 so that its runner frees the weights before align loads
them (bench/parity_real.sh does).`,
		Example: `  align bench parity
  align bench parity --shapes qwen3-0.6b-shape --types f16 --tokens 16 --json
  align bench parity --shapes phi3-mini-shape --types q4_k --prompts 1
  align bench parity --shapes gemma2-2b-shape --layers 8 --prompts 1
  bash bench/parity_real.sh ./align /tmp/parity 11434 qwen3-0.6b-shape phi3-mini-shape:1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tt, err := bench.ParseParityTypes(types)
			if err != nil {
				return fmt.Errorf("bench parity: %w", err)
			}
			if !cmd.Flags().Changed("timeout") {
				rf.timeout = 30 * time.Minute // a real shape's load and generation on a loaded CPU
			}
			pool, err := rf.pool()
			if err != nil {
				return fmt.Errorf("bench parity: %w", err)
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintf(tw, "model\ttype\trunner\tscorer\tprompt\ttokens\tpeaked\tdropped\tmean logprob\tmean |Δ|\tmax |Δ|\tbound\tpass\ttraining path mean |Δ|\n")
			}
			_, err = bench.Parity(cmd.Context(), pool, bench.ParityOptions{Shapes: shapes, Types: tt, Tokens: tokens, Prompts: np, Layers: layers, Dir: dir,
				Stories: stories, Phi3Vocab: phi3Vocab, TrainingPath: fast, SmallVocab: smallVocab,
				Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, "bench parity: "+f+"\n", a...) },
				OnResult: func(r bench.ParityResult) {
					if asJSON {
						_ = json.NewEncoder(out).Encode(r)
						return
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%q\t%d\t%d\t%d\t%.3f\t%.2e\t%.2e\t%.0e\t%v\t%.2e\n", r.Model, r.Type, r.Runner, r.Scorer, r.Prompt,
						r.Tokens, r.Peaked, r.Dropped, r.MeanLogProb, r.MeanAbsDiff, r.MaxAbsDiff, r.Bound, r.Pass, r.TrainingMean)
					tw.Flush()
				}})
			tw.Flush()
			return err
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "one JSON object per line: model, layers, arch, type, runner, scorer, prompt, tokens, peaked, dropped, mean_logprob, mean_abs_diff, max_abs_diff, bound, pass, training_path_mean_abs_diff, gguf_bytes")
	f.StringSliceVar(&shapes, "shapes", nil, "subset of qwen3-0.6b-shape, gemma3-270m-shape, gemma2-2b-shape, phi3-mini-shape (default all)")
	f.StringSliceVar(&types, "types", []string{"f16", "q8_0"}, "weight encodings: f16, q8_0, q4_k (rows not of whole 256-value blocks: q8_0), f32")
	f.IntVar(&tokens, "tokens", 30, "greedy tokens generated per prompt (at most 30: Ollama ends a generation of 31 equal pieces without done)")
	f.IntVar(&np, "prompts", 0, "prompts per shape, from the first (default both)")
	f.IntVar(&layers, "layers", 0, "write this many blocks of each shape instead of its published depth (the model name gets -<n>l)")
	f.StringVar(&dir, "dir", "", "where the GGUFs are written (default the system's temporary directory; phi3-mini-shape at f16 is 7.6 GB)")
	f.StringVar(&stories, "stories", filepath.Join("testdata", "models", "stories260K.gguf"), "stories260K GGUF (the gemma shapes' vocabulary)")
	f.StringVar(&phi3Vocab, "phi3-vocab", filepath.Join("testdata", "vocab", "ggml-vocab-phi-3.gguf"), "Phi-3's vocabulary GGUF")
	f.BoolVar(&smallVocab, "small-vocab", false, "write the qwen3 and gemma shapes with the small test vocabularies (259 / 512 tokens) instead of padding them to the real models' 151936 / 262144 / 256000 rows")
	f.BoolVar(&fast, "training-path", false, "also score the f16kv shapes with the training path and report its mean |Δ| (no bound)")
	return cmd
}
