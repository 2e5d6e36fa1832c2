package model

import (
	"context"
	"os"
	"strings"
	"testing"
)

const (
	storiesPath = "../testdata/models/stories260K.gguf"
	tinyPath    = "../testdata/models/llama-2-tiny-random.gguf"
)

func loadT(t *testing.T, path string, opt LoadOptions) *Model {
	t.Helper()
	m, err := Load(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// goldenText extracts the temperature-0 sample documented beside stories260K.
func goldenText(t *testing.T) string {
	b, err := os.ReadFile("../testdata/models/stories260K.llama2c-doc.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	const marker = "-t 0.0\n"
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatal("golden sample not found in stories260K.llama2c-doc.md")
	}
	s = s[i+len(marker):]
	return strings.TrimSpace(s[:strings.Index(s, "```")])
}

func TestGoldenStories(t *testing.T) {
	m := loadT(t, storiesPath, LoadOptions{})
	want := goldenText(t)
	got, err := m.GenerateText(context.Background(), "Once upon a time", SampleOptions{MaxTokens: 300})
	if err != nil {
		t.Fatal(err)
	}
	full := "Once upon a time" + got
	if !strings.HasPrefix(full, want) {
		n := 0
		for n < len(full) && n < len(want) && full[n] == want[n] {
			n++
		}
		t.Fatalf("greedy text departs from the golden text at byte %d:\n got: %q\nwant: %q", n, full[n:min(len(full), n+60)], want[n:min(len(want), n+60)])
	}
}

func TestTokenizeSpacePrefix(t *testing.T) {
	m := loadT(t, storiesPath, LoadOptions{})
	// The ids Ollama's llama.cpp runner produces (RUNTIME.md): BOS then the space-prefixed text.
	ids, err := m.Tokenize("Once upon a time", true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{1, 403, 407, 261, 378}; !equalIDs(ids, want) {
		t.Fatalf("Tokenize = %v, want %v", ids, want)
	}
	text, err := m.Detokenize(ids)
	if err != nil || text != "Once upon a time" {
		t.Fatalf("Detokenize = %q, %v", text, err)
	}
	tiny := loadT(t, tinyPath, LoadOptions{})
	ids, _ = tiny.Tokenize("Hello", false)
	if !equalIDs(ids, []int32{15043}) {
		t.Fatalf("tiny Tokenize(Hello) = %v, want [15043] (▁Hello)", ids)
	}
	// A space is added after a special token too, as llama.cpp does.
	ids, _ = tiny.Tokenize("Hello</s>Hello", false)
	if !equalIDs(ids, []int32{15043, 2, 15043}) {
		t.Fatalf("tiny Tokenize(Hello</s>Hello) = %v, want [15043 2 15043]", ids)
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEncodeRawAndMask(t *testing.T) {
	m := loadT(t, storiesPath, LoadOptions{})
	if m.TemplateName() != "" {
		t.Fatalf("stories260K has template %q, want raw", m.TemplateName())
	}
	seq, err := m.Encode([]Message{{Role: "user", Content: "Once upon a time"}}, []Message{{Role: "assistant", Content: ", there was"}})
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := m.Tokenize("Once upon a time, there was", true)
	if !equalIDs(seq.Tokens, whole) {
		t.Fatalf("Encode tokens %v, want the joined text's %v", seq.Tokens, whole)
	}
	for i, b := range seq.Mask {
		if b != (i >= 5) {
			t.Fatalf("mask %v: want true exactly on the response tokens (from 5)", seq.Mask)
		}
	}
}

func TestEncodeChatTemplate(t *testing.T) {
	m := loadT(t, storiesPath, LoadOptions{Template: "{{- range .Messages }}<s>{{ .Role }}: {{ .Content }}\n{{ end }}<s>assistant:"})
	seq, err := m.Encode([]Message{{Role: "user", Content: "Hi"}}, []Message{{Role: "assistant", Content: "Yes"}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := m.Tokenize("<s>user: Hi\n<s>assistant:", true)
	r, _ := m.encode("Yes", false)
	want := append(append(p, r...), m.vocab.EOS[0])
	if !equalIDs(seq.Tokens, want) {
		t.Fatalf("Encode = %v, want %v", seq.Tokens, want)
	}
	n := 0
	for i, b := range seq.Mask {
		if b {
			n++
			if i < len(p) {
				t.Fatalf("prompt token %d masked in", i)
			}
		}
	}
	if n != len(r)+1 {
		t.Fatalf("%d masked tokens, want %d (response + end of turn)", n, len(r)+1)
	}
}
