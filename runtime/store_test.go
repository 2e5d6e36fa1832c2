package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeStore builds an Ollama store under dir the way `ollama create` lays it out: each blob in
// blobs/sha256-HEX, each manifest in manifests/HOST/NAMESPACE/MODEL/TAG listing its layers.
// models maps a manifest path to its layers (media type → content).
func writeStore(t *testing.T, dir string, models map[string][][2]string) {
	t.Helper()
	for path, layers := range models {
		type layer struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
			Size      int64  `json:"size"`
		}
		man := struct {
			SchemaVersion int     `json:"schemaVersion"`
			Layers        []layer `json:"layers"`
		}{SchemaVersion: 2}
		for _, l := range layers {
			sum := sha256.Sum256([]byte(l[1]))
			d := hex.EncodeToString(sum[:])
			blob := filepath.Join(dir, "blobs", "sha256-"+d)
			if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(blob, []byte(l[1]), 0o644); err != nil {
				t.Fatal(err)
			}
			man.Layers = append(man.Layers, layer{l[0], "sha256:" + d, int64(len(l[1]))})
		}
		b, err := json.Marshal(man)
		if err != nil {
			t.Fatal(err)
		}
		mp := filepath.Join(dir, "manifests", filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(mp), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(mp, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestListStore(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, map[string][][2]string{
		"registry.ollama.ai/library/qwen3/0.6b":       {{mediaModel, "GGUF-qwen3"}, {mediaTemplate, "{{ .Prompt }}!"}},
		"registry.ollama.ai/library/stories/latest":   {{mediaModel, "GGUF-stories"}},
		"registry.ollama.ai/someone/tiny/q8":          {{mediaModel, "GGUF-tiny"}},
		"hf.co/bartowski/SmolLM2-GGUF/Q4_K_M":         {{mediaModel, "GGUF-smol"}},
		"registry.ollama.ai/library/embedonly/latest": {{"application/vnd.ollama.image.license", "MIT"}},
	})
	ms, err := ListStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	want := []string{"embedonly:latest", "hf.co/bartowski/SmolLM2-GGUF:Q4_K_M", "qwen3:0.6b", "someone/tiny:q8", "stories:latest"}
	if !slices.Equal(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	for _, m := range ms {
		switch m.Name {
		case "embedonly:latest":
			if m.BlobPath != "" {
				t.Errorf("%s: a model blob %s without a model layer", m.Name, m.BlobPath)
			}
		case "qwen3:0.6b":
			b, err := os.ReadFile(m.BlobPath)
			if err != nil || string(b) != "GGUF-qwen3" || m.Size != 10+14 {
				t.Errorf("%s: blob %s (%q, %v), size %d", m.Name, m.BlobPath, b, err, m.Size)
			}
			if m.Template != "{{ .Prompt }}!" {
				t.Errorf("%s: template %q", m.Name, m.Template)
			}
			if time.Since(m.ModifiedAt) > time.Hour {
				t.Errorf("%s: modified %v", m.Name, m.ModifiedAt)
			}
		}
	}
	// A corrupt manifest is an error naming it; a directory without manifests is not a store.
	bad := filepath.Join(dir, "manifests", "registry.ollama.ai", "library", "broken", "latest")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ListStore(dir); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupt manifest: %v, want an error naming %s", err, bad)
	}
	if _, err := ListStore(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an Ollama store") {
		t.Fatalf("empty dir: %v", err)
	}
}

// TestListStoreMatchesServer: the store the test server runs on (the directory above the blobs
// it reports), read through its manifests, lists the same models with the same blobs, sizes and
// templates as the server's /api/tags + /api/show.
func TestListStoreMatchesServer(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	fromServer, err := p.ListDetailed(testCtx(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(fromServer) == 0 || fromServer[0].BlobPath == "" {
		t.Fatalf("the server lists %v", fromServer)
	}
	dir := filepath.Dir(filepath.Dir(fromServer[0].BlobPath))
	fromStore, err := ListStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromServer) != len(fromStore) || len(fromServer) < 2 {
		t.Fatalf("server lists %d models, the store %d", len(fromServer), len(fromStore))
	}
	for i := range fromServer {
		s, f := fromServer[i], fromStore[i]
		if s.Name != f.Name || s.BlobPath != f.BlobPath || s.Size != f.Size || s.Template != f.Template || s.Digest != f.Digest {
			t.Errorf("server %s (%s, %d bytes, digest %s, template %q), store %s (%s, %d bytes, digest %s, template %q)",
				s.Name, s.BlobPath, s.Size, s.Digest, s.Template, f.Name, f.BlobPath, f.Size, f.Digest, f.Template)
		}
		if _, err := os.Stat(s.BlobPath); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
}
