package train

import (
	"bytes"
	"context"
	"fmt"
	"text/template"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/recipes"
)

// truncate applies TRL's truncation to an encoded sequence: the prompt (the tokens before the
// first response token) keeps its end, at most maxPrompt tokens, and then the whole sequence is
// cut to maxLength, shortening the response. A leading BOS token is kept when the prompt is cut
// (TRL drops it; keeping it leaves the model in the state it was trained in).
func truncate(s model.Sequence, maxPrompt, maxLength int, bos int32, hasBOS bool) model.Sequence {
	p := len(s.Tokens)
	for i, m := range s.Mask {
		if m {
			p = i
			break
		}
	}
	if p > maxPrompt {
		cut := p - maxPrompt
		keepBOS := hasBOS && len(s.Tokens) > 0 && s.Tokens[0] == bos
		toks := append([]int32(nil), s.Tokens[cut:]...)
		mask := append([]bool(nil), s.Mask[cut:]...)
		if keepBOS {
			toks[0] = bos
			mask[0] = false
		}
		s = model.Sequence{Tokens: toks, Mask: mask}
	}
	if len(s.Tokens) > maxLength {
		s = model.Sequence{Tokens: s.Tokens[:maxLength], Mask: s.Mask[:maxLength]}
	}
	return s
}

// example is one training example: its encoded sequences by kind (w, l, imp_w, imp_l, self_l,
// on) and, per kind, the per-token log-probs under the frozen reference, the previous iterate
// pi_t and the iterate before it.
type example struct {
	seqs             map[string][]model.Sequence
	ref, prev, prevm map[string][][]float32
	idx              int            // position in the stage's examples
	prompt           []data.Message // HyPO's per-step samples answer it
	// labels holds per-kind scalar labels: "w" and "l" are the pair's ScoreChosen and
	// ScoreRejected when it has them, which DNO reads as the win rates r_1, r_2 against pi_t.
	labels map[string]float64
	// margin is the pair's margin column (the reward model's; 0 without one).
	margin float64
}

// encoder turns records into examples with one model's tokenizer and template.
type encoder struct {
	m                    *model.Model
	maxPrompt, maxLength int
	revision             *template.Template // SRPO
	bos                  int32
	hasBOS, bosKnown     bool
	// endEOS ends every sequence with the model's EOS token (a reward model's: the head reads
	// the last token, so it reads the same token everywhere); see endWithEOS.
	endEOS bool
	eos    int32
}

func (e *encoder) encode(prompt, response []data.Message) (model.Sequence, error) {
	s, err := e.m.Encode(prompt, response)
	if err != nil {
		return s, err
	}
	if !e.bosKnown {
		// The BOS token is what Tokenize adds to an empty text, when the GGUF asks for one.
		ids, err := e.m.Tokenize("", true)
		if err != nil {
			return s, err
		}
		e.bosKnown = true
		if len(ids) == 1 {
			e.bos, e.hasBOS = ids[0], true
		}
	}
	s = truncate(s, e.maxPrompt, e.maxLength, e.bos, e.hasBOS)
	if e.endEOS {
		s = endWithEOS(s, e.eos, e.maxLength)
	}
	return s, nil
}

// endWithEOS makes a reward model's sequence end with the EOS token, as TRL's RewardTrainer
// does for text that lacks one: a raw-completion model (no template, no end-of-turn token)
// gets it appended, and a response cut at maxLength gives its last token up for it. A
// sequence that already ends with it (a chat template's end of turn) is kept. The EOS token
// is masked in (it belongs to the response).
func endWithEOS(s model.Sequence, eos int32, maxLength int) model.Sequence {
	n := len(s.Tokens)
	if n > 0 && s.Tokens[n-1] == eos {
		return s
	}
	keep := n
	if maxLength > 0 && keep >= maxLength {
		keep = maxLength - 1
	}
	toks := append(append([]int32(nil), s.Tokens[:keep]...), eos)
	mask := append(append([]bool(nil), s.Mask[:keep]...), true)
	return model.Sequence{Tokens: toks, Mask: mask}
}

// revisionPrompt renders SRPO's "improve this previous answer" prompt as the user turn.
func (e *encoder) revisionPrompt(prompt []data.Message, previous []data.Message) ([]data.Message, error) {
	var last, resp string
	if len(prompt) > 0 {
		last = prompt[len(prompt)-1].Content
	}
	for _, m := range previous {
		resp += m.Content
	}
	text, err := RenderRevision(e.revision, last, resp)
	if err != nil {
		return nil, fmt.Errorf("train: objective.revision_template: %w", err)
	}
	out := append([]data.Message(nil), prompt[:max(0, len(prompt)-1)]...)
	return append(out, data.Message{Role: "user", Content: text}), nil
}

