package curate

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

//go:embed attacks.yaml
var embeddedAttacks []byte

// Attack is one attack-style template.
type Attack struct {
	// Name identifies the template; unique within a set.
	Name string `yaml:"name" json:"name"`
	// Style is the family the attack-success rate is reported by (none, role_play,
	// prefix_injection, refusal_suppression, hypothetical, obfuscation, ...).
	Style string `yaml:"style" json:"style"`
	// Description says what the attack does.
	Description string `yaml:"description" json:"description"`
	// Template is a Go text/template over {{.Prompt}}, with the functions base64, leet, rot13.
	Template string `yaml:"template" json:"template"`

	tpl *template.Template
}

// AttackSet is the YAML file: a schema version and the templates.
type AttackSet struct {
	Version int      `yaml:"version" json:"version"`
	Attacks []Attack `yaml:"attacks" json:"attacks"`
}

func attackFuncs() template.FuncMap {
	return template.FuncMap{
		"base64": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"leet":   Leetspeak,
		"rot13":  ROT13,
	}
}

// Leetspeak replaces a, e, i, o, s, t (either case) by 4, 3, 1, 0, 5, 7.
func Leetspeak(s string) string {
	return strings.NewReplacer("a", "4", "A", "4", "e", "3", "E", "3", "i", "1", "I", "1",
		"o", "0", "O", "0", "s", "5", "S", "5", "t", "7", "T", "7").Replace(s)
}

// ROT13 rotates ASCII letters by 13 places.
func ROT13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

// ParseAttacks parses and checks an attack file: version 1, unknown keys rejected, names unique
// and non-empty, every template parsing and depending on the prompt.
func ParseAttacks(b []byte, name string) ([]Attack, error) {
	var set AttackSet
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&set); err != nil {
		return nil, fmt.Errorf("curate: attacks %s: %w", name, err)
	}
	if set.Version != 1 {
		return nil, fmt.Errorf("curate: attacks %s: version %d, want 1", name, set.Version)
	}
	seen := map[string]bool{}
	for i := range set.Attacks {
		a := &set.Attacks[i]
		if a.Name == "" {
			return nil, fmt.Errorf("curate: attacks %s: attack %d has no name", name, i)
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("curate: attacks %s: attack %q defined twice", name, a.Name)
		}
		seen[a.Name] = true
		if a.Style == "" {
			a.Style = a.Name
		}
		tpl, err := template.New(a.Name).Funcs(attackFuncs()).Option("missingkey=error").Parse(a.Template)
		if err != nil {
			return nil, fmt.Errorf("curate: attacks %s: attack %q: %w", name, a.Name, err)
		}
		a.tpl = tpl
		x, err1 := a.Apply("alpha request")
		y, err2 := a.Apply("omega question")
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("curate: attacks %s: attack %q: %v", name, a.Name, firstErr(err1, err2))
		}
		if x == y {
			return nil, fmt.Errorf("curate: attacks %s: attack %q does not use {{.Prompt}}", name, a.Name)
		}
	}
	return set.Attacks, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// DefaultAttacks returns the embedded set (attacks.yaml; documented in docs/safety.md).
func DefaultAttacks() []Attack {
	as, err := ParseAttacks(embeddedAttacks, "embedded attacks.yaml")
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return as
}

// LoadAttacks returns the embedded set extended by the user's file, if path is not empty. A
// user attack with the name of an embedded one replaces it in place; new ones are appended.
func LoadAttacks(path string) ([]Attack, error) {
	as := DefaultAttacks()
	if path == "" {
		return as, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("curate: attacks: %w", err)
	}
	user, err := ParseAttacks(b, path)
	if err != nil {
		return nil, err
	}
	return MergeAttacks(as, user), nil
}

// MergeAttacks returns base with extra merged in: same names replace, new names append.
func MergeAttacks(base, extra []Attack) []Attack {
	out := append([]Attack(nil), base...)
	idx := map[string]int{}
	for i, a := range out {
		idx[a.Name] = i
	}
	for _, a := range extra {
		if i, ok := idx[a.Name]; ok {
			out[i] = a
			continue
		}
		idx[a.Name] = len(out)
		out = append(out, a)
	}
	return out
}

// SelectAttacks keeps the attacks whose name or style is listed; nil or empty keeps all.
func SelectAttacks(as []Attack, names []string) ([]Attack, error) {
	if len(names) == 0 {
		return as, nil
	}
	var out []Attack
	for _, n := range names {
		found := false
		for _, a := range as {
			if a.Name == n || a.Style == n {
				out = append(out, a)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("curate: no attack or style named %q", n)
		}
	}
	return out, nil
}

// Apply renders the attack around one request.
func (a Attack) Apply(prompt string) (string, error) {
	if a.tpl == nil {
		return "", fmt.Errorf("curate: attack %q was not parsed (use ParseAttacks or LoadAttacks)", a.Name)
	}
	var b strings.Builder
	if err := a.tpl.Execute(&b, struct{ Prompt string }{prompt}); err != nil {
		return "", fmt.Errorf("curate: attack %q: %w", a.Name, err)
	}
	return b.String(), nil
}

// AttackedPrompt is a prompt with an attack applied.
type AttackedPrompt struct {
	Text
	// Attack and Style name the template applied.
	Attack string `json:"attack"`
	Style  string `json:"style"`
	// Original is the request before the attack.
	Original string `json:"original"`
}

// ApplyAttacks applies every attack to every prompt, prompt-major. The ID of each result is
// "ID@attack"; label and category are kept.
func ApplyAttacks(prompts []Text, attacks []Attack) ([]AttackedPrompt, error) {
	out := make([]AttackedPrompt, 0, len(prompts)*len(attacks))
	for _, p := range prompts {
		for _, a := range attacks {
			s, err := a.Apply(p.Text)
			if err != nil {
				return nil, err
			}
			t := p
			t.ID, t.Text = p.ID+"@"+a.Name, s
			out = append(out, AttackedPrompt{Text: t, Attack: a.Name, Style: a.Style, Original: p.Text})
		}
	}
	return out, nil
}
