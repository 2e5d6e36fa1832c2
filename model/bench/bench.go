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
	"math"
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
	MFU            float64 `json:"mfu"`             // model FLOPs utilisation (Measurement)
	FLOPsPerToken  float64 `json:"flops_per_token"` // model FLOPs of one token of the step
	FMAPeakGFLOPS  float64 `json:"fma_peak_gflops"` // the same run's FMA peak at Threads
	Threads        int     `json:"threads"`
	Quant          string  `json:"quant,omitempty"` // resident encoding of the -resident/-lowmem modes
	Peer           string  `json:"peer"`
	PeerBLAS       string  `json:"peer_blas,omitempty"`
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

// Shapes returns the benchmark models: stories260K (from the repository's GGUF when found), and
// with random weights the SmolLM2-135M, Qwen2.5-0.5B, Llama-3.2-1B and Qwen2.5-1.5B shapes
// (their published configs; all four tie the LM head to the embeddings, as the released
// checkpoints do), then one real shape per further architecture: Qwen3-0.6B, Gemma-3-270M,
// Gemma-2-2B and Phi-3-mini (their published configs, with the values that gemma2.go and
// gemma3.go derive from a GGUF's keys written out).
func Shapes(storiesGGUF string) []Shape {
	return []Shape{
		{Name: "stories260K", Cfg: model.Config{Arch: "llama", Layers: 5, Dim: 64, FFN: 172, Heads: 8, KVHeads: 4, Vocab: 512}, GGUF: storiesGGUF},
		{Name: "smollm2-135m-shape", Cfg: model.Config{Arch: "llama", Layers: 30, Dim: 576, FFN: 1536, Heads: 9, KVHeads: 3, Vocab: 49152, Tied: true}},
		{Name: "qwen2.5-0.5b-shape", Cfg: model.Config{Arch: "qwen2", Layers: 24, Dim: 896, FFN: 4864, Heads: 14, KVHeads: 2, Vocab: 151936, Tied: true,
			QKVBias: true, RopeNeoX: true, RopeTheta: 1e6, Eps: 1e-6}},
		{Name: "llama3.2-1b-shape", Cfg: model.Config{Arch: "llama", Layers: 16, Dim: 2048, FFN: 8192, Heads: 32, KVHeads: 8, Vocab: 128256, Tied: true,
			RopeTheta: 5e5}},
		{Name: "qwen2.5-1.5b-shape", Cfg: model.Config{Arch: "qwen2", Layers: 28, Dim: 1536, FFN: 8960, Heads: 12, KVHeads: 2, Vocab: 151936, Tied: true,
			QKVBias: true, RopeNeoX: true, RopeTheta: 1e6, Eps: 1e-6}},
		{Name: "qwen3-0.6b-shape", Cfg: model.Config{Arch: "qwen3", Layers: 28, Dim: 1024, FFN: 3072, Heads: 16, KVHeads: 8, HeadDim: 128, Vocab: 151936,
			Tied: true, QKNorm: true, RopeNeoX: true, RopeTheta: 1e6, Eps: 1e-6}},
		{Name: "gemma3-270m-shape", Cfg: gemmaShape(model.Config{Arch: "gemma3", Layers: 18, Dim: 640, FFN: 2048, Heads: 4, KVHeads: 1, HeadDim: 256,
			Vocab: 262144, QKNorm: true, RopeTheta: 1e6, RopeLocalTheta: 1e4, Window: 513, Eps: 1e-6}, func(l int) bool { return (l+1)%6 != 0 })},
		{Name: "gemma2-2b-shape", Cfg: gemmaShape(model.Config{Arch: "gemma2", Layers: 26, Dim: 2304, FFN: 9216, Heads: 8, KVHeads: 4, HeadDim: 256,
			Vocab: 256000, AttnSoftcap: 50, FinalSoftcap: 30, Window: 4096, Eps: 1e-6}, func(l int) bool { return l%2 == 0 })},
		{Name: "phi3-mini-shape", Cfg: model.Config{Arch: "phi3", Layers: 32, Dim: 3072, FFN: 8192, Heads: 32, KVHeads: 32, Vocab: 32064,
			RopeNeoX: true, RopeTheta: 1e4, Eps: 1e-5}},
	}
}

