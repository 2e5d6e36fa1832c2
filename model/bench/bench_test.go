package bench

import (
	"context"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alignkit/align/kernels"
	"github.com/alignkit/align/runtime"
)

func TestMeasureOne(t *testing.T) {
	for _, s := range Shapes("../../testdata/models/stories260K.gguf") {
		if s.Name != "stories260K" {
			continue
		}
		for _, mode := range Modes() {
			tps, err := MeasureOne(s, mode, 32, 1)
			if err != nil {
				t.Fatal(err)
			}
			if tps <= 0 {
				t.Fatalf("%s %s: %g tokens/s", s.Name, mode, tps)
			}
		}
	}
	if _, err := MeasureOne(Shapes("")[0], "sideways", 8, 1); err == nil {
		t.Fatal("unknown mode accepted")
	}
	if PeakRSSMB() <= 0 {
		t.Fatal("no peak RSS")
	}
}

// BenchmarkStep times one step per mode on stories260K at 512 tokens, reporting the process's
// CPU time per step too (cpu-ms/op), which is steadier than wall time on a shared machine:
//
//	go test ./model/bench -run '^$' -bench Step/stories260K/lora -benchtime 20x
func BenchmarkStep(b *testing.B) {
	for _, s := range Shapes("../../testdata/models/stories260K.gguf") {
		if s.Name != "stories260K" {
			continue
		}
		for _, mode := range Modes() {
			b.Run(s.Name+"/"+mode, func(b *testing.B) {
				cpu0 := cpuSeconds()
				if _, err := MeasureOne(s, mode, 512, b.N); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric((cpuSeconds()-cpu0)*1e3/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// TestPeerEnv: the PyTorch peer gets OPENBLAS_CORETYPE=SkylakeX on an AVX-512 CPU unless the
// user set it, and keeps the user's value otherwise.
func TestPeerEnv(t *testing.T) {
	has := func(env []string, kv string) bool { return slices.Contains(env, kv) }
	t.Setenv("OPENBLAS_CORETYPE", "Haswell")
	if env := peerEnv(); !has(env, "OPENBLAS_CORETYPE=Haswell") || has(env, "OPENBLAS_CORETYPE=SkylakeX") {
		t.Fatalf("user's OPENBLAS_CORETYPE not kept: %v", env)
	}
	os.Unsetenv("OPENBLAS_CORETYPE")
	want := slices.Contains(kernels.ISAs(), "avx512")
	if got := has(peerEnv(), "OPENBLAS_CORETYPE=SkylakeX"); got != want {
		t.Fatalf("OPENBLAS_CORETYPE=SkylakeX set %v, want %v (ISAs %v)", got, want, kernels.ISAs())
	}
}

// TestTrainSkipsWhatDoesNotFit: with less memory available than a mode's estimate, Train runs no
// child and reports the skip with the estimate; estimates grow from resident LoRA to full.
func TestTrainSkipsWhatDoesNotFit(t *testing.T) {
	var notes []string
	rs, err := Train(context.Background(), Options{Exe: "/nonexistent", Models: []string{"qwen2.5-1.5b-shape"}, SeqLen: 512, Iters: 1,
		Quant: kernels.TypeQ4_K, MemAvailable: 1 << 20, SkipPeers: true, OnResult: func(r Result) { notes = append(notes, r.Note) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(Modes()) {
		t.Fatalf("%d results, want %d", len(rs), len(Modes()))
	}
	for _, r := range rs {
		if !strings.HasPrefix(r.Note, "skipped: needs about") || r.TokensPerS != 0 {
			t.Errorf("%s: %q", r.Mode, r.Note)
		}
	}
	c := Shapes("")[4].Cfg
	low, res, lora, full := Estimate(c, "lora-lowmem", 512, kernels.TypeQ4_K), Estimate(c, "lora-resident", 512, kernels.TypeQ4_K),
		Estimate(c, "lora", 512, kernels.TypeQ4_K), Estimate(c, "full", 512, kernels.TypeQ4_K)
	if !(low < res && res < lora && lora < full) {
		t.Errorf("estimates lowmem %d, resident %d, lora %d, full %d: not increasing", low, res, lora, full)
	}
	// Full training of 1.5B parameters at 16 bytes each is over 24 GB.
	if full < 24e9 {
		t.Errorf("full-step estimate %d bytes", full)
	}
}

func TestReferenceBLASAndQuant(t *testing.T) {
	for blas, ref := range map[string]bool{"": true, "reference /usr/lib/x86_64-linux-gnu/blas/libblas.so.3": true,
		"unknown ": true, "openblas OpenBLAS 0.3.21 DYNAMIC_ARCH core SkylakeX": false, "mkl": false} {
		if referenceBLAS(blas) != ref {
			t.Errorf("referenceBLAS(%q) = %v", blas, !ref)
		}
	}
	if q, err := ParseQuant("Q4_K"); err != nil || q != kernels.TypeQ4_K {
		t.Errorf("ParseQuant(Q4_K) = %v, %v", q, err)
	}
	if _, err := ParseQuant("q3_k"); err == nil {
		t.Error("q3_k accepted")
	}
}

// TestOllamaPromptEval measures against the real server ($OLLAMA_HOST, model stories260k from
// scripts/ollama.sh): Ollama must report its prompt evaluation for the same token count align
// timed.
func TestOllamaPromptEval(t *testing.T) {
	if os.Getenv("ALIGN_SKIP_OLLAMA") == "1" {
		t.Skip("######## ALIGN_SKIP_OLLAMA=1: SKIPPING " + t.Name() + ", an integration test against a real Ollama server ########")
	}
	pool, err := runtime.NewPool(nil, runtime.PoolOptions{MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := pool.Require(ctx, "stories260k"); err != nil {
		t.Fatalf("no Ollama server with stories260k (bash scripts/ollama.sh start; ALIGN_SKIP_OLLAMA=1 skips): %v", err)
	}
	r, err := OllamaPromptEval(ctx, pool, "../../testdata/models/stories260K.gguf", "stories260k", 48, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The prompt is 47 random vocabulary pieces, detokenized; Ollama re-tokenizes it, so the
	// count may differ a little, but it is no prompt-cache hit of a few tokens.
	if r.SeqLen < 24 || r.SeqLen > 96 || r.TokensPerS <= 0 || r.PeerTokensPerS <= 0 || r.Peer != "ollama-prompt-eval" {
		t.Fatalf("result %+v", r)
	}
}
