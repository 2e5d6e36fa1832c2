package model

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/template"
	"github.com/ollama/ollama/tokenizer"

	"github.com/alignkit/align/data"
)

// Message is one chat turn.
type Message = data.Message

// Sequence is a tokenized example.
type Sequence struct {
	Tokens []int32
	// Mask[i] is true when Tokens[i] is a response token whose log-prob counts (predicted from
	// Tokens[:i]). Mask[0] is never true.
	Mask []bool
}

// Pretokenizer patterns, chosen by tokenizer.ggml.pre as ollama's llama model does.
const (
	preLlama = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	preQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// Pretokenizers of the other tokenizer.ggml.pre values: SmolLM2's (llama.cpp's
// LLAMA_VOCAB_PRE_TYPE_SMOLLM, the same as refact's: single digits, then GPT-2's split) and
// Mistral Nemo's tekken.
const (
	preDigits = `\p{N}`
	preSmolLM = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	preTekken = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// bpePretokenizers returns the pre-tokenizer regexes of a gpt2 (byte-level BPE) vocabulary as
// the runner that Ollama v0.17.4 uses for arch applies them. qwen3 runs in Ollama's Go engine,
// whose qwen3 model always splits with Qwen2's regex; the llama.cpp runner (llama, qwen2,
// phi3) chooses by tokenizer.ggml.pre (llama-vocab.cpp), and a value align does not know is
// refused by name rather than tokenized another way.
func bpePretokenizers(arch, pre string) ([]string, error) {
	if arch == "qwen3" {
		return []string{preQwen2}, nil
	}
	switch pre {
	case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral":
		return []string{preLlama}, nil
	case "qwen2", "deepseek-r1-qwen":
		return []string{preQwen2}, nil
	case "smollm", "refact":
		return []string{preDigits, preSmolLM}, nil
	case "tekken":
		return []string{preTekken}, nil
	}
	return nil, fmt.Errorf("unsupported tokenizer.ggml.pre %q for a gpt2 vocabulary (supported: llama-bpe/llama3, qwen2, smollm, refact, tekken)", pre)
}

func (m *Model) initTokenizer() error {
	kv := m.kv
	v := &tokenizer.Vocabulary{
		Values: kv.Strings("tokenizer.ggml.tokens"),
		Scores: kv.Floats("tokenizer.ggml.scores"),
		Types:  kv.Ints("tokenizer.ggml.token_type"),
		Merges: kv.Strings("tokenizer.ggml.merges"),
		AddBOS: kv.Bool("tokenizer.ggml.add_bos_token", true),
		BOS:    []int32{int32(kv.Uint("tokenizer.ggml.bos_token_id"))},
		AddEOS: kv.Bool("tokenizer.ggml.add_eos_token", false),
		EOS:    append([]int32{int32(kv.Uint("tokenizer.ggml.eos_token_id"))}, kv.Ints("tokenizer.ggml.eos_token_ids")...),
	}
	if len(v.Values) == 0 {
		return errors.New("tokenizer.ggml.tokens missing")
	}
	if len(v.Types) != len(v.Values) {
		v.Types = make([]int32, len(v.Values))
		for i := range v.Types {
			v.Types[i] = tokenizer.TOKEN_TYPE_NORMAL
		}
	}
	switch model := kv.String("tokenizer.ggml.model"); model {
	case "llama":
		if len(v.Scores) != len(v.Values) {
			return errors.New("tokenizer.ggml.scores missing for a SentencePiece vocabulary")
		}
		m.tok = tokenizer.NewSentencePiece(v)
		// llama.cpp defaults add_space_prefix to true for SPM vocabularies; ollama's Go
		// SentencePiece does not apply it, so Tokenize does for the llama.cpp runner. Ollama's
		// engine (gemma3) never does, whatever the key says: ollama's converter writes none.
		m.spacePrefix = !kv.OllamaEngineRequired() && kv.Bool("tokenizer.ggml.add_space_prefix", true)
		// llama.cpp (llama-vocab.cpp) gives every special token but <unk>, <s> and
		// <|endoftext|> the RSTRIP attribute when general.name contains "phi-3" or "phi3": the
		// whitespace after it is dropped before tokenizing the text that follows.
		n := strings.ToLower(kv.String("general.name"))
		m.phi3Strip = strings.Contains(n, "phi-3") || strings.Contains(n, "phi3")
	case "gpt2":
		pre, err := bpePretokenizers(kv.Architecture(), kv.String("tokenizer.ggml.pre"))
		if err != nil {
			return err
		}
		m.tok = tokenizer.NewBytePairEncoding(v, pre...)
	default:
		return fmt.Errorf("unsupported tokenizer.ggml.model %q (supported: llama, gpt2)", model)
	}
	m.vocab = v
	m.eot = v.EOS[0]
	m.engineTok = kv.OllamaEngineRequired()
	m.specials = specialsLongestFirst(v)
	return nil
}

// special is one control or user-defined token that Tokenize matches in the text.
type special struct {
	text string
	id   int32
}

// specialsLongestFirst lists the vocabulary's control and user-defined tokens as llama.cpp's
// tokenizer_st_partition tries them: longest text first (cache_special_tokens), ties by id.
// ollama/tokenizer tries them in id order, which splits Gemma's user-defined "\n\n" as two
// "\n" when "\n" has the smaller id.
func specialsLongestFirst(v *tokenizer.Vocabulary) []special {
	var sp []special
	for _, s := range v.SpecialVocabulary() {
		sp = append(sp, special{s, v.Encode(s)})
	}
	slices.SortStableFunc(sp, func(a, b special) int { return len(b.text) - len(a.text) })
	return sp
}

// initTemplate picks the Ollama template as the server does at /api/create: the GGUF's
// tokenizer.chat_template matched to Ollama's named templates; LoadOptions.Template overrides.
func (m *Model) initTemplate() error {
	src, name := m.opt.Template, "custom"
	if src == "" {
		ct := m.kv.ChatTemplate()
		if ct == "" {
			return nil // raw completion
		}
		named, err := template.Named(ct)
		if err != nil {
			return nil // Ollama falls back to {{ .Prompt }}: raw completion here
		}
		src, name = string(named.Bytes), named.Name
	}
	t, err := template.Parse(src)
	if err != nil {
		return fmt.Errorf("chat template %s: %w", name, err)
	}
	m.tmpl, m.tmplName = t, name
	if id, ok := m.turnEnd(); ok {
		m.eot = id
	}
	return nil
}

// turnEnd finds the control token the template writes right after an assistant turn's content
// (<|im_end|>, Llama 3's <|eot_id|>, Phi-3's <|end|>): what a chat response ends with and
// what Ollama stops on. Llama 3 GGUFs name <|eot_id|> or <|end_of_text|> as eos_token_id
// depending on the converter, so the template, not EOS[0], decides. ok is false when the
// template writes no control token there (then EOS[0] is used).
func (m *Model) turnEnd() (int32, bool) {
	const mark = "ALIGNTURNEND"
	var b bytes.Buffer
	msgs := []api.Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: mark}, {Role: "user", Content: "hi"}}
	if err := m.tmpl.Execute(&b, template.Values{Messages: msgs}); err != nil {
		return 0, false
	}
	_, after, ok := strings.Cut(b.String(), mark)
	if !ok {
		return 0, false
	}
	after = strings.TrimLeft(after, " ")
	for id, s := range m.vocab.Values {
		if m.vocab.Types[id] == tokenizer.TOKEN_TYPE_CONTROL && s != "" && strings.HasPrefix(after, s) {
			return int32(id), true
		}
	}
	return 0, false
}

