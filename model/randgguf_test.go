package model

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/alignkit/align/kernels"
)

// TestRandomGGUFLoads: every random architecture file loads back with its shape, its weights
// (F32 exactly), its vocabulary (text round trip, special tokens parsed) and its chat
// template's end-of-turn token.
func TestRandomGGUFLoads(t *testing.T) {
	for _, ra := range randomArchs() {
		path := writeRandomT(t, ra.spec, kernels.TypeF32)
		m := loadT(t, path, LoadOptions{})
		c, want := m.Config(), ra.spec.Config
		if c.Arch != want.Arch || c.Layers != want.Layers || c.Dim != want.Dim || c.HeadDim != want.HeadDim ||
			c.KVHeads != want.KVHeads || c.Tied != want.Tied || c.RopeTheta != want.RopeTheta {
			t.Errorf("%s: loaded config %+v, wrote %+v", ra.name, c, want)
		}
		spec, _ := archTraits(c.Arch)
		if c.QKNorm != spec.qkNorm || c.RopeNeoX != spec.neox {
			t.Errorf("%s: QKNorm %v NeoX %v, want %v %v", ra.name, c.QKNorm, c.RopeNeoX, spec.qkNorm, spec.neox)
		}
		text := "Hello! The capital of France is Paris, 12345 cats."
		ids, err := m.Tokenize(text, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) >= len(text) {
			t.Errorf("%s: %d tokens for %d bytes: merges not applied", ra.name, len(ids), len(text))
		}
		back, err := m.Detokenize(ids)
		if err != nil || back != text {
			t.Errorf("%s: round trip %q, %v", ra.name, back, err)
		}
		var eot string
		switch {
		case ra.spec.VocabFile != "": // Phi-3's vocabulary and template
			eot = "<|end|>"
		case ra.spec.Vocab == VocabChatML:
			eot = "<|im_end|>"
		case ra.spec.Vocab == VocabLlama3:
			eot = "<|eot_id|>"
			// Llama 3.x: both <|end_of_text|> and <|eot_id|> end generation.
			eos := m.EOS()
			if len(eos) < 2 || !slices.Contains(eos, int32(slices.Index(m.vocab.Values, "<|end_of_text|>"))) {
				t.Errorf("%s: EOS ids %v lack <|end_of_text|>", ra.name, eos)
			}
		}
		if got := m.vocab.Values[m.eot]; got != eot {
			t.Errorf("%s: end-of-turn token %q, want %q", ra.name, got, eot)
		}
		seq, err := m.Encode([]Message{{Role: "user", Content: "Hi"}}, []Message{{Role: "assistant", Content: "Hello"}})
		if err != nil {
			t.Fatal(err)
		}
		if seq.Tokens[len(seq.Tokens)-1] != m.eot || !seq.Mask[len(seq.Mask)-1] {
			t.Errorf("%s: the response does not end with a masked-in %s", ra.name, eot)
		}
		if got := m.TemplateName(); got == "" {
			t.Errorf("%s: no chat template detected", ra.name)
		}
	}
}

// TestLlama3StopsAtEveryEOS: a Llama 3.x file lists two end ids (<|end_of_text|> and
// <|eot_id|>, tokenizer.ggml.eos_token_ids); align's generation ends at either (stopping at
// the first only fails here). The head row of each in turn is made a multiple of the row of the token greedy decoding picks first, so that
// it becomes the argmax there: generation then ends before any token, while the same edit on a
// normal token makes that token come first (the edit does take effect).
func TestLlama3StopsAtEveryEOS(t *testing.T) {
	path := writeRandomT(t, randomArchSpec(t, "align-rnd-llama3"), kernels.TypeF32)
	prompt := []int32{int32(slices.Index(loadT(t, path, LoadOptions{}).vocab.Values, "<|begin_of_text|>"))}
	for _, piece := range []string{"<|end_of_text|>", "<|eot_id|>", "a"} {
		m := loadT(t, path, LoadOptions{})
		first, err := m.Generate(context.Background(), prompt, SampleOptions{MaxTokens: 4})
		if err != nil || len(first) == 0 {
			t.Fatalf("greedy generation %v, %v", first, err)
		}
		id := slices.Index(m.vocab.Values, piece)
		if id < 0 || m.output == nil {
			t.Fatalf("no %q in the vocabulary (or a tied head)", piece)
		}
		D := m.cfg.Dim
		for i := range D {
			m.output.Data[id*D+i] = 50 * m.output.Data[int(first[0])*D+i]
		}
		got, err := m.Generate(context.Background(), prompt, SampleOptions{MaxTokens: 4})
		if err != nil {
			t.Fatal(err)
		}
		if piece == "a" {
			if len(got) == 0 || got[0] != int32(id) {
				t.Errorf("the edited head row of %q: generation %v does not start with it", piece, got)
			}
			continue
		}
		if len(got) != 0 {
			t.Errorf("%s (id %d, EOS ids %v): generation went on: %v", piece, id, m.EOS(), got)
		}
	}
}

