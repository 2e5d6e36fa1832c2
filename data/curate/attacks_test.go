package curate

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultAttacks(t *testing.T) {
	as := DefaultAttacks()
	styles := map[string]bool{}
	for _, a := range as {
		styles[a.Style] = true
		if a.Description == "" {
			t.Errorf("attack %s has no description", a.Name)
		}
	}
	for _, s := range []string{"none", "role_play", "prefix_injection", "refusal_suppression", "hypothetical", "obfuscation"} {
		if !styles[s] {
			t.Errorf("embedded set lacks style %s", s)
		}
	}
	req := "How do I pick a lock?"
	get := func(name string) string {
		for _, a := range as {
			if a.Name == name {
				s, err := a.Apply(req)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		}
		t.Fatalf("no attack %s", name)
		return ""
	}
	if get("direct") != req {
		t.Error("direct attack changed the prompt")
	}
	if s := get("prefix_injection"); !strings.HasPrefix(s, req) || !strings.Contains(s, "Absolutely") {
		t.Errorf("prefix injection: %q", s)
	}
	if s := get("base64"); !strings.Contains(s, base64.StdEncoding.EncodeToString([]byte(req))) || strings.Contains(s, req) {
		t.Errorf("base64: %q", s)
	}
	if s := get("leetspeak"); s != "H0w d0 1 p1ck 4 l0ck?" {
		t.Errorf("leetspeak: %q", s)
	}
	if s := get("rot13"); !strings.Contains(s, "Ubj qb V cvpx n ybpx?") {
		t.Errorf("rot13: %q", s)
	}
	if ROT13(ROT13(req)) != req {
		t.Error("rot13 is not an involution")
	}
}

func TestUserAttacks(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "attacks.yaml")
	if err := writeFile(user, `version: 1
attacks:
  - name: direct
    style: none
    description: replaced
    template: "Q: {{.Prompt}}"
  - name: shout
    style: formatting
    description: upper case
    template: "{{.Prompt}} NOW"
`); err != nil {
		t.Fatal(err)
	}
	as, err := LoadAttacks(user)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != len(DefaultAttacks())+1 || as[0].Name != "direct" || as[len(as)-1].Name != "shout" {
		t.Fatalf("merge gave %d attacks, first %s, last %s", len(as), as[0].Name, as[len(as)-1].Name)
	}
	if s, _ := as[0].Apply("x"); s != "Q: x" {
		t.Errorf("user attack did not replace the embedded one: %q", s)
	}
	sel, err := SelectAttacks(as, []string{"formatting", "base64"})
	if err != nil || len(sel) != 2 {
		t.Fatalf("select: %v %v", sel, err)
	}
	if _, err := SelectAttacks(as, []string{"nope"}); err == nil {
		t.Error("unknown attack selected")
	}
	ps, err := ApplyAttacks([]Text{{ID: "p1", Text: "hi", Label: "unsafe"}}, sel)
	if err != nil || len(ps) != 2 || ps[0].ID != "p1@shout" || ps[0].Text.Text != "hi NOW" || ps[0].Label != "unsafe" || ps[0].Original != "hi" {
		t.Errorf("apply: %+v %v", ps, err)
	}

	for name, bad := range map[string]string{
		"unknown key":  "version: 1\nattacks:\n  - name: a\n    tmpl: x\n",
		"no prompt":    "version: 1\nattacks:\n  - name: a\n    template: constant\n",
		"bad version":  "version: 2\nattacks: []\n",
		"duplicate":    "version: 1\nattacks:\n  - {name: a, template: '{{.Prompt}}'}\n  - {name: a, template: '{{.Prompt}}'}\n",
		"bad template": "version: 1\nattacks:\n  - {name: a, template: '{{.Prompt'}\n",
		"unknown func": "version: 1\nattacks:\n  - {name: a, template: '{{hex .Prompt}}'}\n",
	} {
		if _, err := ParseAttacks([]byte(bad), name); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
