package model

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// rewriteGGUF copies a GGUF with its metadata edited by editKV and its tensors by editT (which
// may drop a tensor by returning nil, or change its shape).
func rewriteGGUF(t *testing.T, src string, editKV func(ggml.KV), editT func(*ggml.Tensor) *ggml.Tensor) string {
	t.Helper()
	g, f := decodeGGUF(t, src)
	kv := ggml.KV{}
	for k, v := range g.KV() {
		kv[k] = widenKV(v)
	}
	editKV(kv)
	var ts []*ggml.Tensor
	for _, tt := range g.Tensors().Items() {
		raw := make([]byte, tt.Size())
		if _, err := f.ReadAt(raw, int64(g.Tensors().Offset+tt.Offset)); err != nil {
			t.Fatal(err)
		}
		nt := &ggml.Tensor{Name: tt.Name, Kind: tt.Kind, Shape: append([]uint64(nil), tt.Shape...), WriterTo: tensorWriter{raw: raw}}
		if nt = editT(nt); nt != nil {
			if n := nt.Shape[0]; len(nt.Shape) == 1 && n != tt.Shape[0] { // keep the byte count consistent
				nt.WriterTo = f32Tensor(kernels.TypeF32, make([]float32, n))
			}
			ts = append(ts, nt)
		}
	}
	path := filepath.Join(t.TempDir(), "bad-"+filepath.Base(src))
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := ggml.WriteGGUF(out, kv, ts); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadBadArchFiles: for qwen3 and phi3 files, a truncated file, an unknown architecture, a
// missing tensor and an inconsistent shape each fail with an error naming the file and the
// tensor (or the key); nothing panics.
func TestLoadBadArchFiles(t *testing.T) {
	keep := func(tt *ggml.Tensor) *ggml.Tensor { return tt }
	noKV := func(ggml.KV) {}
	for _, ra := range randomArchs() {
		if ra.name != "align-rnd-qwen3-untied" && ra.name != "align-rnd-phi3" {
			continue
		}
		src := writeRandomT(t, ra.spec, kernels.TypeF16)
		arch := ra.spec.Config.Arch
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{7, 200, len(b) / 3, len(b) - 5} {
			path := filepath.Join(t.TempDir(), "trunc-"+arch+".gguf")
			if err := os.WriteFile(path, b[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			wantLoadError(t, path, path, "truncated or corrupt GGUF")
		}
		p := rewriteGGUF(t, src, func(kv ggml.KV) { kv["general.architecture"] = arch + "x" }, keep)
		wantLoadError(t, p, p, `unsupported architecture "`+arch+`x"`, "qwen3", "phi3")

		missing, resized := "blk.1.attn_k_norm.weight", "blk.0.attn_q_norm.weight"
		if arch == "phi3" {
			missing, resized = "blk.1.attn_qkv.weight", "blk.0.ffn_up.weight"
		}
		p = rewriteGGUF(t, src, noKV, func(tt *ggml.Tensor) *ggml.Tensor {
			if tt.Name == missing {
				return nil
			}
			return tt
		})
		wantLoadError(t, p, p, "tensor "+missing+" missing")
		p = rewriteGGUF(t, src, noKV, func(tt *ggml.Tensor) *ggml.Tensor {
			if tt.Name == resized {
				if len(tt.Shape) == 1 {
					tt.Shape[0]--
				} else { // swap rows and columns: same bytes, wrong shape
					tt.Shape[0], tt.Shape[1] = tt.Shape[1], tt.Shape[0]
				}
			}
			return tt
		})
		wantLoadError(t, p, p, "tensor "+resized, "shape")
	}
}

// TestPhi3LongRopeWithoutFactors: a phi3 128k-style file (context_length above
// rope.scaling.original_context_length) without longrope's frequency factors is refused, naming
// the variant and the missing tensors, rather than run with the short context's angles; the
// same file with its factors loads, and so does one whose context is within the original.
func TestPhi3LongRopeWithoutFactors(t *testing.T) {
	src := writeRandomT(t, randomArchSpec(t, "align-rnd-phi3-longrope"), kernels.TypeF32)
	loadT(t, src, LoadOptions{})
	drop := func(tt *ggml.Tensor) *ggml.Tensor {
		if strings.HasPrefix(tt.Name, "rope_factors_") {
			return nil
		}
		return tt
	}
	p := rewriteGGUF(t, src, func(ggml.KV) {}, drop)
	wantLoadError(t, p, p, "longrope/SuRoPE", "rope_factors_short.weight", "rope_factors_long.weight", "are missing")
	// Within the original context (a 4k file), no factors are needed.
	p = rewriteGGUF(t, src, func(kv ggml.KV) { kv["phi3.context_length"] = kv["phi3.rope.scaling.original_context_length"] }, drop)
	loadT(t, p, LoadOptions{})
}

// FuzzLoadGGUF: whatever the bytes, Load returns a model or an error naming the file; it never
// panics. Seeds are small random files of every architecture (qwen3, llama with the Llama 3
// vocabulary, phi3 with its fused tensors and longrope factors, gemma2 and gemma3) and
// stories260K.
func FuzzLoadGGUF(f *testing.F) {
	for _, ra := range randomArchs() {
		if ra.name != "align-rnd-qwen3" && ra.name != "align-rnd-llama3" && ra.name != "align-rnd-phi3-longrope" {
			continue
		}
		spec := ra.spec
		spec.Config.Layers, spec.Config.Dim, spec.Config.FFN = 1, 32, 32
		var buf bytes.Buffer
		if err := WriteRandomGGUF(&buf, spec); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	dir := f.TempDir()
	for _, arch := range []string{"gemma2", "gemma3"} {
		r := randomGemma(arch)
		r.Layers, r.FFN = 2, 64
		if arch == "gemma2" {
			r.FFN = 512 // its peaked lookup FFN needs one row per vocabulary entry
		}
		path := filepath.Join(dir, arch+"-seed.gguf")
		if err := r.Write(path); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if b, err := os.ReadFile(storiesPath); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "fuzz.gguf")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(path, LoadOptions{Threads: 1})
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		m.Close()
	})
}
