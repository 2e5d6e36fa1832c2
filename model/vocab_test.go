package model

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ollama/ollama/fs/ggml"
)

// decodeGGUF opens and decodes a GGUF's header; the file stays open (for ReadAt of its
// tensors) until the test ends.
func decodeGGUF(t *testing.T, path string) (*ggml.GGML, *os.File) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	g, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	return g, f
}

// vocabModel loads only the tokenizer of a vocabulary GGUF (llama.cpp's ggml-vocab-*.gguf
// carry metadata and no tensors).
func vocabModel(t *testing.T, path string) *Model {
	t.Helper()
	g, _ := decodeGGUF(t, path)
	m := &Model{path: path, kv: g.KV()}
	if err := m.initTokenizer(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// readVocabTests reads tokenizer test vectors in llama.cpp's format: the .inp file holds the
// texts separated by "\n__ggml_vocab_test__\n", the .out file one line of token ids per text.
func readVocabTests(t *testing.T, inpPath, outPath string) ([]string, [][]int32) {
	t.Helper()
	inp, err := os.ReadFile(inpPath)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
	if texts[len(texts)-1] == "" {
		texts = texts[:len(texts)-1]
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s, %s: %d texts, %d id lines", inpPath, outPath, len(texts), len(lines))
	}
	ids := make([][]int32, len(lines))
	for i, l := range lines {
		for _, f := range strings.Fields(l) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s line %d: %v", outPath, i+1, err)
			}
			ids[i] = append(ids[i], int32(n))
		}
	}
	return texts, ids
}

// TestVocabLlamaCppVectors: align's Tokenize (ollama's tokenizer plus llama.cpp's SentencePiece
// space prefix) gives llama.cpp's ids on its own test vectors for the Llama-2 SentencePiece and
// Phi-3 vocabularies (test-tokenizer-0: no BOS), and decodes them back.
func TestVocabLlamaCppVectors(t *testing.T) {
	for _, name := range []string{"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf"} {
		base := "../testdata/vocab/" + name
		m := vocabModel(t, base)
		texts, want := readVocabTests(t, base+".inp", base+".out")
		bad := 0
		for i, text := range texts {
			got, err := m.Tokenize(text, false)
			if err != nil {
				t.Fatalf("%s %q: %v", name, text, err)
			}
			if !equalIDs(got, want[i]) {
				bad++
				t.Errorf("%s %q: align %v, llama.cpp %v", name, text, got, want[i])
			}
		}
		t.Logf("%s: %d of %d texts tokenize as llama.cpp does", name, len(texts)-bad, len(texts))
	}
}
