package model

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// tinyGemma2 is tinyConfig's shape with every gemma2 piece on: √dim embedding scale, post-norms,
// GeGLU, attention and final soft-caps small enough to bend the scores and logits, a window of
// 3 keys on block 0 (the sequences are 7, 1 and 5 long), a score scale of its own.
func tinyGemma2() Config {
	c := tinyConfig("llama")
	c.Arch, c.RopeNeoX, c.Tied = "gemma2", true, true
	c.EmbedScale = float32(math.Sqrt(float64(c.Dim)))
	c.PostNorms, c.GeGLU = true, true
	c.AttnSoftcap, c.FinalSoftcap = 0.2, 0.5
	c.Window, c.WindowLayers = 3, []bool{true, false}
	c.AttnScale = 0.7
	return c
}

// tinyGemma3: gemma3's pieces, QK-norm and two RoPE bases (block 0 local: base 10 and the
// window; block 1 global: base 10⁴ with linear scaling 2) on tinyConfig's shape, no soft-caps.
func tinyGemma3() Config {
	c := tinyConfig("llama")
	c.Arch, c.RopeNeoX, c.Tied = "gemma3", true, true
	c.EmbedScale = float32(math.Sqrt(float64(c.Dim)))
	c.PostNorms, c.GeGLU, c.QKNorm = true, true, true
	c.Window, c.WindowLayers = 3, []bool{true, false}
	c.RopeLocalTheta, c.RopeLocalLayers, c.RopeScale = 10, []bool{true, false}, 2
	return c
}

// gemmaVariants switches one gemma piece off at a time.
func gemmaVariants(c Config) map[string]Config {
	v := map[string]Config{}
	add := func(name string, f func(*Config)) {
		d := c
		f(&d)
		v[name] = d
	}
	add("no embedding scale", func(d *Config) { d.EmbedScale = 0 })
	add("SwiGLU", func(d *Config) { d.GeGLU = false })
	if c.AttnSoftcap != 0 {
		add("no attention soft-cap", func(d *Config) { d.AttnSoftcap = 0 })
	}
	if c.FinalSoftcap != 0 {
		add("no final soft-cap", func(d *Config) { d.FinalSoftcap = 0 })
	}
	add("no window", func(d *Config) { d.Window = 0 })
	if c.AttnScale != 0 {
		add("default score scale", func(d *Config) { d.AttnScale = 0 })
	}
	if c.RopeLocalLayers != nil {
		add("one RoPE base", func(d *Config) { d.RopeLocalLayers = nil })
	}
	return v
}

// scaleWeights multiplies the matrices (×mat) so that the tiny model's scores and logits reach
// the soft-caps; norms stay near 1.
func scaleWeights(m *Model, mat float32) {
	for _, p := range m.allWeights() {
		if len(p.Shape) == 2 {
			for i := range p.Data {
				p.Data[i] *= mat
			}
		}
	}
}

// TestGemmaPiecesMatter: each gemma piece changes the tiny model's log-probs, so the gradient
// checks below exercise it (a piece both the engine and the reference ignored would pass them).
func TestGemmaPiecesMatter(t *testing.T) {
	for name, base := range map[string]Config{"gemma2": tinyGemma2(), "gemma3": tinyGemma3()} {
		seqs := tinySeqs(rand.New(rand.NewPCG(1, 2)), base.Vocab)
		lp := func(c Config) []float32 {
			m, err := NewRandom(c, 3, LoadOptions{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			scaleWeights(m, 10)
			out, err := m.LogProbs(seqs)
			if err != nil {
				t.Fatal(err)
			}
			var flat []float32
			for _, s := range out {
				flat = append(flat, s...)
			}
			return flat
		}
		ref := lp(base)
		for v, c := range gemmaVariants(base) {
			if d := maxAbsDiff(ref, lp(c)); d < 1e-3 {
				t.Errorf("%s: %s changes the log-probs by only %.2e", name, v, d)
			}
		}
		// Post-norms: their weights matter (a model without them has other tensors).
		m, _ := NewRandom(base, 3, LoadOptions{Threads: 2})
		scaleWeights(m, 10)
		a, _ := m.LogProbs(seqs)
		for i := range m.blocks {
			for j := range m.blocks[i].postAttnNorm.Data {
				m.blocks[i].postAttnNorm.Data[j] *= 1.5
				m.blocks[i].postFFNNorm.Data[j] *= 0.5
			}
		}
		b, _ := m.LogProbs(seqs)
		if d := maxAbsDiff(a[0], b[0]); d < 1e-3 {
			t.Errorf("%s: the post-norm weights change the log-probs by only %.2e", name, d)
		}
	}
}

func TestGradientsGemma(t *testing.T) {
	for name, cfg := range map[string]Config{"gemma2": tinyGemma2(), "gemma3": tinyGemma3()} {
		for _, recompute := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(1, 2))
			m, err := NewRandom(cfg, 3, LoadOptions{Threads: 2, Recompute: recompute,
				LoRA: &LoRAConfig{Rank: 3, Alpha: 6, Seed: 4}})
			if err != nil {
				t.Fatal(err)
			}
			scaleWeights(m, 10)
			if name == "gemma3" {
				// QK-norm weights near 1 leave q and k at unit scale: larger ones make the
				// scores reach past the linear range.
				for i := range m.blocks {
					for j := range m.blocks[i].qNorm.Data {
						m.blocks[i].qNorm.Data[j] *= 2
					}
				}
			}
			if len(m.Params()) != 2*7*2 {
				t.Fatalf("%s: %d LoRA params, want 28", name, len(m.Params()))
			}
			t.Logf("%s LoRA recompute=%v", name, recompute)
			checkGrads(t, m, tinySeqs(rng, m.cfg.Vocab), rng)
		}
		rng := rand.New(rand.NewPCG(5, 6))
		m, err := NewRandom(cfg, 7, LoadOptions{Threads: 2, Full: true})
		if err != nil {
			t.Fatal(err)
		}
		scaleWeights(m, 10)
		t.Logf("%s Full: %d tensors", name, len(m.Params()))
		checkGrads(t, m, tinySeqs(rng, m.cfg.Vocab), rng)
	}
}

