package model

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// ropeAngle64 is RoPE's angle for pair i at position p, written plainly from the formula of
// llama.cpp's rope with freq_scale and freq_factors: p/scale · theta^(-2i/ropeDim) / factor_i.
func ropeAngle64(c Config, p int32, i int) float64 {
	a := float64(p) * math.Pow(float64(c.RopeTheta), -2*float64(i)/float64(c.RopeDim))
	if c.RopeScale != 0 {
		a /= float64(c.RopeScale)
	}
	if c.RopeFreqs != nil {
		a /= float64(c.RopeFreqs[i])
	}
	return a
}

// TestRopeScaledOperator checks the scaled rotation against the float64 formula, its inverse
// against the transpose, and that without scaling it is the kernels' rotation.
func TestRopeScaledOperator(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, neox := range []bool{false, true} {
		c := Config{Heads: 3, KVHeads: 3, HeadDim: 10, RopeDim: 8, RopeTheta: 500000, RopeNeoX: neox, RopeScale: 4, RopeFreqs: []float32{1, 1.5, 4, 8}}
		m := &Model{cfg: c}
		T := 9
		pos := make([]int32, T)
		for i := range pos {
			pos[i] = int32(rng.IntN(3000))
		}
		x := make([]float32, T*c.Heads*c.HeadDim)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		y := slices.Clone(x)
		m.rope(y, pos, T, c.Heads, false)
		x64 := make([]float64, len(x))
		for i, v := range x {
			x64[i] = float64(v)
		}
		rope64(x64, pos, c.Heads, c.HeadDim, c)
		for i := range y {
			if d := math.Abs(float64(y[i]) - x64[i]); d > 1e-5 {
				t.Fatalf("neox=%v: element %d: %g, float64 formula %g", neox, i, y[i], x64[i])
			}
		}
		// <R x, g> = <x, Rᵀ g>: the backward is the transpose.
		g := make([]float32, len(x))
		for i := range g {
			g[i] = float32(rng.NormFloat64())
		}
		gb := slices.Clone(g)
		m.rope(gb, pos, T, c.Heads, true)
		var lhs, rhs float64
		for i := range x {
			lhs += float64(y[i]) * float64(g[i])
			rhs += float64(x[i]) * float64(gb[i])
		}
		if math.Abs(lhs-rhs) > 1e-4*(1+math.Abs(lhs)) {
			t.Errorf("neox=%v: <Rx,g> = %g, <x,Rᵀg> = %g", neox, lhs, rhs)
		}
		// Unscaled: the same rotation as the kernels (both float64 angles, one float32 rounding).
		c.RopeScale, c.RopeFreqs = 0, nil
		a, b := slices.Clone(x), slices.Clone(x)
		kernels.RoPEForward(a, pos, T, c.Heads, c.HeadDim, c.RopeDim, c.RopeTheta, neox)
		ropeScaledApply(b, pos, T, c.Heads, c.HeadDim, c.RopeDim, c.RopeTheta, 1, nil, 1, neox, false)
		for i := range a {
			if d := math.Abs(float64(a[i] - b[i])); d > 1e-5 {
				t.Fatalf("neox=%v unscaled: element %d: kernels %g, scaled path %g", neox, i, a[i], b[i])
			}
		}
	}
}

// TestGradientsRopeScaled runs the finite-difference gradient check with scaled RoPE.
func TestGradientsRopeScaled(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		c := tinyConfig(arch)
		c.RopeTheta, c.RopeScale, c.RopeFreqs = 50, 2, []float32{1, 3.5}
		for _, opt := range []LoadOptions{{LoRA: &LoRAConfig{Rank: 2, Alpha: 4, Seed: 5}}, {Full: true}} {
			m, err := NewRandom(c, 11, opt)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, 8))
			checkGrads(t, m, tinySeqs(rng, c.Vocab), rng)
		}
	}
}

