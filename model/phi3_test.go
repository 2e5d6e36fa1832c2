package model

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/alignkit/align/kernels"
)

// TestGradientsPhi3: phi3's split q, k, v / gate, up projections (every one a LoRA target)
// and longrope's frequency factors and attn_factor, against the float64 reference; full
// fine-tuning too.
func TestGradientsPhi3(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	m, err := NewRandom(tinyConfig("phi3"), 23, LoadOptions{Threads: 2, LoRA: &LoRAConfig{Rank: 3, Alpha: 6, Seed: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Params()) != 2*7*2 {
		t.Fatalf("%d LoRA params, want 28 (q, k, v, o, gate, up, down per block)", len(m.Params()))
	}
	checkGrads(t, m, tinySeqs(rng, m.cfg.Vocab), rng)
	m, err = NewRandom(tinyConfig("phi3"), 24, LoadOptions{Threads: 2, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		if len(p.Shape) == 2 {
			for i := range p.Data {
				p.Data[i] *= 10
			}
		}
	}
	checkGrads(t, m, tinySeqs(rng, m.cfg.Vocab), rng)
}

// readGGUFTensor returns a tensor of a GGUF as float32 with its ggml shape.
func readGGUFTensor(t *testing.T, path, name string) ([]float32, []uint64) {
	t.Helper()
	g, f := decodeGGUF(t, path)
	for _, tt := range g.Tensors().Items() {
		if tt.Name == name {
			raw := make([]byte, tt.Size())
			if _, err := f.ReadAt(raw, int64(g.Tensors().Offset+tt.Offset)); err != nil {
				t.Fatal(err)
			}
			out := make([]float32, tt.Elements())
			if err := kernels.Dequantize(kernels.GGMLType(tt.Kind), out, raw); err != nil {
				t.Fatal(err)
			}
			return out, tt.Shape
		}
	}
	t.Fatalf("%s: no tensor %s", path, name)
	return nil, nil
}

// TestPhi3FusedExport: a phi3 file's fused attn_qkv and ffn_up load as q, k, v and gate, up
// (the rows of the file's tensors); the merged export writes them fused again with every
// part's LoRA folded in; and the adapter export's fused pair, scaled as llama.cpp scales it
// (alpha / its rank), equals the sum of the parts' adapters on their rows and zero elsewhere.
func TestPhi3FusedExport(t *testing.T) {
	var spec randomArch
	for _, ra := range randomArchs() {
		if ra.name == "align-rnd-phi3" {
			spec = ra
		}
	}
	src := writeRandomT(t, spec.spec, kernels.TypeF32)
	m := loadT(t, src, LoadOptions{LoRA: &LoRAConfig{Rank: 2, Alpha: 4, Seed: 9, Targets: []string{"q", "v", "gate", "up", "o"}}})
	c := m.Config()
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	qkv, _ := readGGUFTensor(t, src, "blk.1.attn_qkv.weight")
	b := &m.blocks[1]
	for i, want := range qkv[(qDim+kvDim)*c.Dim:] {
		if b.v.w.Data[i] != want {
			t.Fatalf("attn_v row-major element %d = %g, the file's attn_qkv has %g", i, b.v.w.Data[i], want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, p := range m.Params() {
		for i := range p.Data {
			p.Data[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	dir := t.TempDir()
	merged, adapter := dir+"/merged.gguf", dir+"/adapter.gguf"
	for path, write := range map[string]func(*os.File) error{
		merged:  func(f *os.File) error { return m.WriteMergedGGUF(f, kernels.TypeF32) },
		adapter: func(f *os.File) error { return m.WriteAdapterGGUF(f) },
	} {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := write(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	// delta[r][i] = alpha/rank · Σ_k B[r][k]·A[k][i], computed plainly per part.
	delta := func(l *linear) []float64 {
		d := make([]float64, l.out*l.in)
		for r := 0; r < l.out; r++ {
			for i := 0; i < l.in; i++ {
				for k := 0; k < l.lora.rank; k++ {
					d[r*l.in+i] += float64(l.lora.scale) * float64(l.lora.b.Data[r*l.lora.rank+k]) * float64(l.lora.a.Data[k*l.in+i])
				}
			}
		}
		return d
	}
	mq, _ := readGGUFTensor(t, merged, "blk.1.attn_qkv.weight")
	aa, ashape := readGGUFTensor(t, adapter, "blk.1.attn_qkv.weight.lora_a")
	ab, bshape := readGGUFTensor(t, adapter, "blk.1.attn_qkv.weight.lora_b")
	rank := int(ashape[1])
	if rank != 4 || int(bshape[0]) != rank || int(bshape[1]) != qDim+2*kvDim {
		t.Fatalf("fused adapter shapes %v, %v: want [%d 4], [4 %d] (q and v adapted, rank 2 each)", ashape, bshape, c.Dim, qDim+2*kvDim)
	}
	alpha := float64(4)
	parts := []struct {
		l   *linear
		off int
	}{{&b.q, 0}, {&b.k, qDim}, {&b.v, qDim + kvDim}}
	for _, p := range parts {
		var d []float64
		if p.l.lora != nil {
			d = delta(p.l)
		}
		for r := 0; r < p.l.out; r++ {
			for i := 0; i < c.Dim; i++ {
				want := 0.0
				if d != nil {
					want = d[r*c.Dim+i]
				}
				var got float64
				for k := 0; k < rank; k++ {
					got += float64(ab[(p.off+r)*rank+k]) * float64(aa[k*c.Dim+i])
				}
				got *= alpha / float64(rank)
				if math.Abs(got-want) > 1e-5 {
					t.Fatalf("%s row %d col %d: fused adapter gives %g, the part's adapter %g", p.l.target, r, i, got, want)
				}
				wantMerged := float64(qkv[(p.off+r)*c.Dim+i]) + want
				if math.Abs(float64(mq[(p.off+r)*c.Dim+i])-wantMerged) > 1e-5 {
					t.Fatalf("%s row %d col %d: merged %g, want %g", p.l.target, r, i, mq[(p.off+r)*c.Dim+i], wantMerged)
				}
			}
		}
	}
	mm := loadT(t, merged, LoadOptions{})
	if mm.Config().Arch != "phi3" {
		t.Fatalf("merged export reloads as %q", mm.Config().Arch)
	}
}
