package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/recipes"
	"github.com/alignkit/align/train"
)

type modelsJSON struct {
	Source string             `json:"source"`
	Models []train.ModelEntry `json:"models"`
}

func runModels(t *testing.T, args ...string) (string, modelsJSON) {
	t.Helper()
	out, err := runRuntimeCLI(t, append([]string{"models"}, args...)...)
	if err != nil {
		t.Fatalf("align models %q: %v\n%s", args, err, out)
	}
	var list modelsJSON
	if len(args) > 0 && args[0] == "--json" {
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("align models --json: %v\n%s", err, out)
		}
	}
	return out, list
}

// rewriteGGUF writes the GGUF at src to dst with token_embd.weight stored as ggml type kind (zero
// bytes) and the architecture renamed to arch when not empty.
func rewriteGGUF(t *testing.T, src, dst string, kind uint32, arch string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	kv := ggml.KV{}
	for k, v := range g.KV() {
		switch v := v.(type) {
		case int32: // fs/ggml's writer has no int32 scalars
			kv[k] = uint32(v)
		default:
			kv[k] = v
		}
	}
	if arch != "" {
		for k := range g.KV() {
			if strings.HasPrefix(k, "llama.") {
				kv[arch+"."+strings.TrimPrefix(k, "llama.")] = kv[k]
			}
		}
		kv["general.architecture"] = arch
	}
	var ts []*ggml.Tensor
	for _, tn := range g.Tensors().Items() {
		raw := make([]byte, tn.Size())
		if _, err := f.ReadAt(raw, int64(g.Tensors().Offset+tn.Offset)); err != nil {
			t.Fatal(err)
		}
		nt := &ggml.Tensor{Name: tn.Name, Kind: tn.Kind, Shape: tn.Shape}
		if tn.Name == "token_embd.weight" && kind != tn.Kind {
			tt := ggml.TensorType(kind)
			nt.Kind = kind
			raw = make([]byte, tn.Elements()/tt.BlockSize()*tt.TypeSize())
		}
		nt.WriterTo = bytes.NewReader(raw)
		ts = append(ts, nt)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := ggml.WriteGGUF(out, kv, ts); err != nil {
		t.Fatal(err)
	}
}

// storeWith builds an Ollama store (blobs/sha256-HEX, manifests/registry.ollama.ai/library/NAME/TAG)
// holding the given GGUF files as models.
func storeWith(t *testing.T, models map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, path := range models {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		d := hex.EncodeToString(sum[:])
		if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256-"+d), b, 0o644); err != nil {
			t.Fatal(err)
		}
		mname, tag, _ := strings.Cut(name, ":")
		mp := filepath.Join(dir, "manifests", "registry.ollama.ai", "library", mname, tag)
		if err := os.MkdirAll(filepath.Dir(mp), 0o755); err != nil {
			t.Fatal(err)
		}
		man := fmt.Sprintf(`{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:%s","size":%d}]}`, d, len(b))
		if err := os.WriteFile(mp, []byte(man), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestModelsStore lists a store built here: stories260K trains, with the estimate align train
// would print; a copy with an MXFP4 embedding and one of an unknown architecture are refused
// with the loader's reasons.
func TestModelsStore(t *testing.T) {
	tmp := t.TempDir()
	mx, mamba := filepath.Join(tmp, "mx.gguf"), filepath.Join(tmp, "mamba.gguf")
	rewriteGGUF(t, storiesGGUF, mx, 39, "")
	rewriteGGUF(t, storiesGGUF, mamba, 0, "mamba")
	dir := storeWith(t, map[string]string{"stories:latest": storiesGGUF, "mx:q": mx, "mamba:1b": mamba})
	_, list := runModels(t, "--json", "--store", dir)
	if list.Source != dir || len(list.Models) != 3 {
		t.Fatalf("listed %+v", list)
	}
	dpo, err := recipes.Load("dpo", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Models {
		switch m.Name {
		case "stories:latest":
			if !m.Trainable || m.Architecture != "llama" || m.Parameters != 292800 || m.ContextLength != 512 || m.Memory == nil || m.MemoryLowMemory == nil {
				t.Errorf("stories: %+v", m)
				continue
			}
			want, err := train.EstimateMemory(m.Blob, dpo)
			if err != nil || *m.Memory != want {
				t.Errorf("stories: listed %+v, align train's estimate %+v (%v)", *m.Memory, want, err)
			}
		case "mx:q":
			if m.Trainable || !strings.Contains(m.Reason, "tensor token_embd.weight: unsupported weight type MXFP4") {
				t.Errorf("mx: %+v", m)
			}
		case "mamba:1b":
			if m.Trainable || m.Architecture != "mamba" || !strings.Contains(m.Reason, `unsupported architecture "mamba"`) {
				t.Errorf("mamba: %+v", m)
			}
		default:
			t.Errorf("unexpected model %s", m.Name)
		}
	}
	out, _ := runModels(t, "--store", dir)
	for _, w := range []string{"3 models in " + dir, "stories:latest", "mx:q: not trainable: tensor token_embd.weight: unsupported weight type MXFP4", "LOW-MEMORY"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestModelsServer lists the test server's models ($OLLAMA_HOST, with stories260k and
// tiny-random imported by scripts/ollama.sh start) through /api/tags and /api/show.
func TestModelsServer(t *testing.T) {
	if os.Getenv("ALIGN_SKIP_OLLAMA") == "1" {
		t.Skip("######## ALIGN_SKIP_OLLAMA=1: SKIPPING " + t.Name() + ", an integration test against a real Ollama server ########")
	}
	_, list := runModels(t, "--json", "--attempts", "2")
	if !strings.HasPrefix(list.Source, "http") {
		t.Fatalf("source %q: the server did not answer (start it with scripts/ollama.sh start and export OLLAMA_HOST)", list.Source)
	}
	found := map[string]train.ModelEntry{}
	for _, m := range list.Models {
		found[m.Name] = m
	}
	for name, want := range map[string]struct {
		params int64
		ctx    int
		ftype  string
	}{"stories260k:latest": {292800, 512, "F32"}, "tiny-random:latest": {513048, 4096, "F16"}} {
		m, ok := found[name]
		if !ok {
			t.Errorf("%s not listed: %+v", name, list.Models)
			continue
		}
		if !m.Trainable || m.Architecture != "llama" || m.Parameters != want.params || m.ContextLength != want.ctx || m.FileType != want.ftype || m.Memory == nil || m.ParameterSize == "" {
			t.Errorf("%s: %+v", name, m)
		}
	}
}

// TestTrainPrintsEstimate: align train prints, before it starts, the estimate align models
// lists for the same recipe.
func TestTrainPrintsEstimate(t *testing.T) {
	t.Setenv("ALIGN_CACHE_DIR", t.TempDir())
	sets := []string{"max_steps=1", "per_device_train_batch_size=2", "max_length=64", "max_prompt_length=24", "dataset.max_samples=2", "eval.held_out=0"}
	args := []string{"train", "--recipe", "dpo", "--out", filepath.Join(t.TempDir(), "run")}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	out, err := runAlign(t, args...)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	r, err := recipes.Load("dpo", sets)
	if err != nil {
		t.Fatal(err)
	}
	est, err := train.EstimateMemory(storiesGGUF, r)
	if err != nil {
		t.Fatal(err)
	}
	want := "align: estimated peak memory " + est.String()
	if !strings.Contains(out, want) {
		t.Fatalf("train output lacks %q:\n%s", want, out)
	}
	if i, j := strings.Index(out, want), strings.Index(out, "stage 1"); j >= 0 && i > j {
		t.Errorf("the estimate comes after training started:\n%s", out)
	}
}
