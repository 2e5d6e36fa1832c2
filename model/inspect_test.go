package model

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// TestInspectAgreesWithLoad: Inspect accepts what Load accepts, and for every kind of bad file
// its Reason is Load's own error (the same checks, run once in the loader).
func TestInspectAgreesWithLoad(t *testing.T) {
	info, err := Inspect(storiesPath)
	if err != nil {
		t.Fatal(err)
	}
	m := loadT(t, storiesPath, LoadOptions{})
	if !info.Trainable() || info.Arch != "llama" || info.ContextLen != 512 || info.FileType != "F32" {
		t.Fatalf("stories260K: %+v", info)
	}
	if c := m.Config(); info.Config.Dim != c.Dim || info.Config.Layers != c.Layers || info.Config.Vocab != c.Vocab || info.Config.FFN != c.FFN {
		t.Fatalf("Inspect's config %+v, Load's %+v", info.Config, c)
	}
	var params int64
	for _, p := range m.allWeights() {
		params += int64(len(p.Data))
	}
	if info.Params != params {
		t.Fatalf("Inspect counts %d parameters, Load holds %d", info.Params, params)
	}

	arch := func(name string) func(ggml.KV) {
		return func(kv ggml.KV) {
			for k, v := range kv {
				if strings.HasPrefix(k, "llama.") {
					kv[name+"."+strings.TrimPrefix(k, "llama.")] = v
				}
			}
			kv["general.architecture"] = name
		}
	}
	for _, c := range []struct {
		name string
		edit func(ggml.KV)
		typ  kernels.GGMLType
		want []string
	}{
		{"unsupported type", func(ggml.KV) {}, kernels.GGMLType(39), []string{"token_embd.weight", "MXFP4"}},
		{"unknown architecture", arch("mamba"), kernels.TypeF32, []string{`unsupported architecture "mamba"`}},
		{"missing tensor", func(kv ggml.KV) { kv["llama.block_count"] = uint32(6) }, kernels.TypeF32, []string{"blk.5.attn_norm.weight missing"}},
		{"wrong shape", func(kv ggml.KV) { kv["llama.feed_forward_length"] = uint32(171) }, kernels.TypeF32, []string{"blk.0.ffn_gate.weight", "shape"}},
	} {
		path := writeVariant(t, c.edit, c.typ)
		info, err := Inspect(path)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, lerr := Load(path, LoadOptions{})
		if lerr == nil || info.Trainable() {
			t.Fatalf("%s: Load error %v, Inspect reason %q", c.name, lerr, info.Reason)
		}
		if !strings.HasSuffix(lerr.Error(), ": "+info.Reason) {
			t.Errorf("%s: Inspect says %q, Load %q", c.name, info.Reason, lerr)
		}
		for _, w := range c.want {
			if !strings.Contains(info.Reason, w) {
				t.Errorf("%s: reason %q does not mention %q", c.name, info.Reason, w)
			}
		}
	}
	// A truncated file is a reason, not a failure of Inspect; a missing file is an error.
	if _, err := Inspect(storiesPath + ".nope"); err == nil {
		t.Error("a missing file inspected")
	}
}