// TemplateName returns "" for raw completion, else the Ollama template's name ("custom" when
// given through LoadOptions.Template).
func (m *Model) TemplateName() string { return m.tmplName }

// Tokenize encodes text as llama.cpp does for Ollama's runner: special tokens in the text are
// parsed, a SentencePiece vocabulary with add_space_prefix gets a space before the text and after
// every special token, and addSpecial prepends BOS when the GGUF asks for it.
func (m *Model) Tokenize(text string, addSpecial bool) ([]int32, error) {
	if m.vocab == nil {
		return nil, errNoTokenizer
	}
	ids, err := m.encode(text, true)
	if err != nil {
		return nil, fmt.Errorf("model: tokenize: %w", err)
	}
	if addSpecial && m.vocab.AddBOS && len(m.vocab.BOS) > 0 {
		ids = append([]int32{m.vocab.BOS[0]}, ids...)
	}
	if addSpecial && m.vocab.AddEOS && len(m.vocab.EOS) > 0 {
		ids = append(ids, m.vocab.EOS[0])
	}
	return ids, nil
}

// encode tokenizes text without BOS/EOS. atStart says whether the text begins a sequence (or
// follows a special token), where llama.cpp adds the SentencePiece space prefix. For the
// llama.cpp runner it splits out the special tokens as llama.cpp does (longest first), so
// that ollama/tokenizer only sees text without them; Ollama's engine uses ollama/tokenizer as is.
func (m *Model) encode(text string, atStart bool) ([]int32, error) {
	if m.engineTok {
		return m.tok.Encode(text, false)
	}
	type frag struct {
		text    string
		special int32 // -1 for raw text
	}
	frags := []frag{{text, -1}}
	for _, sp := range m.specials {
		var out []frag
		for _, f := range frags {
			for f.special < 0 {
				i := strings.Index(f.text, sp.text)
				if i < 0 {
					break
				}
				if i > 0 {
					out = append(out, frag{f.text[:i], -1})
				}
				out = append(out, frag{sp.text, sp.id})
				f.text = f.text[i+len(sp.text):]
			}
			if f.special >= 0 || f.text != "" {
				out = append(out, f)
			}
		}
		frags = out
	}
	var ids []int32
	prevSpecial, strip := atStart, false
	for _, f := range frags {
		if f.special >= 0 {
			ids = append(ids, f.special)
			prevSpecial = true
			switch m.vocab.Values[f.special] {
			case "<unk>", "<s>", "<|endoftext|>":
				strip = false
			default:
				strip = m.phi3Strip
			}
			continue
		}
		s := f.text
		if strip {
			if s = strings.TrimLeft(s, " \t\n\v\f\r"); s == "" {
				continue
			}
		}
		strip = false
		if prevSpecial && m.spacePrefix {
			s = " " + s
		}
		part, err := m.tok.Encode(s, false)
		if err != nil {
			return nil, err
		}
		ids = append(ids, part...)
		prevSpecial = false
	}
	return ids, nil
}

