package runtime

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

//go:embed templates
var templateFS embed.FS

// Judge kinds.
const (
	// Pairwise templates compare two outputs; their verdicts carry a Preference.
	Pairwise = "pairwise"
	// Single templates grade or classify one response; their verdicts carry a Score or Label.
	Single = "single"
)

// Parser names, one per answer format.
const (
	ParserLogprobMM  = "logprob_mM"   // AlpacaEval 2: m/M from the first token's top_logprobs
	ParserABC        = "abc"          // MT-Bench pairwise: [[A]] / [[B]] / [[C]]
	ParserArenaHard  = "arena_hard"   // Arena-Hard: [[A>>B]] … [[B>>A]]
	ParserRating     = "rating"       // MT-Bench single: [[1–10]]
	ParserAdditive6  = "additive6"    // DNO's 6-point additive rubric: "Score: N", N in 0..6
	ParserXSTest     = "xstest"       // XSTest: full_compliance / full_refusal / partial_refusal
	ParserLastCharMM = "last_char_mM" // AlpacaEval CoT: the answer's last character, m or M
)

// JudgeTemplate is a judge prompt: system and user texts with {name} placeholders, the parser
// of its answers, and the sampling settings it was published with.
type JudgeTemplate struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // Pairwise or Single
	System string `json:"system,omitempty"`
	User   string `json:"user"`
	Parser string `json:"parser"`
	// Options are the judge's sampling settings; Logprobs/TopLogprobs are asked when the
	// parser needs them.
	Options     Options `json:"options"`
	Logprobs    bool    `json:"logprobs,omitempty"`
	TopLogprobs int     `json:"top_logprobs,omitempty"`
	Source      string  `json:"source"`
}

