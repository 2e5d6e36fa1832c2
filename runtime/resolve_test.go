package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const storiesGGUF = "../testdata/models/stories260K.gguf"

func TestLocateManifest(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OLLAMA_MODELS", dir)
	gguf, err := os.ReadFile(storiesGGUF)
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) string {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256-"+h), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return h
	}
	mh, th, rh := put(gguf), put([]byte("{{ .Prompt }} ->")), put([]byte("{{ .Prompt }}\n"))
	manifest := func(repo []string, tag string, layers ...string) {
		body := `{"schemaVersion":2,"layers":[`
		for i := 0; i < len(layers); i += 2 {
			if i > 0 {
				body += ","
			}
			body += fmt.Sprintf(`{"mediaType":"application/vnd.ollama.image.%s","digest":"sha256:%s"}`, layers[i], layers[i+1])
		}
		body += "]}"
		mdir := filepath.Join(append([]string{dir, "manifests"}, repo...)...)
		if err := os.MkdirAll(mdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mdir, tag), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest([]string{"registry.ollama.ai", "library", "tiny"}, "v1", "model", mh, "template", th)
	manifest([]string{"registry.ollama.ai", "library", "tiny"}, "latest", "model", mh, "template", rh)
	manifest([]string{"registry.ollama.ai", "me", "tiny"}, "latest", "template", th)
	ctx := context.Background()
	blob := filepath.Join(dir, "blobs", "sha256-"+mh)
	for _, c := range []struct {
		name, path, tmpl string
	}{
		{"tiny:v1", blob, "{{ .Prompt }} ->"},
		{"tiny", blob, ""}, // raw template, tag latest
		{"tiny:latest", blob, ""},
		{storiesGGUF, storiesGGUF, ""},
	} {
		m, err := Locate(ctx, nil, c.name)
		if err != nil {
			t.Fatalf("Locate(%s): %v", c.name, err)
		}
		if m.Path != c.path || m.Template != c.tmpl {
			t.Fatalf("Locate(%s) = %+v, want %s %q", c.name, m, c.path, c.tmpl)
		}
	}
	if b, _ := os.ReadFile(blob); !bytes.Equal(b, gguf) {
		t.Fatal("blob differs")
	}
	for _, name := range []string{"absent", "me/tiny", "missing.gguf"} {
		if _, err := Locate(ctx, nil, name); err == nil {
			t.Fatalf("Locate(%s) succeeded", name)
		}
	}
	// A server that does not answer falls back to the manifests, at once (one try, no retries).
	p, err := NewPool([]string{"127.0.0.1:1"}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if m, err := Locate(ctx, p, "tiny:v1"); err != nil || m.Path != blob {
		t.Fatalf("Locate with a dead server = %+v, %v", m, err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("fallback took %v", d)
	}
	if _, err := Locate(ctx, p, "absent"); err == nil {
		t.Fatal("Locate(absent) with a dead server succeeded")
	}
}

func TestServerLocate(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	m, err := Locate(testCtx(t, time.Minute), p, testModel)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(storiesGGUF)
	if err != nil {
		t.Fatal(err)
	}
	// scripts/ollama.sh creates stories260k from testdata's GGUF with no template (raw).
	if !bytes.Equal(got, want) || m.Template != "" {
		t.Fatalf("located %s (%d bytes, template %q), want stories260K's GGUF, raw", m.Path, len(got), m.Template)
	}
}