// TestEstimateMemoryParts checks the estimate's parts against what loaded models really hold
// (Model.WeightBytes, the LoRA parameters), and its activations against the formula of
// docs/model.md worked out here for stories260K's shape.
func TestEstimateMemoryParts(t *testing.T) {
	for _, typ := range []kernels.GGMLType{kernels.TypeQ4_K, kernels.TypeQ3_K} {
		path := writeQuantModel(t, typ)
		info, err := Inspect(path)
		if err != nil || !info.Trainable() {
			t.Fatalf("%s: %v %q", typ, err, info.Reason)
		}
		plan := MemoryPlan{Tokens: 64, LoRARank: 4, Reference: true}
		// dense (--dense), resident (the default for a quantized file), low memory.
		for _, mode := range []struct{ dense, low bool }{{true, false}, {false, false}, {false, true}} {
			plan.Dense, plan.LowMemory = mode.dense, mode.low
			e, err := info.EstimateMemory(plan)
			if err != nil {
				t.Fatal(err)
			}
			m := loadT(t, path, LoadOptions{Dense: mode.dense, LowMemory: mode.low, LoRA: &LoRAConfig{Rank: 4}})
			want := m.WeightBytes() // resident weights decode into SgemmQ's packed panels: no tile
			if e.Weights != want || e.Reference != e.Weights {
				t.Errorf("%s %+v: weights %d, reference %d; the loaded model holds %d", typ, mode, e.Weights, e.Reference, want)
			}
			var lora int64
			for _, p := range m.Params() {
				lora += int64(len(p.Data))
			}
			if e.Optimizer != 16*lora {
				t.Errorf("%s: optimizer %d bytes for %d LoRA values, want 16 each", typ, e.Optimizer, lora)
			}
		}
	}

	info, err := Inspect(storiesPath)
	if err != nil {
		t.Fatal(err)
	}
	// stories260K: 5 layers, dim 64, ffn 172, 8 heads and 4 kv heads of 8, vocab 512. DPO at 8
	// pairs of 96 tokens: T = 1536; LoRA r 8 on q, v.
	const T, L, D, F, Q, K, V, r = 1536, 5, 64, 172, 64, 32, 512, 8
	block := T * (2 + 2*Q + 2*K + D + 2*F)
	adapters := 2 * r * T
	kept := L*T*D + L*(block+adapters)
	work := T*(D+F) + T*(5*D+2*Q+2*K+3*F) + 4*T*D + 2*T*F + 64*(V+3*D)
	e, err := info.EstimateMemory(MemoryPlan{Tokens: T, LoRARank: r, Targets: []string{"q_proj", "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(4 * (kept + work + T*V)); e.Activations != want { // + the kept logits
		t.Errorf("activations %d, want %d", e.Activations, want)
	}
	if want := int64(16 * L * r * ((D + Q) + (D + K))); e.Optimizer != want {
		t.Errorf("optimizer %d, want %d", e.Optimizer, want)
	}
	if e.Reference != 0 || e.Total != e.Weights+e.Activations+e.Optimizer+e.Runtime {
		t.Errorf("parts do not add up: %+v", e)
	}
	// Recompute keeps one block's activations instead of five, and no logits.
	rc, err := info.EstimateMemory(MemoryPlan{Tokens: T, LoRARank: r, Targets: []string{"q", "v"}, Recompute: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := e.Activations - rc.Activations; d != 4*int64((L-1)*(block+adapters)+T*V) {
		t.Errorf("recompute saves %d bytes, want %d (four blocks' activations and the kept logits)", d, 4*((L-1)*(block+adapters)+T*V))
	}
	if _, err := info.EstimateMemory(MemoryPlan{Tokens: T, LoRARank: r, Targets: []string{"lm_head"}}); err == nil {
		t.Error("an unknown LoRA target estimated")
	}
}

// TestInspectArchitectures: Inspect accepts every random-architecture file the parity tests
// serve (phi3's fused projections included), with Load's configuration and parameter count,
// and estimates memory for each; a Q8_0 copy counts its projections' encoded bytes.
func TestInspectArchitectures(t *testing.T) {
	type file struct {
		name  string
		write func(t *testing.T, typ kernels.GGMLType) string
	}
	var files []file
	for _, a := range randomArchs() {
		files = append(files, file{a.name, func(t *testing.T, typ kernels.GGMLType) string { return writeRandomT(t, a.spec, typ) }})
	}
	for _, arch := range []string{"gemma2", "gemma3"} { // post-norms; gemma3's QK-norm
		files = append(files, file{arch, func(t *testing.T, typ kernels.GGMLType) string {
			r := randomGemma(arch)
			r.Type = typ
			path := filepath.Join(t.TempDir(), arch+".gguf")
			if err := r.Write(path); err != nil {
				t.Fatal(err)
			}
			return path
		}})
	}
	for _, a := range files {
		for _, typ := range []kernels.GGMLType{kernels.TypeF32, kernels.TypeQ8_0} {
			path := a.write(t, typ)
			info, err := Inspect(path)
			if err != nil || !info.Trainable() {
				t.Fatalf("%s %s: %v %q", a.name, typ, err, info.Reason)
			}
			m := loadT(t, path, LoadOptions{Dense: true}) // every weight as float32, to count them
			var n, held int64                             // the file's tensors; the weights Load holds (no rope factors)
			for _, ti := range m.tensors {
				e := int64(1)
				for _, d := range ti.shape {
					e *= int64(d)
				}
				n += e
			}
			for _, p := range m.allWeights() {
				held += int64(len(p.Data))
			}
			if held > n || held < n-int64(m.cfg.RopeDim) {
				t.Errorf("%s %s: the file has %d values, Load holds %d weights", a.name, typ, n, held)
			}
			if info.Params != n || info.Arch != m.cfg.Arch || info.Config.Dim != m.cfg.Dim || info.Config.QKNorm != m.cfg.QKNorm {
				t.Errorf("%s %s: Inspect %d parameters, arch %s; Load %d, %s", a.name, typ, info.Params, info.Arch, n, m.cfg.Arch)
			}
			e, err := info.EstimateMemory(MemoryPlan{Tokens: 128, LoRARank: 4, Dense: true})
			if err != nil || e.Weights != m.WeightBytes() {
				t.Errorf("%s %s: estimate %d weight bytes (%v), the loaded weights hold %d bytes", a.name, typ, e.Weights, err, m.WeightBytes())
			}
			mr := loadT(t, path, LoadOptions{LoRA: &LoRAConfig{Rank: 4}}) // resident when quantized
			if e, err := info.EstimateMemory(MemoryPlan{Tokens: 128, LoRARank: 4}); err != nil || e.Weights != mr.WeightBytes() {
				t.Errorf("%s %s resident: estimate %d weight bytes (%v), the loaded weights hold %d bytes", a.name, typ, e.Weights, err, mr.WeightBytes())
			}
		}
	}
}