// Placeholders lists the {name} placeholders of the template, sorted.
func (t JudgeTemplate) Placeholders() []string {
	set := map[string]bool{}
	for _, s := range []string{t.System, t.User} {
		for _, m := range placeholderRe.FindAllStringSubmatch(s, -1) {
			set[m[1]] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var placeholderRe = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)

// Render fills the template's placeholders from vars, in one pass (a value that contains
// "{output_2}" is not expanded again). Braces that are not a placeholder stay as they are. A
// placeholder with no value is an error.
func (t JudgeTemplate) Render(vars map[string]string) ([]Message, error) {
	var missing []string
	fill := func(s string) string {
		return placeholderRe.ReplaceAllStringFunc(s, func(m string) string {
			name := m[1 : len(m)-1]
			v, ok := vars[name]
			if !ok {
				if !slices.Contains(missing, name) {
					missing = append(missing, name)
				}
				return m
			}
			return v
		})
	}
	var msgs []Message
	if t.System != "" {
		msgs = append(msgs, Message{Role: "system", Content: fill(t.System)})
	}
	msgs = append(msgs, Message{Role: "user", Content: fill(t.User)})
	if len(missing) > 0 {
		return nil, fmt.Errorf("runtime: judge template %s: no value for %s", t.Name, strings.Join(missing, ", "))
	}
	return msgs, nil
}

// Templates returns every embedded judge template, sorted by name.
func Templates() []JudgeTemplate {
	ts, err := loadTemplates()
	if err != nil {
		panic(err) // the embedded files are part of the build; tests cover them
	}
	return ts
}

// Template returns the embedded judge template of that name.
func Template(name string) (JudgeTemplate, error) {
	var names []string
	for _, t := range Templates() {
		if t.Name == name {
			return t, nil
		}
		names = append(names, t.Name)
	}
	return JudgeTemplate{}, fmt.Errorf("runtime: no judge template %q (have %s)", name, strings.Join(names, ", "))
}

func readTemplate(path string) string {
	b, err := templateFS.ReadFile("templates/" + path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// chatML splits AlpacaEval's "<|im_start|>role\n…\n<|im_end|>" prompt files into system and
// user texts, as alpaca_eval does before calling a chat API.
func chatML(s string) (system, user string, err error) {
	for _, part := range strings.Split(s, "<|im_start|>")[1:] {
		part, _, _ = strings.Cut(part, "<|im_end|>")
		role, content, ok := strings.Cut(part, "\n")
		if !ok {
			return "", "", fmt.Errorf("runtime: bad chatml block %q", part)
		}
		content = strings.TrimSpace(content)
		switch strings.TrimSpace(role) {
		case "system":
			system = content
		case "user":
			user = content
		default:
			return "", "", fmt.Errorf("runtime: unexpected chatml role %q", role)
		}
	}
	if user == "" {
		return "", "", fmt.Errorf("runtime: chatml prompt without user turn")
	}
	return system, user, nil
}

func loadTemplates() ([]JudgeTemplate, error) {
	var out []JudgeTemplate
	alpaca := []struct {
		name, file, parser string
		opt                Options
		logprobs           bool
		top                int
	}{
		// weighted_alpaca_eval_gpt4_turbo: max_tokens 1, temperature 1, logprobs, top_logprobs 5.
		{"alpaca_eval_clf", "alpaca_eval_clf.txt", ParserLogprobMM, Options{Temperature: 1, TopP: 1, RepeatPenalty: 1, NumPredict: 1}, true, 5},
		{"alpaca_eval_clf_cot", "alpaca_eval_clf_cot.txt", ParserLastCharMM, Options{Temperature: 0, TopP: 1, RepeatPenalty: 1, NumPredict: 300}, false, 0},
	}
	for _, a := range alpaca {
		sys, user, err := chatML(readTemplate("alpaca_eval/" + a.file))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.file, err)
		}
		out = append(out, JudgeTemplate{
			Name: a.name, Kind: Pairwise, System: sys, User: user, Parser: a.parser, Options: a.opt,
			Logprobs: a.logprobs, TopLogprobs: a.top, Source: "tatsu-lab/alpaca_eval " + a.file,
		})
	}

	// MT-Bench: temperature 0, max_tokens 2048 in FastChat's judge calls.
	sc := bufio.NewScanner(bytes.NewReader([]byte(readTemplate("fastchat/judge_prompts.jsonl"))))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var jp struct {
			Name           string `json:"name"`
			SystemPrompt   string `json:"system_prompt"`
			PromptTemplate string `json:"prompt_template"`
			OutputFormat   string `json:"output_format"`
		}
		if err := json.Unmarshal(sc.Bytes(), &jp); err != nil {
			return nil, fmt.Errorf("judge_prompts.jsonl: %w", err)
		}
		t := JudgeTemplate{
			Name: "mt-bench/" + jp.Name, System: jp.SystemPrompt, User: jp.PromptTemplate,
			Options: Options{Temperature: 0, TopP: 1, RepeatPenalty: 1, NumPredict: 2048},
			Source:  "lm-sys/FastChat judge_prompts.jsonl " + jp.Name,
		}
		switch jp.OutputFormat {
		case "[[A]]":
			t.Kind, t.Parser = Pairwise, ParserABC
		case "[[rating]]":
			t.Kind, t.Parser = Single, ParserRating
		default:
			return nil, fmt.Errorf("judge_prompts.jsonl %s: unknown output format %q", jp.Name, jp.OutputFormat)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}

	out = append(out,
		JudgeTemplate{
			Name: "arena-hard", Kind: Pairwise, Parser: ParserArenaHard,
			System: strings.TrimSpace(readTemplate("arena_hard/system.txt")),
			User:   strings.TrimSpace(readTemplate("arena_hard/user.txt")),
			// arena-hard-v0.1 judge_config.yaml: temperature 0, max_tokens 4096.
			Options: Options{Temperature: 0, TopP: 1, RepeatPenalty: 1, NumPredict: 4096},
			Source:  "lmarena/arena-hard-auto config/judge_config.yaml (v0.1)",
		},
		JudgeTemplate{
			Name: "dno-additive6", Kind: Single, Parser: ParserAdditive6,
			User:    strings.TrimSpace(readTemplate("align/additive6.txt")),
			Options: Options{Temperature: 0, TopP: 1, RepeatPenalty: 1, NumPredict: 512},
			Source:  "align (after Self-Rewarding LMs' additive 5-point prompt, plus DNO's sixth point)",
		},
		JudgeTemplate{
			Name: "xstest", Kind: Single, Parser: ParserXSTest,
			System:  "You are a helpful assistant.",
			User:    strings.TrimSpace(readTemplate("xstest/classify.txt")),
			Options: Options{Temperature: 0, TopP: 1, RepeatPenalty: 1, NumPredict: 16},
			Source:  "paul-rottger/exaggerated-safety evaluation/classify_completions_gpt.py",
		},
	)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LoadTemplate reads a judge template of one's own from a JSON file with JudgeTemplate's
// fields, e.g.
//
//	{"name": "mine", "kind": "pairwise", "parser": "abc", "system": "...",
//	 "user": "Q: {question}\nA: {answer_a}\nB: {answer_b}\nVerdict ([[A]], [[B]] or [[C]]):",
//	 "options": {"temperature": 0, "num_predict": 512}}
//
// The parser must be one of the Parser* names; options take PolicyOptions' meaning of zero.
func LoadTemplate(path string) (JudgeTemplate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return JudgeTemplate{}, fmt.Errorf("runtime: judge template: %w", err)
	}
	var t JudgeTemplate
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return JudgeTemplate{}, fmt.Errorf("runtime: judge template %s: %w", path, err)
	}
	if t.Name == "" {
		t.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if t.Source == "" {
		t.Source = path
	}
	if err := t.Validate(); err != nil {
		return JudgeTemplate{}, fmt.Errorf("%w (%s)", err, path)
	}
	return t, nil
}

// Validate checks a template's kind, parser, text and options.
func (t JudgeTemplate) Validate() error {
	switch {
	case t.Kind != Pairwise && t.Kind != Single:
		return fmt.Errorf("runtime: judge template %s: kind must be %q or %q, not %q", t.Name, Pairwise, Single, t.Kind)
	case strings.TrimSpace(t.User) == "":
		return fmt.Errorf("runtime: judge template %s: no user text", t.Name)
	case t.Parser == ParserLogprobMM && (!t.Logprobs || t.TopLogprobs < 1):
		return fmt.Errorf("runtime: judge template %s: parser %s needs logprobs and top_logprobs ≥ 1", t.Name, t.Parser)
	}
	if v := ParseWith(t.Parser, GenerateResult{}); strings.HasPrefix(v.Label, "unknown parser") {
		return fmt.Errorf("runtime: judge template %s: unknown parser %q (have %s)", t.Name, t.Parser,
			strings.Join([]string{ParserLogprobMM, ParserLastCharMM, ParserABC, ParserArenaHard, ParserRating, ParserAdditive6, ParserXSTest}, ", "))
	}
	if _, err := t.Options.normalized(); err != nil {
		return fmt.Errorf("runtime: judge template %s: %w", t.Name, err)
	}
	return nil
}
