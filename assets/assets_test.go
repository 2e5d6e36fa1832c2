package assets

import (
	"bytes"
	"os"
	"testing"
)

func TestEmbeddedModelMatchesTestdata(t *testing.T) {
	b, err := Read("stories260K.gguf")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../testdata/models/stories260K.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Error("embedded stories260K.gguf differs from testdata/models/stories260K.gguf")
	}
	dir := t.TempDir()
	p1, err := Path("stories260K.gguf", dir)
	if err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(p1)
	p2, _ := Path("stories260K.gguf", dir)
	st2, _ := os.Stat(p2)
	if p1 != p2 || !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("second Path call rewrote the file")
	}
	if got, _ := os.ReadFile(p1); !bytes.Equal(got, want) {
		t.Error("materialised file differs")
	}
	if _, err := Read("nope"); err == nil {
		t.Error("missing asset accepted")
	}
}
