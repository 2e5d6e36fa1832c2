// Package bench measures the model engine's training throughput against a same-run plain
// PyTorch peer (bench/peers/train_torch.py) and its forward speed against Ollama's own prompt
// evaluation (through the runtime package). Each measurement runs in a fresh child process so that its peak RSS is its own.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/alignkit/align/kernels"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/runtime"
)

// Result is one line of `align bench train --json`.
type Result struct {
	Model          string  `json:"model"`
	Mode           string  `json:"mode"` // forward | lora | full
	SeqLen         int     `json:"seq_len"`
	TokensPerS     float64 `json:"tokens_per_s"`
	Peer           string  `json:"peer"`
	PeerTokensPerS float64 `json:"peer_tokens_per_s"`
	Ratio          float64 `json:"ratio"` // TokensPerS / PeerTokensPerS
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	PeerPeakRSSMB  float64 `json:"peer_peak_rss_mb"`
	Note           string  `json:"note,omitempty"`
}

// Shape names a benchmark model.
type Shape struct {
	Name string
	Cfg  model.Config
	GGUF string // load from this file instead of random weights ("" = random)
}

// Shapes returns the benchmark models: stories260K (from the repository's GGUF when found) and
// the SmolLM2-135M shape with random weights.
func Shapes(storiesGGUF string) []Shape {
	return []Shape{
		{Name: "stories260K", Cfg: model.Config{Arch: "llama", Layers: 5, Dim: 64, FFN: 172, Heads: 8, KVHeads: 4, Vocab: 512}, GGUF: storiesGGUF},
		{Name: "smollm2-135m-shape", Cfg: model.Config{Arch: "llama", Layers: 30, Dim: 576, FFN: 1536, Heads: 9, KVHeads: 3, Vocab: 49152, Tied: true}},
	}
}

// Modes are the measured steps.
func Modes() []string { return []string{"forward", "lora", "full"} }

// build makes the model for a measurement.
func build(s Shape, mode string) (*model.Model, error) {
	opt := model.LoadOptions{}
	if m, ok := strings.CutSuffix(mode, "-lowmem"); ok { // LowMemory variant of a mode
		opt.LowMemory, mode = true, m
	}
	switch mode {
	case "lora":
		opt.LoRA = &model.LoRAConfig{Rank: 16, Alpha: 32, Seed: 1}
	case "full":
		opt.Full = true
	case "forward":
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	if s.GGUF != "" {
		if _, err := os.Stat(s.GGUF); err == nil {
			return model.Load(s.GGUF, opt)
		}
	}
	return model.NewRandom(s.Cfg, 1, opt)
}

// MeasureOne times one step kind in this process: iters steps over one sequence of seqLen
// tokens (all but the first scored) after one warm-up step. It returns tokens/s.
func MeasureOne(s Shape, mode string, seqLen, iters int) (float64, error) {
	m, err := build(s, mode)
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(7, 7))
	seq := model.Sequence{Tokens: make([]int32, seqLen), Mask: make([]bool, seqLen)}
	for i := range seq.Tokens {
		seq.Tokens[i] = int32(rng.IntN(m.Config().Vocab))
		seq.Mask[i] = i > 0
	}
	grad := [][]float32{make([]float32, seqLen-1)}
	for i := range grad[0] {
		grad[0][i] = 1
	}
	step := func() error {
		if strings.HasPrefix(mode, "forward") {
			_, err := m.LogProbs([]model.Sequence{seq})
			return err
		}
		p, err := m.Forward([]model.Sequence{seq})
		if err != nil {
			return err
		}
		return p.Backward(grad)
	}
	if err := step(); err != nil {
		return 0, err
	}
	t0 := time.Now()
	for range iters {
		if err := step(); err != nil {
			return 0, err
		}
	}
	return float64(seqLen*iters) / time.Since(t0).Seconds(), nil
}

// PeakRSSMB is this process's peak resident set size.
func PeakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

