package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/alignkit/align/train"
)

const storiesGGUF = "../../testdata/models/stories260K.gguf"

// TestGenerateRevisions: --revisions 2 prints 3 texts, each revision prompted with the SRPO
// recipe's revision template around the previous text.
func TestGenerateRevisions(t *testing.T) {
	args := []string{"generate", "--model", storiesGGUF, "--prompt", "Once upon a time", "--max-tokens", "12", "--revisions", "2"}
	out, err := runAlign(t, append(args, "--json")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var gens []generation
	if err := json.Unmarshal([]byte(out), &gens); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(gens) != 3 {
		t.Fatalf("got %d texts, want 3:\n%s", len(gens), out)
	}
	tmpl := train.DefaultRevisionTemplate()
	if !strings.Contains(tmpl, "{{.Response}}") {
		t.Fatalf("SRPO recipe's revision template %q has no {{.Response}}", tmpl)
	}
	for k, g := range gens {
		if g.Revision != k || g.Text == "" {
			t.Errorf("text %d: revision %d, text %q", k, g.Revision, g.Text)
		}
		if k == 0 {
			if g.Prompt != "Once upon a time" {
				t.Errorf("revision 0 prompt %q", g.Prompt)
			}
			continue
		}
		want := strings.NewReplacer("{{.Prompt}}", "Once upon a time", "{{.Response}}", gens[k-1].Text).Replace(tmpl)
		if g.Prompt != want {
			t.Errorf("revision %d prompt\n%q\nwant\n%q", k, g.Prompt, want)
		}
	}

	// Plain output: three headed blocks, the first being prompt plus continuation.
	out, err = runAlign(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if n := strings.Count(out, "### revision "); n != 3 {
		t.Errorf("plain output has %d revision blocks, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, "### revision 0\nOnce upon a time"+gens[0].Text+"\n") {
		t.Errorf("plain output lacks revision 0 as prompt+text:\n%s", out)
	}

	// Without --revisions the output is unchanged: prompt plus continuation only.
	out, err = runAlign(t, "generate", "--model", storiesGGUF, "--prompt", "Once upon a time", "--max-tokens", "12")
	if err != nil || out != "Once upon a time"+gens[0].Text+"\n" {
		t.Errorf("plain generate: %v\n%q", err, out)
	}
	if _, err := runAlign(t, append(args, "--revision-template", "{{.Nope")...); err == nil {
		t.Error("a broken --revision-template was accepted")
	}
}