// Detokenize decodes ids as one text: control tokens (BOS, EOS, template markers) are dropped
// and the SentencePiece space prefix that Tokenize adds is removed.
func (m *Model) Detokenize(ids []int32) (string, error) {
	s, err := m.decode(ids)
	if err != nil {
		return "", fmt.Errorf("model: detokenize: %w", err)
	}
	if m.spacePrefix {
		s = strings.TrimPrefix(s, " ")
	}
	return s, nil
}

// decode turns ids into text without removing the space prefix (a continuation).
func (m *Model) decode(ids []int32) (string, error) {
	if m.vocab == nil {
		return "", errNoTokenizer
	}
	keep := make([]int32, 0, len(ids))
	for _, id := range ids {
		if id < 0 || int(id) >= len(m.vocab.Values) {
			return "", fmt.Errorf("token id %d out of range [0, %d)", id, len(m.vocab.Values))
		}
		if m.vocab.Types[id] == tokenizer.TOKEN_TYPE_CONTROL {
			continue
		}
		keep = append(keep, id)
	}
	return m.tok.Decode(keep)
}

// TokenString returns the text of one token, for display (control tokens as their name).
func (m *Model) TokenString(id int32) string {
	if m.vocab == nil || id < 0 || int(id) >= len(m.vocab.Values) {
		return fmt.Sprintf("<%d>", id)
	}
	if m.vocab.Types[id] == tokenizer.TOKEN_TYPE_CONTROL {
		return m.vocab.Values[id]
	}
	s, err := m.tok.Decode([]int32{id})
	if err != nil {
		return m.vocab.Values[id]
	}
	return s
}

// EOS returns the end-of-sequence token ids.
func (m *Model) EOS() []int32 {
	if m.vocab == nil {
		return nil
	}
	return slices.Clone(m.vocab.EOS)
}

// BOS returns the beginning-of-sequence token that Tokenize(text, true) puts first; ok is
// false when the vocabulary adds none.
func (m *Model) BOS() (id int32, ok bool) {
	if m.vocab == nil || !m.vocab.AddBOS || len(m.vocab.BOS) == 0 {
		return 0, false
	}
	return m.vocab.BOS[0], true
}

