package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// writeVariant writes stories260K with its metadata edited by kv and token_embd.weight stored as
// embdType (raw zero bytes for types the engine does not read).
func writeVariant(t *testing.T, edit func(ggml.KV), embdType kernels.GGMLType) string {
	t.Helper()
	m := loadT(t, storiesPath, LoadOptions{})
	kv := ggml.KV{}
	for k, v := range m.kv {
		kv[k] = v
	}
	edit(kv)
	data := map[string][]float32{}
	for _, b := range m.bindings() {
		if *b.slot != nil {
			data[b.name] = (*b.slot).Data
		}
	}
	var ts []*ggml.Tensor
	for _, ti := range m.tensors {
		tt := &ggml.Tensor{Name: ti.name, Shape: ti.shape, Kind: uint32(kernels.TypeF32), WriterTo: f32Tensor(kernels.TypeF32, data[ti.name])}
		if ti.name == "token_embd.weight" && embdType != kernels.TypeF32 {
			gt := ggml.TensorType(embdType) // fs/ggml's sizes: the type may be one align refuses
			n := len(data[ti.name]) / int(gt.BlockSize()) * int(gt.TypeSize())
			tt.Kind, tt.WriterTo = uint32(embdType), tensorWriter{raw: make([]byte, n)}
		}
		ts = append(ts, tt)
	}
	path := filepath.Join(t.TempDir(), "variant.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := ggml.WriteGGUF(f, kv, ts); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantLoadError(t *testing.T, path string, parts ...string) {
	t.Helper()
	_, err := Load(path, LoadOptions{})
	if err == nil {
		t.Fatalf("Load(%s) succeeded, want an error mentioning %q", path, parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("Load error %q does not mention %q", err, p)
		}
	}
}

func TestLoadTruncated(t *testing.T) {
	b, err := os.ReadFile(storiesPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 100, len(b) / 2, len(b) - 10} {
		path := filepath.Join(t.TempDir(), "trunc.gguf")
		if err := os.WriteFile(path, b[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		wantLoadError(t, path, "trunc.gguf", "truncated or corrupt GGUF")
	}
}

func TestLoadUnsupportedArchitecture(t *testing.T) {
	path := writeVariant(t, func(kv ggml.KV) {
		for k, v := range kv {
			if strings.HasPrefix(k, "llama.") {
				kv["mamba."+strings.TrimPrefix(k, "llama.")] = v
				delete(kv, k)
			}
		}
		kv["general.architecture"] = "mamba"
	}, kernels.TypeF32)
	wantLoadError(t, path, `unsupported architecture "mamba"`)
}

func TestLoadUnsupportedWeightType(t *testing.T) {
	// MXFP4 (gpt-oss's experts, ggml type 39) is one that align does not dequantize.
	path := writeVariant(t, func(ggml.KV) {}, kernels.GGMLType(39))
	wantLoadError(t, path, "token_embd.weight", "unsupported weight type MXFP4", "Q2_K", "Q3_K")
	// The variant writer itself is sound: the same file with F32 embeddings loads.
	if _, err := Load(writeVariant(t, func(ggml.KV) {}, kernels.TypeF32), LoadOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestSameTokenizer(t *testing.T) {
	a := loadT(t, storiesPath, LoadOptions{})
	b := loadT(t, storiesPath, LoadOptions{LoRA: &LoRAConfig{Rank: 2}})
	c := loadT(t, tinyPath, LoadOptions{})
	if !a.SameTokenizer(b) {
		t.Fatal("stories260K vs itself: SameTokenizer false")
	}
	if a.SameTokenizer(c) || c.SameTokenizer(a) {
		t.Fatal("stories260K vs llama-2-tiny-random: SameTokenizer true")
	}
	noPrefix := writeVariant(t, func(kv ggml.KV) { kv["tokenizer.ggml.add_space_prefix"] = false }, kernels.TypeF32)
	if a.SameTokenizer(loadT(t, noPrefix, LoadOptions{})) {
		t.Fatal("a model without add_space_prefix has the same tokenizer")
	}
}

// TestLoadHugeDeclaredLengths: a header that declares an array, a string or a tensor's
// dimension count far beyond the file's size (a corrupt count of 2³¹) is refused by name before
// fs/ggml decodes it; fs/ggml would allocate it first, and such an allocation ends the process
// with a fatal out-of-memory error that no recover catches (FuzzLoadGGUF found it). Inspect
// gives the same reason.
func TestLoadHugeDeclaredLengths(t *testing.T) {
	src, err := os.ReadFile(storiesPath)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, b []byte, want string) { checkHuge(t, what, b, want) }
	at := func(b []byte, s string) int {
		i := bytes.Index(b, []byte(s))
		if i < 0 {
			t.Fatalf("%q not in stories260K.gguf", s)
		}
		return i
	}
	for _, c := range []struct {
		what string
		edit func(b []byte)
		want string
	}{
		{"string array count", func(b []byte) {
			binary.LittleEndian.PutUint64(b[at(b, "tokenizer.ggml.tokens")+len("tokenizer.ggml.tokens")+8:], 1<<31)
		}, "string array count of 2147483648"},
		{"float array count", func(b []byte) {
			binary.LittleEndian.PutUint64(b[at(b, "tokenizer.ggml.scores")+len("tokenizer.ggml.scores")+8:], 1<<40)
		}, "array count of 1099511627776"},
		{"key length", func(b []byte) {
			i := at(b, "general.architecture")
			binary.LittleEndian.PutUint64(b[i-8:], 1<<33)
		}, "key length of 8589934592"},
		{"tensor dimension count", func(b []byte) {
			i := at(b, "token_embd.weight")
			binary.LittleEndian.PutUint32(b[i+len("token_embd.weight"):], 1<<31)
		}, "tensor dimension count of 2147483648"},
	} {
		b := bytes.Clone(src)
		c.edit(b)
		check(c.what, b, c.want)
	}
	// fs/ggml also reads big-endian files ("FUGG") and any version but 1 as v3: a header of
	// each whose first key declares 2⁴⁰ bytes (the fuzzer's crash was the big-endian one).
	for _, order := range []binary.AppendByteOrder{binary.BigEndian, binary.LittleEndian} {
		b := []byte("FUGG")
		version := uint32(3)
		if order == binary.LittleEndian {
			b, version = []byte("GGUF"), 7
		}
		b = order.AppendUint32(b, version)
		b = order.AppendUint64(b, 0) // tensors
		b = order.AppendUint64(b, 1) // keys
		b = order.AppendUint64(b, 1<<40)
		b = append(b, "general.architecture"...)
		check(fmt.Sprintf("%v header", order), b, "key length of 1099511627776")
	}
}

// checkHuge writes b and expects Load and Inspect to refuse it, mentioning want.
func checkHuge(t *testing.T, what string, b []byte, want string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "huge.gguf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	wantLoadError(t, path, path, "truncated or corrupt GGUF", want, "bytes left")
	info, err := Inspect(path)
	if err != nil || !strings.Contains(info.Reason, want) {
		t.Errorf("%s: Inspect reason %q, %v", what, info.Reason, err)
	}
}
