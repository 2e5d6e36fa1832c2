package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ollama/ollama/envconfig"
)

func TestResolveManifest(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OLLAMA_MODELS", dir)
	gguf, err := os.ReadFile(storiesPath)
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) string {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		os.MkdirAll(filepath.Join(dir, "blobs"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256-"+h), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return h
	}
	mh, th := put(gguf), put([]byte("{{ .Prompt }} ->"))
	man := fmt.Sprintf(`{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:%s"},{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:%s"}]}`, mh, th)
	mdir := filepath.Join(dir, "manifests", "registry.ollama.ai", "library", "tiny")
	os.MkdirAll(mdir, 0o755)
	if err := os.WriteFile(filepath.Join(mdir, "v1"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(context.Background(), "tiny:v1", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Path != filepath.Join(dir, "blobs", "sha256-"+mh) || r.Template != "{{ .Prompt }} ->" {
		t.Fatalf("Resolve = %+v", r)
	}
	m := loadT(t, r.Path, LoadOptions{Template: r.Template})
	if m.Digest() != mh || m.TemplateName() != "custom" {
		t.Fatalf("digest %s template %q", m.Digest(), m.TemplateName())
	}
	if _, err := Resolve(context.Background(), "absent", ""); err == nil {
		t.Fatal("Resolve(absent) succeeded")
	}
	if r, err := Resolve(context.Background(), storiesPath, ""); err != nil || r.Path != storiesPath {
		t.Fatalf("Resolve(path) = %+v, %v", r, err)
	}
}

func TestResolveServer(t *testing.T) {
	ollamaClient(t)
	r, err := Resolve(context.Background(), "stories260k", envconfig.Host().String())
	if err != nil {
		t.Fatal(err)
	}
	m := loadT(t, r.Path, LoadOptions{Template: r.Template})
	want := loadT(t, storiesPath, LoadOptions{})
	if m.Digest() != want.Digest() || m.TemplateName() != "" {
		t.Fatalf("resolved %s (digest %s, template %q), want stories260K's digest %s, raw", r.Path, m.Digest(), m.TemplateName(), want.Digest())
	}
}
