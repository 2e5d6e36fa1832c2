package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/alignkit/align/runtime"
)

// runtimeFlags are the flags of every command that talks to Ollama.
type runtimeFlags struct {
	hosts   []string
	perHost int
	timeout time.Duration
	tries   int
}

func (f *runtimeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.hosts, "ollama", nil, "Ollama host(s), comma-separated or repeated (default $OLLAMA_HOST, else 127.0.0.1:11434)")
	cmd.Flags().IntVar(&f.perHost, "per-host", 0, "requests in flight per host (default $OLLAMA_NUM_PARALLEL, else 4)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 5*time.Minute, "timeout of one request attempt")
	cmd.Flags().IntVar(&f.tries, "attempts", 5, "tries per request on transient errors (refused, 5xx, timeouts)")
}

func (f *runtimeFlags) pool() (*runtime.Pool, error) {
	return runtime.NewPool(f.hosts, runtime.PoolOptions{
		PerHost: f.perHost, RequestTimeout: f.timeout, MaxAttempts: f.tries,
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
}

// envPool is a pool on $OLLAMA_HOST (else 127.0.0.1:11434) with the default options, for
// commands that have no --ollama flag.
func envPool() (*runtime.Pool, error) {
	return runtime.NewPool(nil, runtime.PoolOptions{})
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// newRuntimeCmd groups the commands about the Ollama server itself.
func newRuntimeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "The Ollama server(s) align uses: version, models, a one-token test",
		Example: `  align runtime check
  align runtime check --ollama 127.0.0.1:11434,127.0.0.1:11435 --json`,
	}
	cmd.AddCommand(newRuntimeCheckCmd())
	return cmd
}

type checkReport struct {
	Hosts  []runtime.HostStatus `json:"hosts"`
	Models []runtime.ModelInfo  `json:"models"`
	Test   *checkTest           `json:"test,omitempty"`
	OK     bool                 `json:"ok"`
}

type checkTest struct {
	Model      string  `json:"model"`
	Host       string  `json:"host,omitempty"`
	Text       string  `json:"text"`
	Tokens     int     `json:"tokens"`
	Logprob    float64 `json:"logprob"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
}

func newRuntimeCheckCmd() *cobra.Command {
	var (
		rf     runtimeFlags
		model  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Show each server's version, its models, and generate one token",
		Long: `check asks every host for its version, lists the models of the first, and generates one
token (temperature 0, with its log-probability) from --model, or from the first model listed.
It exits non-zero when a host does not answer or the test fails.`,
		Example: `  align runtime check
  align runtime check --model stories260k --json
  OLLAMA_HOST=127.0.0.1:11500 align runtime check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := rf.pool()
			if err != nil {
				return err
			}
			rep := checkReport{OK: true}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			rep.Hosts = pool.Check(cctx)
			for _, h := range rep.Hosts {
				rep.OK = rep.OK && h.Error == ""
			}
			if rep.OK {
				if rep.Models, err = pool.List(cctx); err != nil {
					return err
				}
				if model == "" && len(rep.Models) > 0 {
					model = rep.Models[0].Name
				}
				if model != "" {
					rep.Test = &checkTest{Model: model}
					start := time.Now()
					res, err := pool.Generate(cctx, runtime.GenerateRequest{Model: model, Prompt: "Hello", Options: runtime.GreedyOptions(1), Logprobs: true})
					rep.Test.DurationMS = float64(time.Since(start).Microseconds()) / 1000
					if err != nil {
						rep.Test.Error, rep.OK = err.Error(), false
					} else {
						rep.Test.Host, rep.Test.Text, rep.Test.Tokens = res.Host, res.Text, res.EvalCount
						if len(res.Logprobs) > 0 {
							rep.Test.Logprob = res.Logprobs[0].Logprob
						}
					}
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := json.NewEncoder(out).Encode(rep); err != nil {
					return err
				}
			} else {
				for _, h := range rep.Hosts {
					if h.Error != "" {
						fmt.Fprintf(out, "server  %s  DOWN: %s\n", h.Host, h.Error)
					} else {
						fmt.Fprintf(out, "server  %s  ollama %s\n", h.Host, h.Version)
					}
				}
				for i, m := range rep.Models {
					label := "models "
					if i > 0 {
						label = "       "
					}
					d := m.Digest
					if len(d) > 12 {
						d = d[:12]
					}
					fmt.Fprintf(out, "%s %-28s %8.1f MB  %-8s %-8s %s\n", label, m.Name, float64(m.Size)/1e6, m.Family, m.QuantizationLevel, d)
				}
				if len(rep.Models) == 0 && rep.OK {
					fmt.Fprintln(out, "models  (none: import one with `bash scripts/ollama.sh start` or `align export --to ollama:NAME`)")
				}
				if t := rep.Test; t != nil {
					if t.Error != "" {
						fmt.Fprintf(out, "test    %s: FAILED: %s\n", t.Model, t.Error)
					} else {
						fmt.Fprintf(out, "test    %s: %q (%d token, logprob %.3f) in %.0f ms on %s\n", t.Model, t.Text, t.Tokens, t.Logprob, t.DurationMS, t.Host)
					}
				}
			}
			if !rep.OK {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&model, "model", "", "model for the one-token test (default: the first listed)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
