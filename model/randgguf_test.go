package model

import (
	"context"
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
