package train

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ollamaEnv returns the test server's host; it fails when OLLAMA_HOST is unset and skips only
// with ALIGN_SKIP_OLLAMA=1.
func ollamaEnv(t *testing.T) string {
	t.Helper()
	if os.Getenv("ALIGN_SKIP_OLLAMA") == "1" {
		t.Skip("SKIPPING the Ollama integration test: ALIGN_SKIP_OLLAMA=1 (model.ollama is NOT tested)")
	}
	h := os.Getenv("OLLAMA_HOST")
	if h == "" {
		t.Fatal("OLLAMA_HOST is not set: start the server (bash scripts/ollama.sh start; eval \"$(bash scripts/ollama.sh env)\"), or set ALIGN_SKIP_OLLAMA=1 to skip")
	}
	u := h
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	resp, err := http.Get(u + "/api/version")
	if err != nil {
		t.Fatalf("the Ollama server at OLLAMA_HOST=%s is unreachable: %v (set ALIGN_SKIP_OLLAMA=1 to skip)", h, err)
	}
	resp.Body.Close()
	return h
}

// TestModelOllama trains 2 steps on model.ollama: stories260k (the blob located through the
// server) with reference.ollama too, and checks the weights equal a run on the GGUF path.
func TestModelOllama(t *testing.T) {
	ollamaEnv(t)
	base := t.TempDir()
	sets := append([]string{"max_steps=2", "dataset.max_samples=4"}, small...)
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	run(t, load(t, "dpo", append(sets, "model.path=", "model.ollama=stories260k", "reference.ollama=stories260k")...), a)
	run(t, load(t, "dpo", sets...), b)
	if !bytes.Equal(finalWeights(t, a), finalWeights(t, b)) {
		t.Error("model.ollama: stories260k trained to other weights than model.path: asset:stories260K.gguf")
	}
	rec, err := os.ReadFile(filepath.Join(a, "recipe.yaml"))
	if err != nil || !bytes.Contains(rec, []byte("ollama: stories260k")) || bytes.Contains(rec, []byte("path: asset:stories260K")) {
		t.Fatalf("the run's recipe.yaml does not train on model.ollama alone (%v):\n%s", err, rec)
	}
	ma, err := ReadMetrics(filepath.Join(a, "metrics.jsonl"))
	if err != nil || len(ma) == 0 {
		t.Fatalf("no metrics from the model.ollama run: %v", err)
	}
}

// TestModelOllamaMissing names a model that neither the server nor the manifests hold.
func TestModelOllamaMissing(t *testing.T) {
	ollamaEnv(t)
	t.Setenv("OLLAMA_MODELS", t.TempDir())
	r := load(t, "dpo", append([]string{"max_steps=1", "model.path=", "model.ollama=no-such-model-xyz"}, small...)...)
	dir := t.TempDir()
	_, err := Run(t.Context(), Options{Recipe: r, RunDir: filepath.Join(dir, "run"), CacheDir: filepath.Join(dir, "cache")})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("model.ollama")) {
		t.Fatalf("err = %v, want a model.ollama resolve error", err)
	}
}