// EndOfTurn returns the token Encode ends a chat response with: the template's end-of-turn
// control token, else the GGUF's first EOS; ok is false for a model without a tokenizer.
func (m *Model) EndOfTurn() (id int32, ok bool) {
	if m.vocab == nil || len(m.vocab.EOS) == 0 {
		return 0, false
	}
	return m.eot, true
}

var errNoTokenizer = errors.New("model has no tokenizer (built with NewRandom)")

// Encode renders prompt (with the generation prompt) and response through the model's template,
// exactly as Ollama renders /api/chat, and tokenizes them: prompt tokens (with BOS where the GGUF
// asks for it), then the response's tokens and the end-of-turn token (the GGUF's EOS). Only
// response tokens are masked in. A model without a template uses raw completion: the prompt's
// contents joined by newlines, then the response's contents, without an end token.
//
// The response is tokenized as a continuation of the prompt (no SentencePiece space prefix
// unless the prompt ended with a special token), as llama.cpp would tokenize the joined text.
func (m *Model) Encode(prompt, response []Message) (Sequence, error) {
	var ptext string
	if m.tmpl != nil {
		msgs := make([]api.Message, len(prompt))
		for i, p := range prompt {
			msgs[i] = api.Message{Role: p.Role, Content: p.Content}
		}
		var b bytes.Buffer
		if err := m.tmpl.Execute(&b, template.Values{Messages: msgs}); err != nil {
			return Sequence{}, fmt.Errorf("model: render template %s: %w", m.tmplName, err)
		}
		ptext = b.String()
	} else {
		parts := make([]string, len(prompt))
		for i, p := range prompt {
			parts[i] = p.Content
		}
		ptext = strings.Join(parts, "\n")
	}
	var rtext strings.Builder
	for _, r := range response {
		rtext.WriteString(r.Content)
	}
	ptoks, err := m.Tokenize(ptext, true)
	if err != nil {
		return Sequence{}, err
	}
	endsSpecial := len(ptoks) == 0 || m.vocab.Types[ptoks[len(ptoks)-1]] == tokenizer.TOKEN_TYPE_CONTROL
	rtoks, err := m.encode(rtext.String(), endsSpecial)
	if err != nil {
		return Sequence{}, fmt.Errorf("model: tokenize response: %w", err)
	}
	if m.tmpl != nil {
		rtoks = append(rtoks, m.eot)
	}
	seq := Sequence{Tokens: append(ptoks, rtoks...), Mask: make([]bool, len(ptoks)+len(rtoks))}
	for i := len(ptoks); i < len(seq.Mask); i++ {
		seq.Mask[i] = i > 0
	}
	return seq, nil
}

// SameTokenizer reports whether two models tokenize identically (same vocabulary, merges,
// special tokens and space-prefix rule), so that log-probs of the same token ids compare.
func (m *Model) SameTokenizer(o *Model) bool {
	a, b := m.vocab, o.vocab
	if a == nil || b == nil {
		return false
	}
	return m.spacePrefix == o.spacePrefix && m.engineTok == o.engineTok &&
		slices.Equal(a.Values, b.Values) && slices.Equal(a.Types, b.Types) &&
		slices.Equal(a.Merges, b.Merges) && slices.Equal(a.Scores, b.Scores) &&
		slices.Equal(a.BOS, b.BOS) && slices.Equal(a.EOS, b.EOS) && a.AddBOS == b.AddBOS
}

// TokenScore is one response token's log-prob.
type TokenScore struct {
	ID      int32   `json:"id"`
	Token   string  `json:"token"`
	LogProb float32 `json:"logprob"`
}

// Score encodes prompt (a user turn) and response (an assistant turn) as Encode does and returns
// each response token with its log-prob under the model.
func (m *Model) Score(prompt, response string) ([]TokenScore, error) {
	seq, err := m.Encode([]Message{{Role: "user", Content: prompt}}, []Message{{Role: "assistant", Content: response}})
	if err != nil {
		return nil, err
	}
	lps, err := m.LogProbs([]Sequence{seq})
	if err != nil {
		return nil, err
	}
	var out []TokenScore
	k := 0
	for i, on := range seq.Mask {
		if on {
			out = append(out, TokenScore{ID: seq.Tokens[i], Token: m.TokenString(seq.Tokens[i]), LogProb: lps[0][k]})
			k++
		}
	}
	return out, nil
}
