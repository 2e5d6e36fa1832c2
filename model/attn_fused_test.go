package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/alignkit/align/kernels"
)

// TestAttentionFusedMatchesGemm: the fused small-head attention and the row-block SGEMM
// attention agree, forward and backward, over several packed sequences (one longer than two
// row blocks), grouped heads, and peaked scores that exercise the subnormal flush.
func TestAttentionFusedMatchesGemm(t *testing.T) {
	for _, hd := range []int{4, 8, 32} {
		for _, peak := range []float64{1, 30} {
			c := Config{Heads: 4, KVHeads: 2, HeadDim: hd}
			m := &Model{cfg: c, threads: 2}
			spans := []seqSpan{span(0, 5), span(5, 1), span(6, 2*attnBlock+11), span(6+2*attnBlock+11, 40)}
			T := 0
			for _, s := range spans {
				T += s.n
			}
			rng := rand.New(rand.NewPCG(uint64(hd), uint64(peak)))
			fill := func(n int, sc float64) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(sc * rng.NormFloat64())
				}
				return x
			}
			qDim, kvDim := c.Heads*hd, c.KVHeads*hd
			q, k, v := fill(T*qDim, peak), fill(T*kvDim, 1), fill(T*kvDim, 1)
			dout := fill(T*qDim, 1)
			o1, o2 := make([]float32, T*qDim), make([]float32, T*qDim)
			m.attentionForwardFused(o1, q, k, v, spans)
			m.attentionForwardGemm(o2, q, k, v, spans)
			compareClose(t, "out", hd, o1, o2)
			dq1, dk1, dv1 := fill(T*qDim, 1), fill(T*kvDim, 1), fill(T*kvDim, 1) // overwritten
			dq2, dk2, dv2 := make([]float32, T*qDim), make([]float32, T*kvDim), make([]float32, T*kvDim)
			m.attentionBackwardFused(dq1, dk1, dv1, dout, q, k, v, spans)
			m.attentionBackwardGemm(dq2, dk2, dv2, dout, q, k, v, spans)
			compareClose(t, "dq", hd, dq1, dq2)
			compareClose(t, "dk", hd, dk1, dk2)
			compareClose(t, "dv", hd, dv1, dv2)
		}
	}
}

func compareClose(t *testing.T, what string, hd int, got, want []float32) {
	t.Helper()
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	if scale == 0 {
		t.Fatalf("hd %d %s: all zero", hd, what)
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*scale || math.IsNaN(float64(got[i])) {
			t.Fatalf("hd %d %s[%d]: fused %g, sgemm %g", hd, what, i, got[i], want[i])
		}
	}
}

// TestAttentionRowKernels: the row kernels (the assembly where the kernels package chose AVX-512,
// their pure-Go twins under ALIGN_KERNELS=avx2 or generic) agree with the row-block SGEMM attention, forward and backward, for head dims 8 to 32,
// rows that end inside and on a block of keys, and peaked scores whose far columns are flushed;
// and the results are bit-identical between 1 and 2 threads. GQA groups of 1, 2 and 3 heads
// exercise the one-head and the paired kernels.
func TestAttentionRowKernels(t *testing.T) {
	for _, hd := range []int{8, 16, 24, 32} {
		for _, peak := range []float64{1, 30} {
			// Heads per kv head: 2 (paired kernels), 3 (a pair and a single), 1 (single).
			heads := map[float64]int{1: 6, 30: 4}[peak]
			if hd == 16 {
				heads = 2
			}
			c := Config{Heads: heads, KVHeads: 2, HeadDim: hd}
			m := &Model{cfg: c, threads: 2}
			spans := []seqSpan{span(0, 5), span(5, 1), span(6, 16), span(22, 2*attnBlock+11), span(22+2*attnBlock+11, 33)}
			T := 0
			for _, s := range spans {
				T += s.n
			}
			rng := rand.New(rand.NewPCG(uint64(hd), uint64(peak)))
			fill := func(n int, sc float64) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(sc * rng.NormFloat64())
				}
				return x
			}
			qDim, kvDim := c.Heads*hd, c.KVHeads*hd
			q, k, v := fill(T*qDim, peak), fill(T*kvDim, 1), fill(T*kvDim, 1)
			dout := fill(T*qDim, 1)
			type grads struct{ out, dq, dk, dv []float32 }
			run := func(rows bool, threads int) grads {
				m.threads = threads
				g := grads{make([]float32, T*qDim), fill(T*qDim, 1), fill(T*kvDim, 1), fill(T*kvDim, 1)}
				if !rows {
					m.attentionForwardGemm(g.out, q, k, v, spans)
					m.attentionBackwardGemm(g.dq, g.dk, g.dv, dout, q, k, v, spans)
					return g
				}
				m.attentionForwardRows(g.out, q, k, v, spans)
				m.attentionBackwardRows(g.dq, g.dk, g.dv, dout, q, k, v, spans)
				return g
			}
			want, got, one := run(false, 2), run(true, 2), run(true, 1)
			name := "go twins"
			if kernels.AttnRowsSIMD(hd) {
				name = "assembly"
			}
			compareClose(t, name+" out", hd, got.out, want.out)
			compareClose(t, name+" dq", hd, got.dq, want.dq)
			compareClose(t, name+" dk", hd, got.dk, want.dk)
			compareClose(t, name+" dv", hd, got.dv, want.dv)
			for i, x := range [][2][]float32{{got.out, one.out}, {got.dq, one.dq}, {got.dk, one.dk}, {got.dv, one.dv}} {
				for j := range x[0] {
					if math.Float32bits(x[0][j]) != math.Float32bits(x[1][j]) {
						t.Fatalf("hd %d %s: output %d [%d] differs between 1 and 2 threads: %g vs %g", hd, name, i, j, x[1][j], x[0][j])
					}
				}
			}
		}
	}
}