// gemmaShape fills in what every Gemma has (embeddings scaled by √dim, post-norms, GeGLU, a
// tied head, NeoX RoPE) and its sliding-window layers; gemma3's local layers also take the local
// RoPE base.
func gemmaShape(c model.Config, window func(l int) bool) model.Config {
	c.EmbedScale = float32(math.Sqrt(float64(c.Dim)))
	c.PostNorms, c.GeGLU, c.Tied, c.RopeNeoX = true, true, true, true
	c.WindowLayers = make([]bool, c.Layers)
	for l := range c.WindowLayers {
		c.WindowLayers[l] = window(l)
	}
	if c.RopeLocalTheta != 0 {
		c.RopeLocalLayers = slices.Clone(c.WindowLayers)
	}
	return c
}

// Modes are the measured steps: forward, LoRA and full on float32 weights, then LoRA with the
// projections resident in the --quant encoding (kernels.SgemmQ), and that plus activation
// recomputation ("lowmem", the smallest-memory configuration).
func Modes() []string { return []string{"forward", "lora", "full", "lora-resident", "lora-lowmem"} }

// build makes the model for a measurement; quant is the resident encoding of the "-resident" and
// "-lowmem" modes.
func build(s Shape, mode string, quant kernels.GGMLType) (*model.Model, error) {
	opt := model.LoadOptions{RandomType: quant}
	if m, ok := strings.CutSuffix(mode, "-lowmem"); ok { // resident weights + recomputation
		opt.LowMemory, opt.Recompute, mode = true, m != "forward", m
	} else if m, ok := strings.CutSuffix(mode, "-resident"); ok {
		opt.LowMemory, mode = true, m
	} else if s.GGUF != "" {
		opt.Dense = true // the float32 modes
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

// Measurement is one timed (shape, mode) point of this process.
type Measurement struct {
	TokensPerS float64 `json:"tokens_per_s"`
	// FLOPsPerToken are the model FLOPs of one token of the step (model.FLOPs: forward 2N +
	// attention, LoRA step forward + input gradients + adapter weight gradients, full step 6N +
	// 3·attention, at this sequence length).
	FLOPsPerToken float64 `json:"flops_per_token"`
	// FMAPeakGFLOPS is the FMA peak measured in this process right after the steps, with as many
	// threads as the model uses (kernels.FMAPeak); MFU = FLOPsPerToken·TokensPerS / it.
	FMAPeakGFLOPS float64 `json:"fma_peak_gflops"`
	MFU           float64 `json:"mfu"`
	Threads       int     `json:"threads"`
}

// MeasureOne times one step kind in this process: iters steps over one sequence of seqLen
// tokens (all but the first scored) after one warm-up step; a training step is forward,
// backward and an AdamW update. It returns tokens/s.
func MeasureOne(s Shape, mode string, seqLen, iters int) (float64, error) {
	r, err := Measure(s, mode, seqLen, iters, kernels.TypeQ8_0)
	return r.TokensPerS, err
}

// Measure is MeasureOne with the step's model FLOPs and its MFU against the FMA peak measured
// in the same process at the same thread count.
func Measure(s Shape, mode string, seqLen, iters int, quant kernels.GGMLType) (Measurement, error) {
	m, err := build(s, mode, quant)
	if err != nil {
		return Measurement{}, err
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
	forward := strings.HasPrefix(mode, "forward")
	// A training step ends with AdamW over the trainable tensors (kernels.AdamW, as train's
	// optimizer), so that the step's time and the peak RSS hold the optimizer's two moments.
	params := m.Params()
	moments := make([][2][]float32, len(params))
	for i, p := range params {
		moments[i] = [2][]float32{make([]float32, len(p.Data)), make([]float32, len(p.Data))}
	}
	steps := 0
	step := func() error {
		if forward {
			_, err := m.LogProbs([]model.Sequence{seq})
			return err
		}
		m.ZeroGrad()
		p, err := m.Forward([]model.Sequence{seq})
		if err != nil {
			return err
		}
		if err := p.Backward(grad); err != nil {
			return err
		}
		steps++
		for i, p := range params {
			kernels.AdamW(p.Data, p.Grad, moments[i][0], moments[i][1], 1e-5, 0.9, 0.999, 1e-8, 0, steps)
		}
		return nil
	}
	if err := step(); err != nil {
		return Measurement{}, err
	}
	t0 := time.Now()
	for range iters {
		if err := step(); err != nil {
			return Measurement{}, err
		}
	}
	r := Measurement{TokensPerS: float64(seqLen*iters) / time.Since(t0).Seconds(), Threads: m.Threads()}
	f := m.FLOPs([]int{seqLen})
	r.FLOPsPerToken = m.StepFLOPs([]int{seqLen}) / float64(seqLen)
	if forward {
		r.FLOPsPerToken = f.Forward / float64(seqLen)
	}
	r.FMAPeakGFLOPS = kernels.FMAPeak(r.Threads, 300*time.Millisecond)
	r.MFU = r.FLOPsPerToken * r.TokensPerS / (r.FMAPeakGFLOPS * 1e9)
	return r, nil
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
	Measurement
	Peer      string  `json:"peer"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	BLAS      string  `json:"blas,omitempty"` // the peer's BLAS (train_torch.py blas_info)
}

// referenceBLAS reports whether the peer's BLAS is not a tuned one: the netlib reference BLAS
// (Debian's libblas.so.3 without OpenBLAS installed runs about 15× slower), or a peer that did not
// say. A ratio against it would flatter align, so Train reports none.
func referenceBLAS(blas string) bool {
	return blas == "" || strings.HasPrefix(blas, "reference") || strings.HasPrefix(blas, "unknown")
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

// ChildLine is what the child measurement (`align bench train --single`) prints: r and this
// process's peak RSS.
func ChildLine(r Measurement) any {
	return childResult{Measurement: r, Peer: "align", PeakRSSMB: PeakRSSMB()}
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
	Modes     []string // subset of Modes(); empty = all
	Quant     kernels.GGMLType
	OnResult  func(Result)
	SkipPeers bool
	// MemAvailable is the memory a measurement may take (bytes; 0: MemAvailable of
	// /proc/meminfo). A mode whose estimate exceeds it is skipped with the estimate.
	MemAvailable int64
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
		for _, mode := range Modes() {
			if len(o.Modes) > 0 && !contains(o.Modes, mode) {
				continue
			}
			iters := o.Iters
			r := Result{Model: s.Name, Mode: mode, SeqLen: o.SeqLen}
			if strings.Contains(mode, "-") {
				r.Quant = o.Quant.String()
			}
			est := Estimate(s.Cfg, mode, o.SeqLen, o.Quant)
			if avail := o.memAvailable(); est > avail {
				r.Note = fmt.Sprintf("skipped: needs about %.1f GB (%s), %.1f GB available", float64(est)/1e9, EstimateWhy(s.Cfg, mode, o.SeqLen, o.Quant), float64(avail)/1e9)
				rs = append(rs, r)
				if o.OnResult != nil {
					o.OnResult(r)
				}
				continue
			}
			c, err := runJSON(ctx, nil, o.Exe, "bench", "train", "--single", s.Name+":"+mode,
				"--seq-len", fmt.Sprint(o.SeqLen), "--iters", fmt.Sprint(iters), "--stories", o.Stories, "--quant", strings.ToLower(o.Quant.String()))
			if err != nil {
				return rs, err
			}
			r.TokensPerS, r.MFU, r.FLOPsPerToken, r.FMAPeakGFLOPS, r.Threads, r.PeakRSSMB = c.TokensPerS, c.MFU, c.FLOPsPerToken, c.FMAPeakGFLOPS, c.Threads, c.PeakRSSMB
			if strings.Contains(mode, "-") {
				r.Note = "resident weights: no peer"
			} else if !o.SkipPeers {
				p, err := runJSON(ctx, peerEnv(), o.Python, o.PeerPy, "--model", s.Name, "--mode", mode,
					"--seq", fmt.Sprint(o.SeqLen), "--iters", fmt.Sprint(iters), "--threads", fmt.Sprint(o.Threads))
				switch {
				case err != nil:
					r.Note = "peer failed: " + err.Error()
				default:
					r.Peer, r.PeerBLAS, r.PeerTokensPerS, r.PeerPeakRSSMB = p.Peer, p.BLAS, p.TokensPerS, p.PeakRSSMB
					if referenceBLAS(p.BLAS) {
						r.Note = "no ratio: the peer runs the reference BLAS (" + p.BLAS + "); install OpenBLAS (libopenblas0-pthread)"
					} else {
						r.Ratio = r.TokensPerS / p.TokensPerS
					}
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
