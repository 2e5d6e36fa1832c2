package model

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/kernels"
)

// writeBase writes stories260K's base weights as a GGUF of type typ (Q8_0 falls back to F16
// where a row is not a multiple of 32, i.e. the ffn_down of this model).
func writeBase(t *testing.T, typ kernels.GGMLType) string {
	t.Helper()
	base := loadT(t, storiesPath, LoadOptions{})
	path := filepath.Join(t.TempDir(), "base.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := base.WriteMergedGGUF(f, typ); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// loraOn loads path with a rank-4 adapter whose B is random (so the adapter matters).
func loraOn(t *testing.T, path string, opt LoadOptions) *Model {
	t.Helper()
	opt.LoRA = &LoRAConfig{Rank: 4, Alpha: 8, Seed: 9}
	m := loadT(t, path, opt)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, l := range m.loraLinears() {
		for i := range l.lora.b.Data {
			l.lora.b.Data[i] = float32(0.1 * rng.NormFloat64())
		}
	}
	return m
}

// lowMemRun returns the log-probs and the LoRA gradients of one Forward+Backward.
func lowMemRun(t *testing.T, m *Model) ([]float32, []float32) {
	t.Helper()
	var seqs []Sequence
	for _, pr := range [][2]string{{"Once upon a time", ", there was a little girl named Lily."}, {"Tom had a dog", ". The dog liked to run in the park."}} {
		s, err := m.Encode([]Message{{Role: "user", Content: pr[0]}}, []Message{{Role: "assistant", Content: pr[1]}})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	return stepGrads(t, m, seqs)
}

// stepGrads runs one Forward+Backward over seqs (dlogp 1, 1.1, 1.2, … per token) and returns
// the log-probs and the trainable tensors' gradients.
func stepGrads(t *testing.T, m *Model, seqs []Sequence) ([]float32, []float32) {
	t.Helper()
	p, err := m.Forward(seqs)
	if err != nil {
		t.Fatal(err)
	}
	var lp []float32
	d := make([][]float32, len(p.LogProbs))
	for i, l := range p.LogProbs {
		lp = append(lp, l...)
		d[i] = make([]float32, len(l))
		for j := range d[i] {
			d[i][j] = float32(1 + 0.1*float64(j%3))
		}
	}
	if err := p.Backward(d); err != nil {
		t.Fatal(err)
	}
	var g []float32
	for _, q := range m.Params() {
		g = append(g, q.Grad...)
	}
	return lp, g
}

func TestLowMemoryMatches(t *testing.T) {
	for _, typ := range []kernels.GGMLType{kernels.TypeF16, kernels.TypeQ8_0} {
		checkLowMemory(t, typ, writeBase(t, typ))
	}
}

// checkLowMemory loads path (projections of type typ) normally and with the weights resident
// encoded (LowMemory) at 1, 2 and 3 threads: the log-probs and the LoRA gradients must be
// bit-identical to the dense path's on the same decoded values (kernels.SgemmQ keeps Sgemm's
// sums), and so across thread counts.
func checkLowMemory(t *testing.T, typ kernels.GGMLType, path string) {
	t.Helper()
	ref := loraOn(t, path, LoadOptions{Threads: 1, Dense: true})
	wantLP, wantG := lowMemRun(t, ref)
	// A quantized file stays resident encoded by default; Dense and Full decode it at load.
	for _, c := range []struct {
		opt      LoadOptions
		resident bool
	}{{LoadOptions{}, true}, {LoadOptions{Dense: true}, false}, {LoadOptions{Full: true}, false}} {
		if got := loadT(t, path, c.opt).blocks[0].q.q != nil; got != c.resident {
			t.Fatalf("%s %+v: resident %v, want %v", typ, c.opt, got, c.resident)
		}
	}
	for _, th := range []int{1, 2, 3} {
		lm := loraOn(t, path, LoadOptions{Threads: th, LowMemory: true})
		nq := 0
		for i := range lm.blocks {
			for _, l := range lm.blocks[i].linears() {
				if l.q != nil {
					nq++
					if l.w.Data != nil {
						t.Fatalf("%s: %s keeps float32 data too", typ, l.w.Name)
					}
					if l.q.typ != typ && !(typ == kernels.TypeQ8_0 && l.q.typ == kernels.TypeF16) {
						t.Fatalf("%s: %s kept as %s", typ, l.w.Name, l.q.typ)
					}
				}
			}
		}
		if nq != 7*lm.cfg.Layers {
			t.Fatalf("%s: %d projections kept encoded, want %d", typ, nq, 7*lm.cfg.Layers)
		}
		if lw, rw := lm.WeightBytes(), ref.WeightBytes(); lw >= rw {
			t.Errorf("%s: LowMemory holds %d weight bytes, normal %d", typ, lw, rw)
		} else if th == 1 {
			t.Logf("%s: weight bytes %d (LowMemory) vs %d", typ, lw, rw)
		}
		lp, g := lowMemRun(t, lm)
		// Forward: the same dequantized values in the same sums: bit-identical.
		for i := range lp {
			if lp[i] != wantLP[i] {
				t.Fatalf("%s threads %d: log-prob %d = %v, normal path %v", typ, th, i, lp[i], wantLP[i])
			}
		}
		// Backward: the same sums again: bit-identical too.
		var gmax float64
		for _, v := range wantG {
			gmax = max(gmax, math.Abs(float64(v)))
		}
		if gmax == 0 {
			t.Fatalf("%s: all LoRA gradients are zero", typ)
		}
		for i := range g {
			if math.Float32bits(g[i]) != math.Float32bits(wantG[i]) {
				t.Fatalf("%s threads %d: LoRA gradient %d = %v, dense path %v", typ, th, i, g[i], wantG[i])
			}
		}
	}
}

func TestLowMemoryRefusesFull(t *testing.T) {
	_, err := Load(storiesPath, LoadOptions{Full: true, LowMemory: true})
	if err == nil || !strings.Contains(err.Error(), "Full") {
		t.Fatalf("Load(Full, LowMemory) = %v, want an error naming Full", err)
	}
	_, err = NewRandom(tinyConfig("llama"), 1, LoadOptions{Full: true, LowMemory: true})
	if err == nil || !strings.Contains(err.Error(), "Full") {
		t.Fatalf("NewRandom(Full, LowMemory) = %v, want an error naming Full", err)
	}
}

// TestLowMemoryRandom: NewRandom's LowMemory encodes the projections (Q8_0 where rows allow)
// and holds fewer weight bytes; its scores are close to the float32 model's.
func TestLowMemoryRandom(t *testing.T) {
	cfg := Config{Arch: "llama", Layers: 2, Dim: 64, FFN: 96, Heads: 4, KVHeads: 2, Vocab: 50}
	ref, err := NewRandom(cfg, 5, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lm, err := NewRandom(cfg, 5, LoadOptions{LowMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lm.blocks[0].linears() {
		want := kernels.TypeQ8_0
		if l.in%32 != 0 {
			want = kernels.TypeF16
		}
		if l.q == nil || l.q.typ != want || l.w.Data != nil {
			t.Fatalf("%s not kept encoded as %s", l.w.Name, want)
		}
	}
	if lm.WeightBytes() >= ref.WeightBytes() {
		t.Errorf("LowMemory holds %d weight bytes, normal %d", lm.WeightBytes(), ref.WeightBytes())
	}
	seqs := tinySeqs(rand.New(rand.NewPCG(1, 2)), cfg.Vocab)
	a, err := ref.LogProbs(seqs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := lm.LogProbs(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if d := maxAbsDiff(a[i], b[i]); d > 1e-2 {
			t.Errorf("sequence %d: Q8_0 projections move log-probs by %g", i, d)
		}
	}
}
