package assets

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	p, err := Resolve("asset:story_prompts.jsonl", dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(filepath.Dir(p)) != dir || filepath.Base(p) != "story_prompts.jsonl" {
		t.Fatalf("asset written to %s, not into %s", p, dir)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("story_prompts.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("resolved asset differs from the embedded file")
	}
	// A plain path comes back as is; a missing one and an unknown asset are errors.
	if q, err := Resolve("README.md", dir); err != nil || q != "README.md" {
		t.Fatalf("Resolve(README.md) = %q, %v", q, err)
	}
	if _, err := Resolve(filepath.Join(dir, "absent.gguf"), dir); err == nil {
		t.Fatal("missing file accepted")
	}
	if _, err := Resolve("asset:nope.gguf", dir); err == nil {
		t.Fatal("unknown asset accepted")
	}
	if n, ok := Name("asset:x"); !ok || n != "x" {
		t.Fatalf("Name(asset:x) = %q, %v", n, ok)
	}
	if _, ok := Name("x.gguf"); ok {
		t.Fatal("Name(x.gguf) is an asset")
	}
}
