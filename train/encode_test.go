package train

import (
	"strings"
	"testing"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
)

// TestMultiTurnLossMask: on LLaMA-Factory's multi-turn dpo_en_demo and Anthropic HH, the
// earlier turns (assistant ones included) are the prompt and only the final assistant turn is
// in the loss mask (TRL's conversational format: prompt = every message before the last
// assistant turn, completion = that turn).
func TestMultiTurnLossMask(t *testing.T) {
	for _, path := range []string{"../testdata/models/stories260K.gguf", "../testdata/models/llama-2-tiny-random.gguf"} {
		m, err := model.Load(path, model.LoadOptions{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		e := &encoder{m: m, maxPrompt: 1 << 20, maxLength: 1 << 20}
		for _, src := range []string{"../testdata/data/dpo_en_demo.json", "../testdata/data/harmless-base-test.jsonl.gz"} {
			checked := 0
			pairs, err := data.ReadPairs(src, data.Options{SkipInvalid: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pairs {
				var earlier []string
				for _, msg := range p.Prompt {
					if msg.Role == "assistant" && len(msg.Content) > 20 {
						earlier = append(earlier, msg.Content)
					}
				}
				if len(earlier) == 0 || checked >= 5 {
					continue
				}
				checked++
				s, err := e.encode(p.Prompt, p.Chosen)
				if err != nil {
					t.Fatal(err)
				}
				var in, out []int32
				for i, tok := range s.Tokens {
					if s.Mask[i] {
						in = append(in, tok)
					} else {
						out = append(out, tok)
					}
				}
				masked, _ := m.Detokenize(in)
				prompt, _ := m.Detokenize(out)
				chosen := p.Chosen[len(p.Chosen)-1].Content
				if !strings.Contains(masked, strings.TrimSpace(chosen[:min(40, len(chosen))])) {
					t.Errorf("%s %s %s: the final assistant turn is not what the mask selects: %q", path, src, p.ID, masked[:min(80, len(masked))])
				}
				for _, a := range earlier {
					probe := strings.TrimSpace(a[:min(40, len(a))])
					if strings.Contains(masked, probe) && !strings.Contains(chosen, probe) {
						t.Errorf("%s %s %s: an earlier assistant turn is in the loss mask: %q", path, src, p.ID, probe)
					}
					if !strings.Contains(prompt, probe) {
						t.Errorf("%s %s %s: an earlier assistant turn is missing from the prompt: %q", path, src, p.ID, probe)
					}
				}
				// the masked tokens are exactly the final turn (plus the template's end-of-turn)
				want, _ := m.Detokenize(s.Tokens[len(s.Tokens)-len(in):])
				if want != masked {
					t.Errorf("%s: masked tokens are not one contiguous final span", p.ID)
				}
			}
			if checked < 5 {
				t.Errorf("%s %s: only %d multi-turn pairs checked", path, src, checked)
			}
		}
		m.Close()
	}
}

// TestRevisionPrompt: training's SRPO revision prompt and inference's (Revise) are rendered by
// the same rule from the SRPO recipe's template; a multi-turn prompt keeps its earlier turns.
func TestRevisionPrompt(t *testing.T) {
	src := DefaultRevisionTemplate()
	if !strings.Contains(src, "{{.Prompt}}") || !strings.Contains(src, "{{.Response}}") {
		t.Fatalf("SRPO template %q", src)
	}
	tpl, err := ParseRevisionTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	e := &encoder{revision: tpl}
	prompt := []data.Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "hello"}, {Role: "user", Content: "Tell a story."}}
	got, err := e.revisionPrompt(prompt, []data.Message{{Role: "assistant", Content: "Once."}})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("{{.Prompt}}", "Tell a story.", "{{.Response}}", "Once.").Replace(src)
	if len(got) != 3 || got[0] != prompt[0] || got[1] != prompt[1] || got[2].Role != "user" || got[2].Content != want {
		t.Errorf("revision prompt %+v, want last turn %q", got, want)
	}
	if _, err := ParseRevisionTemplate("{{.Prompt"); err == nil {
		t.Error("a broken template parsed")
	}
	bad, _ := ParseRevisionTemplate("{{.Other}}")
	if _, err := RenderRevision(bad, "p", "r"); err == nil {
		t.Error("a template with an unknown field rendered")
	}
}