// TestRandomGemmaGGUF: the generator's files load as their architecture with the gemma
// options from their metadata, and are peaked under align's own greedy decoding: most
// generated tokens have a log-prob above −1.
func TestRandomGemmaGGUF(t *testing.T) {
	for _, arch := range []string{"gemma2", "gemma3"} {
		r := randomGemma(arch)
		path := filepath.Join(t.TempDir(), arch+".gguf")
		if err := r.Write(path); err != nil {
			t.Fatal(err)
		}
		m := loadT(t, path, LoadOptions{})
		c := m.Config()
		if c.Arch != arch || !c.PostNorms || !c.GeGLU || c.EmbedScale != 8 || c.Window == 0 {
			t.Fatalf("%s: config %+v", arch, c)
		}
		ids, err := m.Tokenize("Once upon a time", true)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Generate(context.Background(), ids, SampleOptions{MaxTokens: 40})
		if err != nil {
			t.Fatal(err)
		}
		seq := Sequence{Tokens: append(ids, out...), Mask: make([]bool, len(ids)+len(out))}
		for i := len(ids); i < len(seq.Tokens); i++ {
			seq.Mask[i] = true
		}
		lp, err := m.LogProbs([]Sequence{seq})
		if err != nil {
			t.Fatal(err)
		}
		peaked := 0
		for _, v := range lp[0] {
			if v > -1 {
				peaked++
			}
		}
		t.Logf("%s: %d tokens generated, %d with log-prob > −1; %v", arch, len(out), peaked, lp[0][:8])
		if len(out) < 30 || peaked < len(out)*3/4 {
			t.Errorf("%s: %d tokens generated, %d peaked", arch, len(out), peaked)
		}
		// LowMemory (projections kept encoded, here F32) scores the same.
		lm := loadT(t, path, LoadOptions{LowMemory: true})
		lpl, err := lm.LogProbs([]Sequence{seq})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(lpl[0], lp[0]); d != 0 {
			t.Errorf("%s: LowMemory log-probs differ by %g", arch, d)
		}
		// The sliding window matters at this length: without it the scores move by far more
		// than the parity tolerance.
		m.cfg.Window = 0
		lp2, err := m.LogProbs([]Sequence{seq})
		if err != nil {
			t.Fatal(err)
		}
		d := 0.0
		for i := range lp2[0] {
			d += math.Abs(float64(lp2[0][i]-lp[0][i])) / float64(len(lp2[0]))
		}
		t.Logf("%s: without the window, mean |Δ| %.2e", arch, d)
		if d < 1e-2 {
			t.Errorf("%s: the window moves the scores by only %.2e", arch, d)
		}
	}
}

// TestGemmaBadInput: a gemma file without one of its tensors, or with one of the wrong shape,
// is refused with an error naming the file and the tensor.
func TestGemmaBadInput(t *testing.T) {
	for _, tc := range []struct{ arch, omit, bad, want string }{
		{"gemma2", "blk.1.post_ffw_norm.weight", "", "tensor blk.1.post_ffw_norm.weight missing"},
		{"gemma2", "", "blk.0.post_attention_norm.weight", "tensor blk.0.post_attention_norm.weight: shape [63], want [64]"},
		{"gemma3", "blk.2.attn_k_norm.weight", "", "tensor blk.2.attn_k_norm.weight missing"},
		{"gemma3", "", "blk.3.attn_q_norm.weight", "tensor blk.3.attn_q_norm.weight: shape [15], want [16]"},
		{"gemma3", "", "blk.0.ffn_gate.weight", "tensor blk.0.ffn_gate.weight: shape [63 128], want [64 128]"},
		{"gemma2", "", "", "untied"},
	} {
		r := randomGemma(tc.arch)
		r.OmitTensor, r.BadShapeName = tc.omit, tc.bad
		if tc.want == "untied" {
			r.Tied, tc.want = false, "tensor output.weight present, but the gemma2 head is tied to token_embd"
		}
		path := filepath.Join(t.TempDir(), tc.arch+".gguf")
		if err := r.Write(path); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want the file and %q", tc.arch, err, tc.want)
		}
	}
}