// BenchmarkAttentionGemm times the SGEMM attention (head dim 64, the SmolLM2-135M shape: 9/3
// heads, one sequence of 512) forward+backward on one thread, with ordinary scores (peak 1)
// and peaked ones (peak 30) whose far columns underflow to subnormal probabilities unless
// flushed:
//
//	go test ./model -run '^$' -bench AttentionGemm -benchtime 20x
func BenchmarkAttentionGemm(b *testing.B) {
	for _, peak := range []float64{1, 30} {
		b.Run(fmt.Sprintf("peak%g", peak), func(b *testing.B) {
			c := Config{Heads: 9, KVHeads: 3, HeadDim: 64}
			m := &Model{cfg: c, threads: 1}
			const T = 512
			spans := []seqSpan{span(0, T)}
			rng := rand.New(rand.NewPCG(1, 2))
			fill := func(n int, sc float64) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(sc * rng.NormFloat64())
				}
				return x
			}
			qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
			q, k, v, dout := fill(T*qDim, peak), fill(T*kvDim, 1), fill(T*kvDim, 1), fill(T*qDim, 1)
			out, dq, dk, dv := make([]float32, T*qDim), make([]float32, T*qDim), make([]float32, T*kvDim), make([]float32, T*kvDim)
			b.ResetTimer()
			cpu0 := processCPUSeconds()
			for range b.N {
				m.attentionForwardGemm(out, q, k, v, spans)
				m.attentionBackwardGemm(dq, dk, dv, dout, q, k, v, spans)
			}
			b.ReportMetric((processCPUSeconds()-cpu0)*1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

// processCPUSeconds is this process's CPU time (user + system).
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// TestDeterministicStories: a LoRA step (with dropout) on stories260K over two packed sequences
// long enough for the row kernels' paired heads, the masked last blocks and the concurrent
// adapter products, gives bit-identical log-probs and gradients on 1, 2 and 3 threads.
func TestDeterministicStories(t *testing.T) {
	run := func(threads int) (lps, grads []float32) {
		m, err := Load(storiesPath, LoadOptions{Threads: threads, LoRA: &LoRAConfig{Rank: 16, Alpha: 32, Dropout: 0.1, Seed: 5}})
		if err != nil {
			t.Fatal(err)
		}
		m.SetTraining(true)
		// B = 0 at init leaves dA = 0: give B values so that every gradient is exercised.
		for _, p := range m.Params() {
			for i := range p.Data {
				p.Data[i] += 0.01 * float32(i%7-3)
			}
		}
		rng := rand.New(rand.NewPCG(8, 9))
		var seqs []Sequence
		for _, n := range []int{150, 77} {
			s := Sequence{Tokens: make([]int32, n), Mask: make([]bool, n)}
			for i := range s.Tokens {
				s.Tokens[i] = int32(rng.IntN(m.Config().Vocab))
				s.Mask[i] = i > 0
			}
			seqs = append(seqs, s)
		}
		p, err := m.Forward(seqs)
		if err != nil {
			t.Fatal(err)
		}
		d := make([][]float32, len(p.LogProbs))
		for i, lp := range p.LogProbs {
			lps = append(lps, lp...)
			d[i] = make([]float32, len(lp))
			for j := range d[i] {
				d[i][j] = float32(j%5) - 2
			}
		}
		if err := p.Backward(d); err != nil {
			t.Fatal(err)
		}
		for _, q := range m.Params() {
			grads = append(grads, q.Grad...)
		}
		return lps, grads
	}
	lp1, g1 := run(1)
	nonzero := 0
	for _, g := range g1 {
		if g != 0 {
			nonzero++
		}
	}
	if nonzero < len(g1)/2 {
		t.Fatalf("only %d of %d gradients are nonzero", nonzero, len(g1))
	}
	for _, th := range []int{2, 3} {
		lp, g := run(th)
		for i := range lp {
			if math.Float32bits(lp[i]) != math.Float32bits(lp1[i]) {
				t.Fatalf("threads %d: log-prob %d differs: %g vs %g", th, i, lp[i], lp1[i])
			}
		}
		for i := range g {
			if math.Float32bits(g[i]) != math.Float32bits(g1[i]) {
				t.Fatalf("threads %d: gradient %d differs: %g vs %g", th, i, g[i], g1[i])
			}
		}
	}
}

// TestGradientsRowKernels: the finite-difference gradient check (float64 reference) through the
// assembly row kernels: head dim 8, paired heads, a sequence over several blocks of keys.
func TestGradientsRowKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	cfg := tinyConfig("llama")
	cfg.Layers, cfg.Dim, cfg.HeadDim, cfg.RopeDim = 1, 32, 8, 8
	if !kernels.AttnRowsSIMD(cfg.HeadDim) {
		t.Logf("assembly row kernels off (kernels ISA %s): checking the fallback path", kernels.ISA())
	}
	m, err := NewRandom(cfg, 3, LoadOptions{Threads: 2, LoRA: &LoRAConfig{Rank: 2, Alpha: 2, Seed: 4, Targets: []string{"q", "k", "v", "o"}}})
	if err != nil {
		t.Fatal(err)
	}
	n := 3*kernels.AttnKB + 5
	s := Sequence{Tokens: make([]int32, n), Mask: make([]bool, n)}
	for i := range s.Tokens {
		s.Tokens[i] = int32(rng.IntN(cfg.Vocab))
		s.Mask[i] = i > 2
	}
	checkGrads(t, m, []Sequence{s, {Tokens: []int32{1, 2, 3}, Mask: []bool{false, true, true}}}, rng)
}