// childResult is what a child measurement prints.
type childResult struct {
	Peer       string  `json:"peer"`
	TokensPerS float64 `json:"tokens_per_s"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
}

// peerEnv is the PyTorch peer's environment: this one, plus OPENBLAS_CORETYPE=SkylakeX on an
// AVX-512 CPU when it is not set. Debian's torch links the system OpenBLAS, which otherwise
// picks SSE3 ("Prescott") kernels on this CPU (docs/benchmarks.md): a crippled peer is no
// comparison.
func peerEnv() []string {
	env := os.Environ()
	if _, set := os.LookupEnv("OPENBLAS_CORETYPE"); !set && slices.Contains(kernels.ISAs(), "avx512") {
		env = append(env, "OPENBLAS_CORETYPE=SkylakeX")
	}
	return env
}

// runJSON runs a child measurement (env nil: this process's environment) and reads the JSON
// object on its last line of output.
func runJSON(ctx context.Context, env []string, name string, args ...string) (childResult, error) {
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = &out, &stderr, env
	if err := cmd.Run(); err != nil {
		return childResult{}, fmt.Errorf("%s %v: %w: %s", name, args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var r childResult
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil {
		return childResult{}, fmt.Errorf("%s: bad output %q: %w", name, out.String(), err)
	}
	return r, nil
}

// Options configures Train.
type Options struct {
	Exe       string // this binary, re-run as `Exe bench train --single MODEL:MODE`
	PeerPy    string // bench/peers/train_torch.py
	Python    string // default /usr/bin/python3
	SeqLen    int
	Iters     int // timed steps per measurement
	Threads   int // for the peer (align uses GOMAXPROCS)
	Stories   string
	Models    []string // subset of shape names; empty = all
	OnResult  func(Result)
	SkipPeers bool
	LowMemory bool // also measure forward-lowmem and lora-lowmem (LoadOptions.LowMemory; no peer)
}

// Train runs every (model, mode) measurement in a child process, then the PyTorch peer on the
// same shape and step.
func Train(ctx context.Context, o Options) ([]Result, error) {
	if o.Python == "" {
		o.Python = "/usr/bin/python3"
	}
	var rs []Result
	for _, s := range Shapes(o.Stories) {
		if len(o.Models) > 0 && !contains(o.Models, s.Name) {
			continue
		}
		modes := Modes()
		if o.LowMemory {
			modes = append(modes, "forward-lowmem", "lora-lowmem")
		}
		for _, mode := range modes {
			iters := o.Iters
			c, err := runJSON(ctx, nil, o.Exe, "bench", "train", "--single", s.Name+":"+mode,
				"--seq-len", fmt.Sprint(o.SeqLen), "--iters", fmt.Sprint(iters), "--stories", o.Stories)
			if err != nil {
				return rs, err
			}
			r := Result{Model: s.Name, Mode: mode, SeqLen: o.SeqLen, TokensPerS: c.TokensPerS, PeakRSSMB: c.PeakRSSMB}
			if strings.HasSuffix(mode, "-lowmem") {
				r.Note = "low memory: no peer"
			} else if !o.SkipPeers {
				p, err := runJSON(ctx, peerEnv(), o.Python, o.PeerPy, "--model", s.Name, "--mode", mode,
					"--seq", fmt.Sprint(o.SeqLen), "--iters", fmt.Sprint(iters), "--threads", fmt.Sprint(o.Threads))
				if err != nil {
					r.Note = "peer failed: " + err.Error()
				} else {
					r.Peer, r.PeerTokensPerS, r.PeerPeakRSSMB = p.Peer, p.TokensPerS, p.PeakRSSMB
					r.Ratio = r.TokensPerS / p.TokensPerS
				}
			}
			rs = append(rs, r)
			if o.OnResult != nil {
				o.OnResult(r)
			}
		}
	}
	return rs, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// OllamaPromptEval compares align's forward tokens/s with Ollama's prompt evaluation
// (prompt_eval_count / prompt_eval_duration) on the same GGUF, served as ollamaName on the
// pool, for a raw prompt of about seqLen tokens (random vocabulary pieces, so that no prompt
// cache applies).
func OllamaPromptEval(ctx context.Context, pool *runtime.Pool, gguf, ollamaName string, seqLen, iters int) (Result, error) {
	m, err := model.Load(gguf, model.LoadOptions{})
	if err != nil {
		return Result{}, err
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	opt := runtime.GreedyOptions(1)
	opt.NumCtx = 2 * seqLen
	var ollamaTPS float64
	var n int
	for i := range iters + 1 {
		ids := make([]int32, seqLen-1)
		for j := range ids {
			ids[j] = int32(3 + rng.IntN(m.Config().Vocab-3))
		}
		text, err := m.Detokenize(ids)
		if err != nil {
			return Result{}, err
		}
		last, err := pool.Generate(ctx, runtime.GenerateRequest{Model: ollamaName, Prompt: text, Raw: true, Options: opt})
		if err != nil {
			return Result{}, err
		}
		if i == 0 {
			continue // warm-up (model load)
		}
		if last.PromptEvalDuration <= 0 {
			return Result{}, errors.New("ollama reported no prompt_eval_duration")
		}
		ollamaTPS += float64(last.PromptEvalCount) / last.PromptEvalDuration.Seconds()
		n = last.PromptEvalCount
	}
	ollamaTPS /= float64(iters)
	tps, err := MeasureOne(Shape{Name: filepath.Base(gguf), GGUF: gguf}, "forward", max(n, 2), iters)
	if err != nil {
		return Result{}, err
	}
	return Result{Model: filepath.Base(gguf), Mode: "forward", SeqLen: n, TokensPerS: tps, Peer: "ollama-prompt-eval",
		PeerTokensPerS: ollamaTPS, Ratio: tps / ollamaTPS}, nil
}
