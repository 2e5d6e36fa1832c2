package model

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// quantLayout is a ggml block type's geometry, for writing random but valid blocks: elements
// and bytes per block, and where its f16 scales sit (with the magnitude to give them).
type quantLayout struct {
	elems, bytes int
	f16At        []int
	scale        float32
}

var quantLayouts = map[kernels.GGMLType]quantLayout{
	kernels.TypeQ4_0: {32, 18, []int{0}, 0.01},        // w = d·(q−8)
	kernels.TypeQ4_1: {32, 20, []int{0, 2}, 0.005},    // w = d·q + m (m set like d: small positive)
	kernels.TypeQ5_0: {32, 22, []int{0}, 0.005},       // w = d·(q−16)
	kernels.TypeQ5_1: {32, 24, []int{0, 2}, 0.003},    // w = d·q + m
	kernels.TypeQ2_K: {256, 84, []int{80, 82}, 2e-3},  // w = d·sc·q − dmin·m, 4-bit sc, m
	kernels.TypeQ3_K: {256, 110, []int{108}, 2e-4},    // w = d·(sc−32)·q, 6-bit sc, q in [−4, 3]
	kernels.TypeQ8_0: {32, 34, []int{0}, 0.002},       // w = d·q, q int8
	kernels.TypeQ4_K: {256, 144, []int{0, 2}, 1.5e-4}, // w = d·sc·q − dmin·m, 6-bit sc, m
	kernels.TypeQ5_K: {256, 176, []int{0, 2}, 1e-4},
	kernels.TypeQ6_K: {256, 210, []int{208}, 1e-5}, // w = d·sc·(q−32), sc int8
}

// randomQuantRows returns rows×cols weights of type typ: random quant bytes, with every f16
// scale set to a sane positive value (random bytes there could be NaN or huge).
func randomQuantRows(rng *rand.Rand, typ kernels.GGMLType, rows, cols int) []byte {
	if typ == kernels.TypeBF16 || typ == kernels.TypeF16 { // plain floats: encode random normals
		w := make([]float32, rows*cols)
		for i := range w {
			w[i] = float32(0.05 * rng.NormFloat64())
		}
		b := make([]byte, 2*len(w))
		if typ == kernels.TypeBF16 {
			kernels.QuantizeBF16(b, w)
		} else {
			kernels.QuantizeF16(b, w)
		}
		return b
	}
	ql := quantLayouts[typ]
	nb := rows * cols / ql.elems
	b := make([]byte, nb*ql.bytes)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for k := 0; k < nb; k++ {
		for _, at := range ql.f16At {
			v := ql.scale * float32(0.5+rng.Float64())
			binary.LittleEndian.PutUint16(b[k*ql.bytes+at:], kernels.F32ToF16(v))
		}
	}
	return b
}

// writeQuantModel writes a 2-block llama GGUF with stories260K's tokenizer and dims that the
// k-quants allow (256, ffn 512, 4 heads of 64, 2 kv heads), whose seven projections are of
// type typ with random valid blocks; embeddings, norms and the head are F32.
func writeQuantModel(t *testing.T, typ kernels.GGMLType) string {
	t.Helper()
	return writeQuantModelWith(t, typ, false, false)
}

// writeQuantModelWith is writeQuantModel with token_embd and output also of type typ when
// tables is set, and without output.weight (the head tied to the embeddings) when tied is.
func writeQuantModelWith(t *testing.T, typ kernels.GGMLType, tables, tied bool) string {
	t.Helper()
	src := loadT(t, storiesPath, LoadOptions{})
	const D, F, H, KV, L = 256, 512, 4, 2, 2
	V := src.cfg.Vocab
	kv := ggml.KV{}
	for k, v := range src.kv {
		kv[k] = widenKV(v)
	}
	for k, v := range map[string]uint32{"block_count": L, "embedding_length": D, "feed_forward_length": F,
		"attention.head_count": H, "attention.head_count_kv": KV, "rope.dimension_count": D / H} {
		kv["llama."+k] = v
	}
	rng := rand.New(rand.NewPCG(uint64(typ), 77))
	f32 := func(name string, shape []uint64, scale, mean float64) *ggml.Tensor {
		n := 1
		for _, s := range shape {
			n *= int(s)
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(mean + scale*rng.NormFloat64())
		}
		return &ggml.Tensor{Name: name, Kind: uint32(kernels.TypeF32), Shape: shape, WriterTo: f32Tensor(kernels.TypeF32, d)}
	}
	table := func(name string, scale float64) *ggml.Tensor {
		if !tables {
			return f32(name, []uint64{D, uint64(V)}, scale, 0)
		}
		return &ggml.Tensor{Name: name, Kind: uint32(typ), Shape: []uint64{D, uint64(V)}, WriterTo: tensorWriter{raw: randomQuantRows(rng, typ, V, D)}}
	}
	ts := []*ggml.Tensor{table("token_embd.weight", 0.5), f32("output_norm.weight", []uint64{D}, 0.1, 1)}
	if !tied {
		ts = append(ts, table("output.weight", 0.05))
	}
	for l := 0; l < L; l++ {
		p := "blk." + string(rune('0'+l)) + "."
		ts = append(ts, f32(p+"attn_norm.weight", []uint64{D}, 0.1, 1), f32(p+"ffn_norm.weight", []uint64{D}, 0.1, 1))
		for _, w := range []struct {
			name    string
			in, out int
		}{{"attn_q", D, D}, {"attn_k", D, D / H * KV}, {"attn_v", D, D / H * KV}, {"attn_output", D, D}, {"ffn_gate", D, F}, {"ffn_up", D, F}, {"ffn_down", F, D}} {
			ts = append(ts, &ggml.Tensor{Name: p + w.name + ".weight", Kind: uint32(typ), Shape: []uint64{uint64(w.in), uint64(w.out)},
				WriterTo: tensorWriter{raw: randomQuantRows(rng, typ, w.out, w.in)}})
		}
	}
	path := filepath.Join(t.TempDir(), "quant.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ggml.WriteGGUF(f, kv, ts); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLowMemoryQuantized: LowMemory on files of every quantized type (random valid blocks)
// score and train bit-identically to the dequantize-at-load path, at any thread count.
func TestLowMemoryQuantized(t *testing.T) {
	var types []kernels.GGMLType
	for _, typ := range kernels.SupportedTypes() {
		if _, ok := quantLayouts[typ]; ok {
			types = append(types, typ)
		} else if el, _ := kernels.BlockSize(typ); el > 1 {
			t.Errorf("%s: a quantized type without a layout here, so untested", typ)
		}
	}
	for _, typ := range types {
		t.Run(typ.String(), func(t *testing.T) {
			path := writeQuantModel(t, typ)
			m := loadT(t, path, LoadOptions{Dense: true})
			w := m.blocks[0].q.w.Data
			if slices.ContainsFunc(w, func(v float32) bool { return v != v || v > 10 || v < -10 }) {
				t.Fatalf("%s: dequantized weights out of range", typ)
			}
			checkLowMemory(t, typ, path)
		})
	}
}