// writeRopeVariant rewrites stories260K with extra metadata and, when factors is not nil, a
// rope_freqs.weight tensor: a tiny Llama 3.1-style GGUF.
func writeRopeVariant(t *testing.T, kvEdit map[string]any, factors []float32, extra ...*ggml.Tensor) string {
	t.Helper()
	m := loadT(t, storiesPath, LoadOptions{})
	f, err := os.Open(storiesPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := ggml.KV{}
	for k, v := range m.kv {
		kv[k] = widenKV(v)
	}
	for k, v := range kvEdit {
		kv[k] = v
	}
	g, err := ggml.Decode(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*ggml.Tensor
	for _, ti := range g.Tensors().Items() {
		raw := make([]byte, ti.Size())
		if _, err := f.ReadAt(raw, int64(g.Tensors().Offset+ti.Offset)); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, &ggml.Tensor{Name: ti.Name, Kind: ti.Kind, Shape: slices.Clone(ti.Shape), WriterTo: tensorWriter{raw: raw}})
	}
	if factors != nil {
		ts = append(ts, &ggml.Tensor{Name: "rope_freqs.weight", Kind: uint32(kernels.TypeF32), Shape: []uint64{uint64(len(factors))},
			WriterTo: f32Tensor(kernels.TypeF32, factors)})
	}
	ts = append(ts, extra...)
	path := filepath.Join(t.TempDir(), "rope.gguf")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ggml.WriteGGUF(out, kv, ts); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var ropeVariants = []struct {
	name    string
	kv      map[string]any
	factors []float32
}{
	{"align-rope-freqs", nil, []float32{1, 1.7, 4, 8}},
	{"align-rope-linear", map[string]any{"llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": float32(4)}, nil},
	{"align-rope-both", map[string]any{"llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": float32(2)}, []float32{1, 2, 3, 16}},
}

// TestRopeScalingModel loads RoPE-scaled GGUFs and checks the engine against the float64
// reference written from the formula, and that the scaling takes effect.
func TestRopeScalingModel(t *testing.T) {
	plain := loadT(t, storiesPath, LoadOptions{})
	toks, err := plain.Tokenize("Once upon a time there was a little girl named Lily. She loved to play outside in the park.", true)
	if err != nil {
		t.Fatal(err)
	}
	seq := Sequence{Tokens: toks, Mask: make([]bool, len(toks))}
	for i := 1; i < len(toks); i++ {
		seq.Mask[i] = true
	}
	base, err := plain.LogProbs([]Sequence{seq})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ropeVariants {
		m := loadT(t, writeRopeVariant(t, v.kv, v.factors), LoadOptions{})
		c := m.Config()
		if !slices.Equal(c.RopeFreqs, v.factors) {
			t.Fatalf("%s: RopeFreqs = %v, want %v", v.name, c.RopeFreqs, v.factors)
		}
		got, err := m.LogProbs([]Sequence{seq})
		if err != nil {
			t.Fatal(err)
		}
		want := newRef64(m).logprobs([]Sequence{seq})
		for i := range want {
			if d := math.Abs(float64(got[0][i]) - want[i]); d > 1e-4 {
				t.Errorf("%s token %d: %g, float64 reference %g", v.name, i, got[0][i], want[i])
			}
		}
		if d := maxAbsDiff(got[0], base[0]); d < 1e-2 {
			t.Errorf("%s: scores differ from the unscaled model by only %g: scaling not applied?", v.name, d)
		}
		// The F16KV path (the runner re-enacted, with its own RoPE cache) roughly agrees with the
		// training path. Only roughly: these scaled variants are far outside what stories260K
		// was trained on, and the f16 KV cache's rounding moves their scores by up to ~6e-2
		// (the float64 check above and the Ollama test below are the exact ones).
		ref := loadT(t, writeRopeVariant(t, v.kv, v.factors), LoadOptions{F16KV: true})
		g2, err := ref.LogProbs([]Sequence{seq})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(got[0], g2[0]); d > 0.1 {
			t.Errorf("%s: F16KV and training paths differ by %g", v.name, d)
		}
	}
	// Unsupported scaling types are refused by name.
	path := writeRopeVariant(t, map[string]any{"llama.rope.scaling.type": "yarn", "llama.rope.scaling.factor": float32(4)}, nil)
	if _, err := Load(path, LoadOptions{}); err == nil {
		t.Error("yarn RoPE scaling loaded without an error")
	}
}

// TestRopeScalingParityWithOllama imports the RoPE-scaled GGUFs into the real server and checks
// its log-probs: every token within 1e-3 of the F16KV path (in practice ≤1e-6: cosf/powf
// against Go's float64 cos/pow rounded). The training path (float32 KV) is only held to 0.1:
// on these out-of-distribution variants the runner's f16 KV cache alone moves scores by ~2e-2.
func TestRopeScalingParityWithOllama(t *testing.T) {
	c := ollamaClient(t)
	for _, v := range ropeVariants {
		path := writeRopeVariant(t, v.kv, v.factors)
		ollamaCreate(t, c, &api.CreateRequest{Model: v.name, Files: map[string]string{"rope.gguf": pushBlob(t, c, path)},
			Parameters: map[string]any{"num_thread": 1}})
		ref := loadT(t, path, LoadOptions{F16KV: true})
		fast := loadT(t, path, LoadOptions{})
		for _, p := range []string{"Once upon a time", "Lily and Tom went to the park."} {
			seq, want := ollamaGenerate(t, c, ref, v.name, p, 40)
			got, err := ref.LogProbs([]Sequence{seq})
			if err != nil {
				t.Fatal(err)
			}
			comparePerToken(t, v.name+" "+p, got[0], want, 1e-3, 1e-4)
			gf, err := fast.LogProbs([]Sequence{seq})
			if err != nil {
				t.Fatal(err)
			}
			comparePerToken(t, v.name+" "+p+" (training path)", gf[0], want, 0.1, 2e-2)
		}
	}
}
