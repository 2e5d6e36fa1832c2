package model

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// loraStories loads stories260K with LoRA on all targets and a random B, so that the adapted
// model differs visibly from the base.
func loraStories(t *testing.T, opt LoadOptions) *Model {
	t.Helper()
	opt.LoRA = &LoRAConfig{Rank: 4, Alpha: 8, Seed: 9}
	m := loadT(t, storiesPath, opt)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, l := range m.loraLinears() {
		for i := range l.lora.b.Data {
			l.lora.b.Data[i] = float32(0.1 * rng.NormFloat64())
		}
	}
	return m
}

func scoreText(t *testing.T, m *Model, prompt, response string) []float32 {
	t.Helper()
	seq, err := m.Encode([]Message{{Role: "user", Content: prompt}}, []Message{{Role: "assistant", Content: response}})
	if err != nil {
		t.Fatal(err)
	}
	lp, err := m.LogProbs([]Sequence{seq})
	if err != nil {
		t.Fatal(err)
	}
	return lp[0]
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func TestMergedGGUFRoundTrip(t *testing.T) {
	m := loraStories(t, LoadOptions{})
	base := loadT(t, storiesPath, LoadOptions{})
	const p, r = "Once upon a time", ", there was a little girl named Lily."
	want := scoreText(t, m, p, r)
	if d := maxAbsDiff(want, scoreText(t, base, p, r)); d < 1e-2 {
		t.Fatalf("the random adapter changes log-probs by only %g: the test would prove nothing", d)
	}
	for _, typ := range []kernels.GGMLType{kernels.TypeF32, kernels.TypeF16, kernels.TypeQ8_0} {
		path := filepath.Join(t.TempDir(), "merged.gguf")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.WriteMergedGGUF(f, typ); err != nil {
			t.Fatal(err)
		}
		f.Close()
		mm := loadT(t, path, LoadOptions{})
		for k := range base.kv {
			if _, ok := mm.kv[k]; !ok {
				t.Errorf("%s: metadata key %s lost", typ, k)
			}
		}
		if got := mm.kv.Uint("general.file_type"); got != fileTypeOf(typ) {
			t.Errorf("%s: general.file_type %d", typ, got)
		}
		// Each merged weight equals W + (alpha/r)·B·A up to the export type's rounding.
		rel := map[kernels.GGMLType]float64{kernels.TypeF32: 1e-6, kernels.TypeF16: 1e-3, kernels.TypeQ8_0: 1.0 / 120}[typ]
		for i := range m.blocks {
			for j, l := range m.blocks[i].linears() {
				want, got := m.mergedWeight(l), mm.blocks[i].linears()[j].w.Data
				var wmax float64
				for _, v := range want {
					wmax = max(wmax, math.Abs(float64(v)))
				}
				if d := maxAbsDiff(got, want); d > rel*wmax {
					t.Errorf("%s: %s differs from the merged weight by %g (max |w| %g)", typ, l.w.Name, d, wmax)
				}
			}
		}
		// And the scores follow (Q8_0 moves this tiny model's log-probs by up to ~0.3). F32 differs
		// only by float32 reassociation, W·x + B·(A·x) against (W + B·A)·x: up to 1.4e-5 on the
		// AVX2 path.
		tol := map[kernels.GGMLType]float64{kernels.TypeF32: 3e-5, kernels.TypeF16: 1e-2, kernels.TypeQ8_0: 0.5}[typ]
		if d := maxAbsDiff(scoreText(t, mm, p, r), want); d > tol {
			t.Errorf("%s: merged model's log-probs differ from the adapted model's by %g > %g", typ, d, tol)
		}
	}
}

func TestAdapterGGUFFormat(t *testing.T) {
	m := loraStories(t, LoadOptions{})
	path := filepath.Join(t.TempDir(), "adapter.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WriteAdapterGGUF(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, _ = os.Open(path)
	defer f.Close()
	g, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	kv := g.KV()
	if kv["general.type"] != "adapter" || kv["adapter.type"] != "lora" || kv["adapter.lora.alpha"] != float32(8) || kv["general.architecture"] != "llama" {
		t.Fatalf("adapter keys: %v", kv)
	}
	ts := map[string]*ggml.Tensor{}
	for _, x := range g.Tensors().Items() {
		ts[x.Name] = x
	}
	if len(ts) != 5*7*2 {
		t.Fatalf("%d tensors, want 70", len(ts))
	}
	a, b := ts["blk.0.ffn_down.weight.lora_a"], ts["blk.0.ffn_down.weight.lora_b"]
	if a == nil || b == nil {
		t.Fatal("blk.0.ffn_down.weight.lora_a/lora_b missing")
	}
	// ffn_down maps 172 → 64: lora_a [n_in=172, r=4], lora_b [r=4, n_out=64] in ggml order.
	if a.Shape[0] != 172 || a.Shape[1] != 4 || b.Shape[0] != 4 || b.Shape[1] != 64 || a.Kind != 0 {
		t.Fatalf("shapes a %v b %v kind %d", a.Shape, b.Shape, a.Kind)
	}
}

func TestPEFTExport(t *testing.T) {
	m := loraStories(t, LoadOptions{})
	dir := t.TempDir()
	if err := m.WritePEFT(dir); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	cj, _ := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	if err := json.Unmarshal(cj, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["r"].(float64) != 4 || cfg["lora_alpha"].(float64) != 8 || len(cfg["target_modules"].([]any)) != 7 {
		t.Fatalf("adapter_config %v", cfg)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "adapter_model.safetensors"))
	n := binary.LittleEndian.Uint64(raw)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	var e struct {
		Shape   []int `json:"shape"`
		Offsets []int `json:"data_offsets"`
	}
	if err := json.Unmarshal(hdr["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"], &e); err != nil {
		t.Fatal(err)
	}
	if e.Shape[0] != 64 || e.Shape[1] != 4 {
		t.Fatalf("q_proj lora_B shape %v", e.Shape)
	}
	data := raw[8+n:]
	hfB := make([]float32, 64*4)
	for i := range hfB {
		hfB[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[e.Offsets[0]+4*i:]))
	}
	// HF → GGUF permutation (convert_hf_to_gguf: reshape(heads, 2, hd/2, ...).swapaxes(1, 2))
	// applied to the exported B must give the engine's B back.
	gg := m.blocks[0].q.lora.b.Data
	hd := m.cfg.HeadDim
	for h := 0; h < m.cfg.Heads; h++ {
		for i := 0; i < hd/2; i++ {
			for j := 0; j < 2; j++ {
				for c := 0; c < 4; c++ {
					if hfB[(h*hd+j*hd/2+i)*4+c] != gg[(h*hd+2*i+j)*4+c] {
						t.Fatalf("q lora_B row permutation wrong at head %d i %d j %d", h, i, j)
					}
				}
			}
		}
	}
	if _, ok := hdr["base_model.model.model.layers.4.mlp.down_proj.lora_A.weight"]; !ok {
		t.Fatal("layers.4.mlp.down_proj.lora_A missing")
	}
}

func TestSaveLoadAdapter(t *testing.T) {
	m := loraStories(t, LoadOptions{})
	var buf bytes.Buffer
	if err := m.SaveAdapter(&buf); err != nil {
		t.Fatal(err)
	}
	m2 := loadT(t, storiesPath, LoadOptions{LoRA: &LoRAConfig{Rank: 4, Alpha: 8, Seed: 1}})
	if err := m2.LoadAdapter(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	const p, r = "Once", " upon a time"
	if d := maxAbsDiff(scoreText(t, m, p, r), scoreText(t, m2, p, r)); d != 0 {
		t.Fatalf("reloaded adapter scores differ by %g", d)
	}
	m3 := loadT(t, storiesPath, LoadOptions{LoRA: &LoRAConfig{Rank: 2, Alpha: 8}})
	if err := m3.LoadAdapter(bytes.NewReader(buf.Bytes())); err == nil {
		t.Fatal("loading a rank-4 adapter into a rank-2 model succeeded")
	}
}

// pushBlob uploads a file to the server's blob store and returns its digest.
func pushBlob(t *testing.T, c *api.Client, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.CreateBlob(ctx, digest, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return digest
}

func ollamaCreate(t *testing.T, c *api.Client, req *api.CreateRequest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream := false
	req.Stream = &stream
	if err := c.Create(ctx, req, func(api.ProgressResponse) error { return nil }); err != nil {
		t.Fatalf("ollama create %s: %v", req.Model, err)
	}
	t.Cleanup(func() {
		_ = c.Delete(context.Background(), &api.DeleteRequest{Model: req.Model})
	})
}

// TestOllamaRoundTrip: a merged GGUF and an adapter GGUF written by align load in the real
// Ollama and generate; Ollama's log-probs for the merged model match align's scoring of the
// merged weights, and the base+adapter model matches them too.
func TestOllamaRoundTrip(t *testing.T) {
	c := ollamaClient(t)
	m := loraStories(t, LoadOptions{})
	dir := t.TempDir()
	merged, adapter := filepath.Join(dir, "merged.gguf"), filepath.Join(dir, "adapter.gguf")
	for _, x := range []struct {
		path  string
		write func(f *os.File) error
	}{
		{merged, func(f *os.File) error { return m.WriteMergedGGUF(f, kernels.TypeF32) }},
		{adapter, func(f *os.File) error { return m.WriteAdapterGGUF(f) }},
	} {
		f, err := os.Create(x.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.write(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	ollamaCreate(t, c, &api.CreateRequest{Model: "align-test-merged", Files: map[string]string{"merged.gguf": pushBlob(t, c, merged)}})
	baseDigest := pushBlob(t, c, storiesPath)
	ollamaCreate(t, c, &api.CreateRequest{Model: "align-test-adapter", Files: map[string]string{"stories260K.gguf": baseDigest},
		Adapters: map[string]string{"adapter.gguf": pushBlob(t, c, adapter)}})

	scorer := loadT(t, merged, LoadOptions{F16KV: true})
	base := loadT(t, storiesPath, LoadOptions{F16KV: true})
	for _, name := range []string{"align-test-merged", "align-test-adapter"} {
		seq, want := ollamaGenerate(t, c, scorer, name, "Once upon a time", 24)
		got, err := scorer.LogProbs([]Sequence{seq})
		if err != nil {
			t.Fatal(err)
		}
		comparePerToken(t, name, got[0], want, 1e-3, 3e-4)
		// The adapter must have an effect: the base model scores these tokens differently.
		gb, _ := base.LogProbs([]Sequence{seq})
		if d := maxAbsDiff(gb[0], got[0]); d < 1e-2 {
			t.Errorf("%s: base and adapted scores differ by only %g: adapter not applied?", name, d)
		}
	}
}

// TestMergedKeepsUnknownTensors: tensors the engine does not use (here rope_freqs.weight and
// an arbitrary extra one) are copied byte for byte into a merged GGUF.
func TestMergedKeepsUnknownTensors(t *testing.T) {
	extra := []float32{3, 1, 4, 1, 5, 9, 2, 6}
	src := writeRopeVariant(t, nil, []float32{1, 2, 4, 8},
		&ggml.Tensor{Name: "extra.weight", Kind: uint32(kernels.TypeF32), Shape: []uint64{8}, WriterTo: f32Tensor(kernels.TypeF32, extra)})
	m := loadT(t, src, LoadOptions{})
	path := filepath.Join(t.TempDir(), "merged.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WriteMergedGGUF(f, kernels.TypeF32); err != nil {
		t.Fatalf("export with two tensors the engine does not use: %v", err)
	}
	f.Close()
	mm := loadT(t, path, LoadOptions{})
	if got := mm.cfg.RopeFreqs; fmt.Sprint(got) != "[1 2 4 8]" {
		t.Errorf("rope_freqs after export: %v", got)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	g, err := ggml.Decode(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := mm.rawTensor(r, g, tensorInfo{name: "extra.weight"})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range extra {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != v {
			t.Errorf("extra.weight[%d] = %g, want %g", i, got, v)
		}
	}
}

// TestTensorWriterChunks: tensorWriter encodes in chunks of encodeChunk values and writes a
// fused tensor's parts back to back; its bytes must be those of the whole concatenated tensor
// encoded in one call of the kernels' encoders, for every type it writes, with a piece that
// spans several chunks and ends inside one.
func TestTensorWriterChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	row := 512
	pieces := [][]float32{make([]float32, row*(encodeChunk/row*2+3)), make([]float32, row*7), make([]float32, row)}
	var whole []float32
	for _, p := range pieces {
		for i := range p {
			p[i] = float32(rng.NormFloat64())
		}
		whole = append(whole, p...)
	}
	for _, typ := range []kernels.GGMLType{kernels.TypeF32, kernels.TypeF16, kernels.TypeQ8_0, kernels.TypeQ4_K} {
		var want []byte
		switch typ {
		case kernels.TypeF32:
			want = make([]byte, 4*len(whole))
			for i, v := range whole {
				binary.LittleEndian.PutUint32(want[4*i:], math.Float32bits(v))
			}
		case kernels.TypeF16:
			want = make([]byte, 2*len(whole))
			kernels.QuantizeF16(want, whole)
		case kernels.TypeQ8_0:
			want = make([]byte, len(whole)/32*34)
			if err := kernels.QuantizeQ8_0(want, whole); err != nil {
				t.Fatal(err)
			}
		case kernels.TypeQ4_K:
			want = make([]byte, len(whole)/256*144)
			if err := kernels.QuantizeQ4K(want, whole); err != nil {
				t.Fatal(err)
			}
		}
		var got bytes.Buffer
		n, err := f32Tensor(typ, pieces...).WriteTo(&got)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: %d bytes written, differ from the whole tensor's %d-byte encoding", typ, n, len(want))
		}
	}
	if _, err := f32Tensor(kernels.TypeQ4_0, whole).WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("Q4_0: no error for a type the writer cannot encode")
	}
}

// TestReadTensorChunks: readTensor reads and decodes readChunk values at a time; a tensor of
// two chunks and a ragged last one must decode to kernels.Dequantize of its whole bytes, read in
// one piece from the file, for F32, F16, Q8_0 and Q4_K, and a file cut inside the last chunk
// must name the tensor.
func TestReadTensorChunks(t *testing.T) {
	rows, cols := (2*readChunk+3*256)/512, 512
	data := make([]float32, rows*cols)
	rng := rand.New(rand.NewPCG(8, 9))
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	for _, typ := range []kernels.GGMLType{kernels.TypeF32, kernels.TypeF16, kernels.TypeQ8_0, kernels.TypeQ4_K} {
		path := filepath.Join(t.TempDir(), "one.gguf")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		ts := []*ggml.Tensor{{Name: "w.weight", Kind: uint32(typ), Shape: []uint64{uint64(cols), uint64(rows)}, WriterTo: f32Tensor(typ, data)}}
		if err := ggml.WriteGGUF(f, ggml.KV{"general.architecture": "llama"}, ts); err != nil {
			t.Fatal(err)
		}
		f.Close()
		f, err = os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		g, err := ggml.Decode(f, -1)
		if err != nil {
			t.Fatal(err)
		}
		base, tt := int64(g.Tensors().Offset), g.Tensors().Items()[0]
		raw := make([]byte, tt.Size())
		if _, err := f.ReadAt(raw, base+int64(tt.Offset)); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(data))
		if err := kernels.Dequantize(typ, want, raw); err != nil {
			t.Fatal(err)
		}
		p, err := readTensor(f, base, tt, [2]int{rows, cols})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		for i := range want {
			if math.Float32bits(p.Data[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: value %d: %g, the whole tensor's decoding %g", typ, i, p.Data[i], want[i])
			}
		}
		f.Close()
		st, _ := os.Stat(path)
		if err := os.Truncate(path, st.Size()-10); err != nil {
			t.Fatal(err)
		}
		f, _ = os.Open(path)
		if _, err := readTensor(f, base, tt, [2]int{rows, cols}); err == nil || !strings.Contains(err.Error(), "w.weight") {
			t.Errorf("%s: a file cut inside the tensor: %v, want an error naming it", typ, err)
		}
		f.Close()
	}
}