// pairExample encodes one pair into the sequence kinds in kinds (plus the online samples in on).
func (e *encoder) pairExample(p data.Pair, kinds []string, on [][]data.Message) (*example, error) {
	ex := &example{seqs: map[string][]model.Sequence{}, prompt: p.Prompt}
	if p.Margin != nil {
		ex.margin = *p.Margin
	}
	if p.ScoreChosen != nil && p.ScoreRejected != nil {
		ex.labels = map[string]float64{"w": *p.ScoreChosen, "l": *p.ScoreRejected}
	}
	for _, k := range kinds {
		var s model.Sequence
		var err error
		switch k {
		case "w":
			s, err = e.encode(p.Prompt, p.Chosen)
		case "l":
			s, err = e.encode(p.Prompt, p.Rejected)
		case "imp_w", "imp_l", "self_l":
			prev, target := p.Rejected, p.Chosen // imp_w: improve the rejected into the chosen
			if k == "imp_l" {
				prev, target = p.Chosen, p.Rejected
			} else if k == "self_l" {
				prev, target = p.Rejected, p.Rejected
			}
			var rp []data.Message
			rp, err = e.revisionPrompt(p.Prompt, prev)
			if err == nil {
				s, err = e.encode(rp, target)
			}
		case "on":
			for _, r := range on {
				s, err := e.encode(p.Prompt, r)
				if err != nil {
					return nil, fmt.Errorf("train: %s: encode online sample: %w", p.ID, err)
				}
				ex.seqs["on"] = append(ex.seqs["on"], s)
			}
			continue
		default:
			return nil, fmt.Errorf("train: unknown sequence kind %q", k)
		}
		if err != nil {
			return nil, fmt.Errorf("train: %s: %w", p.ID, err)
		}
		ex.seqs[k] = []model.Sequence{s}
	}
	return ex, nil
}

// flatten lists the sequences of the given kinds of every example, in example then kind order.
func flatten(exs []*example, kinds []string) []model.Sequence {
	var out []model.Sequence
	for _, ex := range exs {
		for _, k := range kinds {
			out = append(out, ex.seqs[k]...)
		}
	}
	return out
}

// scatter stores flat per-sequence log-probs (in flatten's order) into dst(example).
func scatter(exs []*example, kinds []string, lps [][]float32, dst func(*example) map[string][][]float32) {
	i := 0
	for _, ex := range exs {
		m := dst(ex)
		for _, k := range kinds {
			n := len(ex.seqs[k])
			m[k] = lps[i : i+n]
			i += n
		}
	}
}

func countMask(s model.Sequence) int {
	n := 0
	for _, m := range s.Mask {
		if m {
			n++
		}
	}
	return n
}

func sum64(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// ParseRevisionTemplate parses SRPO's revision prompt (objective.revision_template): a Go
// text/template with {{.Prompt}} and {{.Response}}; a missing key is an error.
func ParseRevisionTemplate(s string) (*template.Template, error) {
	t, err := template.New("revision").Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("train: revision template: %w", err)
	}
	return t, nil
}

// RenderRevision renders the revision prompt for a prompt and a previous response: the one
// rule that training (SRPO's imp_w/imp_l/self_l sequences) and inference (align generate
// --revisions) share.
func RenderRevision(t *template.Template, prompt, response string) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ Prompt, Response string }{prompt, response}); err != nil {
		return "", fmt.Errorf("train: revision template: %w", err)
	}
	return b.String(), nil
}

// DefaultRevisionTemplate is the SRPO recipe's objective.revision_template, so inference
// revises with the prompt the model was trained on ("" when the recipe cannot be loaded).
func DefaultRevisionTemplate() string {
	r, err := recipes.Load("srpo", nil)
	if err != nil {
		return ""
	}
	return r.Objective.RevisionTemplate
}

// Revision is one text of SRPO's self-revision at inference: revision 0 answers the prompt,
// revision k+1 answers the revision prompt rendered from the prompt and revision k.
type Revision struct {
	Revision int    `json:"revision"`
	Prompt   string `json:"prompt"`
	Text     string `json:"text"`
}

// Revise runs SRPO's self-revision at inference with a model's own engine: y0 from prompt,
// then y(k+1) from the revision prompt of (prompt, y(k)), for k < revisions; revision k samples
// with opt.Seed + k.
func Revise(ctx context.Context, m *model.Model, prompt string, revisions int, revisionTemplate string, opt model.SampleOptions) ([]Revision, error) {
	if revisions < 0 {
		return nil, fmt.Errorf("train: revisions %d: want 0 or more", revisions)
	}
	var tpl *template.Template
	if revisions > 0 {
		var err error
		if tpl, err = ParseRevisionTemplate(revisionTemplate); err != nil {
			return nil, err
		}
	}
	var out []Revision
	p := prompt
	for k := 0; k <= revisions; k++ {
		if k > 0 {
			var err error
			if p, err = RenderRevision(tpl, prompt, out[k-1].Text); err != nil {
				return out, err
			}
		}
		o := opt
		o.Seed += uint64(k)
		text, err := m.GenerateText(ctx, p, o)
		if err != nil {
			return out, fmt.Errorf("train: revision %d: %w", k, err)
		}
		out = append(out, Revision{Revision: k, Prompt: p, Text: text})
	}
	return out, nil
}