// ggufTypes returns each tensor's type and row length (ne0) in a GGUF.
func ggufTypes(t *testing.T, path string) map[string][2]uint64 {
	t.Helper()
	g, _ := decodeGGUF(t, path)
	out := map[string][2]uint64{}
	for _, ts := range g.Tensors().Items() {
		if len(ts.Shape) == 2 {
			out[ts.Name] = [2]uint64{uint64(ts.Kind), ts.Shape[0]}
		} else {
			out[ts.Name] = [2]uint64{uint64(ts.Kind), 0}
		}
	}
	return out
}

// TestWriteRandomGGUFQ4K: a Q4_K random file holds every matrix whose rows are whole 256-value
// blocks as Q4_K, the others as Q8_0 (rows of whole 32-value blocks) or F16, and 1-D tensors as
// F32; PeakedGGUF falls back the same way, to F32 last. Both load, and the loaded values are
// the blocks' decoding (the model computes with what the file holds).
func TestWriteRandomGGUFQ4K(t *testing.T) {
	// Dim 256 (Q4_K rows), FFN 288 (ffn_down's rows: not whole Q4_K blocks, whole Q8_0 ones).
	c := Config{Arch: "llama", Layers: 1, Dim: 256, FFN: 288, Heads: 4, KVHeads: 2, HeadDim: 64, RopeTheta: 10000, Eps: 1e-6, ContextLen: 64}
	path := writeRandomT(t, RandomGGUF{Config: c, Vocab: VocabLlama3, Seed: 7}, kernels.TypeQ4_K)
	types := ggufTypes(t, path)
	n4 := 0
	for name, kt := range types {
		want := kernels.TypeQ4_K
		switch {
		case kt[1] == 0:
			want = kernels.TypeF32
		case kt[1]%256 != 0 && kt[1]%32 == 0:
			want = kernels.TypeQ8_0
		case kt[1]%32 != 0:
			want = kernels.TypeF16
		}
		if kernels.GGMLType(kt[0]) != want {
			t.Errorf("%s (rows of %d): %s, want %s", name, kt[1], kernels.GGMLType(kt[0]), want)
		}
		if want == kernels.TypeQ4_K {
			n4++
		}
	}
	if n4 < 7 || types["blk.0.ffn_down.weight"][0] != uint64(kernels.TypeQ8_0) {
		t.Fatalf("%d Q4_K tensors (want the 6 projections with 256-wide rows, the embedding and the head), ffn_down %v", n4, types["blk.0.ffn_down.weight"])
	}
	m := loadT(t, path, LoadOptions{})
	// The file's attn_q, decoded from its Q4_K blocks, is what the model holds.
	if types["blk.0.attn_q.weight"][0] != uint64(kernels.TypeQ4_K) {
		t.Fatalf("attn_q written as type %d, not Q4_K", types["blk.0.attn_q.weight"][0])
	}
	dec, _ := readGGUFTensor(t, path, "blk.0.attn_q.weight")
	got := m.blocks[0].q.weightF32()
	for i := range dec {
		if got[i] != dec[i] {
			t.Fatalf("attn_q[%d] = %g loaded, %g decoded from the file", i, got[i], dec[i])
		}
	}

	pk := filepath.Join(t.TempDir(), "peaked.gguf")
	if err := (PeakedGGUF{Arch: "gemma3", Layers: 1, Dim: 640, FFN: 1024, Heads: 4, KVHeads: 1, HeadDim: 256, SlidingWindow: 8,
		Vocab: "../testdata/models/stories260K.gguf", Seed: 3, Tied: true, Type: kernels.TypeQ4_K}).Write(pk); err != nil {
		t.Fatal(err)
	}
	pt := ggufTypes(t, pk)
	for name, want := range map[string]kernels.GGMLType{
		"blk.0.attn_q.weight":      kernels.TypeQ8_0, // rows of 640
		"blk.0.attn_output.weight": kernels.TypeQ4_K, // rows of 4·256
		"blk.0.ffn_down.weight":    kernels.TypeQ4_K, // rows of 1024
		"token_embd.weight":        kernels.TypeQ8_0,
		"blk.0.attn_norm.weight":   kernels.TypeF32,
	} {
		if got := kernels.GGMLType(pt[name][0]); got != want {
			t.Errorf("peaked %s: %s, want %s", name, got, want)
		}
	}
	loadT(t, pk, LoadOptions{})
}
