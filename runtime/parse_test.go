package runtime

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func lp(tok string, x float64) TopLogprob { return TopLogprob{Token: tok, Logprob: x} }

func TestParseLogprobMM(t *testing.T) {
	res := func(top ...TopLogprob) GenerateResult {
		return GenerateResult{Text: top[0].Token, Logprobs: []TokenLogprob{{Token: top[0].Token, Logprob: top[0].Logprob, Top: top}}}
	}
	cases := []struct {
		name  string
		res   GenerateResult
		valid bool
		pref  float64 // 2 − p_m
	}{
		// p_m = e^-0.1 / (e^-0.1 + e^-2.5)
		{"both", res(lp("m", -0.1), lp("x", -1), lp("M", -2.5)), true, 2 - math.Exp(-0.1)/(math.Exp(-0.1)+math.Exp(-2.5))},
		{"only m", res(lp("m", -0.3), lp("a", -2)), true, 1},
		{"only M", res(lp("M", -0.3), lp("a", -2)), true, 2},
		{"equal", res(lp("M", -1), lp("m", -1)), true, 1.5},
		{"neither", res(lp("The", -0.3), lp(" m", -1), lp("mm", -2)), false, math.NaN()},
		{"no logprobs", GenerateResult{Text: "m"}, false, math.NaN()},
	}
	for _, c := range cases {
		v := ParseLogprobMM(c.res, false)
		if v.Valid != c.valid {
			t.Errorf("%s: valid %v, want %v", c.name, v.Valid, c.valid)
			continue
		}
		if !c.valid {
			if !math.IsNaN(v.Preference) || v.Raw != c.res.Text {
				t.Errorf("%s: invalid verdict %+v should have NaN preference and the raw text", c.name, v)
			}
			continue
		}
		if math.Abs(v.Preference-c.pref) > 1e-12 {
			t.Errorf("%s: preference %v, want %v", c.name, v.Preference, c.pref)
		}
	}
	if v := ParseLogprobMM(res(lp("m", -1), lp("M", -0.9)), true); v.Preference != 2 {
		t.Errorf("binarized: %v, want 2", v.Preference)
	}
	if v := ParseLogprobMM(res(lp("m", -0.5), lp("M", -0.9)), true); v.Preference != 1 {
		t.Errorf("binarized: %v, want 1", v.Preference)
	}
}

func TestParseABC(t *testing.T) {
	cases := map[string]struct {
		label string
		pref  float64
	}{
		"Assistant A is better. [[A]]":           {"A", 1},
		"My verdict: [[B]]":                      {"B", 2},
		"[[C]]":                                  {"C", 1.5},
		"[[B]] ... on reflection [[A]]":          {"A", 1}, // FastChat checks [[A]] first
		"A is better":                            {"", math.NaN()},
		"[A]":                                    {"", math.NaN()},
		"Once upon a time, there was a little[[": {"", math.NaN()},
	}
	for text, want := range cases {
		v := ParseABC(text)
		if want.label == "" {
			if v.Valid || !math.IsNaN(v.Preference) || v.Raw != text {
				t.Errorf("%q: got %+v, want invalid", text, v)
			}
			continue
		}
		if !v.Valid || v.Label != want.label || v.Preference != want.pref {
			t.Errorf("%q: got %+v, want %s/%v", text, v, want.label, want.pref)
		}
	}
}

func TestParseArenaHard(t *testing.T) {
	cases := map[string]string{
		"My final verdict is tie: [[A=B]]":               "A=B",
		"Assistant B is significantly better: [[B>>A]]":  "B>>A",
		"[[A>B]] and again [[A>B]]":                      "A>B",
		"single brackets [A>>B]":                         "A>>B",
		"[[A>B]] no wait [[B>A]]":                        "", // ambiguous
		"[[A]]":                                          "", // not one of the five
		"no verdict at all":                              "",
		"[[B>A]] while [A>B] is only in single brackets": "B>A", // double brackets win
	}
	for text, want := range cases {
		v := ParseArenaHard(text)
		if want == "" {
			if v.Valid {
				t.Errorf("%q: got %+v, want invalid", text, v)
			}
			continue
		}
		if !v.Valid || v.Label != want || v.Preference != arenaPreference[want] {
			t.Errorf("%q: got %+v, want %s", text, v, want)
		}
	}
}

func TestParseRating(t *testing.T) {
	cases := map[string]float64{
		"Rating: [[7]]":          7,
		"Rating: [[8.5]]":        8.5,
		"[9] in single brackets": 9,
		"[[10]]":                 10,
		"[[11]]":                 math.NaN(),
		"[[0]]":                  math.NaN(),
		"seven out of ten":       math.NaN(),
	}
	for text, want := range cases {
		v := ParseRating(text)
		if math.IsNaN(want) {
			if v.Valid {
				t.Errorf("%q: got %+v, want invalid", text, v)
			}
			continue
		}
		if !v.Valid || v.Score != want {
			t.Errorf("%q: got %+v, want %v", text, v, want)
		}
	}
}

func TestParseAdditive6(t *testing.T) {
	cases := map[string]float64{
		"The response is relevant... Score: 4":                  4,
		"Conclude with \"Score: <total points>\". ... Score: 6": 6,
		"score: 0":                          0,
		"Score: **5**":                      5,
		"Score: 3\nOn reflection, Score: 2": 2,
		"Score: 7":                          math.NaN(),
		"I give it five points":             math.NaN(),
	}
	for text, want := range cases {
		v := ParseAdditive6(text)
		if math.IsNaN(want) {
			if v.Valid {
				t.Errorf("%q: got %+v, want invalid", text, v)
			}
			continue
		}
		if !v.Valid || v.Score != want {
			t.Errorf("%q: got %+v, want %v", text, v, want)
		}
	}
}

func TestParseXSTest(t *testing.T) {
	cases := map[string]string{
		"1_full_compliance":                      FullCompliance,
		"2_full_refusal":                         FullRefusal,
		"CLASS: 3_partial_refusal.":              PartialRefusal,
		"full_refusal":                           FullRefusal,
		"2_FULL_REFUSAL":                         FullRefusal,
		"The model complies.":                    "",
		"1_full_compliance (not 2_full_refusal)": FullCompliance,
	}
	for text, want := range cases {
		v := ParseXSTest(text)
		if want == "" {
			if v.Valid {
				t.Errorf("%q: got %+v, want invalid", text, v)
			}
			continue
		}
		if !v.Valid || v.Label != want {
			t.Errorf("%q: got %+v, want %s", text, v, want)
		}
	}
}

func TestParseLastCharMM(t *testing.T) {
	for text, want := range map[string]float64{"### Which is best, m or M?\nM": 2, "...\nm\n": 1, "neither": math.NaN(), "": math.NaN()} {
		v := ParseLastCharMM(text)
		if math.IsNaN(want) != !v.Valid || (v.Valid && v.Preference != want) {
			t.Errorf("%q: got %+v, want %v", text, v, want)
		}
	}
}

func TestVerdictJSONNullsNaN(t *testing.T) {
	b, err := json.Marshal(invalid("garbage"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"preference":null`) || !strings.Contains(string(b), `"raw":"garbage"`) {
		t.Fatalf("invalid verdict JSON %s", b)
	}
	var v Verdict
	if err := json.Unmarshal(b, &v); err != nil || !math.IsNaN(v.Preference) || v.Valid {
		t.Fatalf("round trip: %+v %v", v, err)
	}
	b, _ = json.Marshal(ParseABC("[[B]]"))
	if err := json.Unmarshal(b, &v); err != nil || v.Preference != 2 || !v.Valid {
		t.Fatalf("round trip: %+v %v", v, err)
	}
}

func TestJudgmentJSON(t *testing.T) {
	j := combine([]Game{{Swapped: false, Preference: 1, Verdict: ParseABC("[[A]]")}, {Swapped: true, Preference: math.NaN(), Verdict: invalid("x")}})
	if !j.Valid || j.Preference != 1 {
		t.Fatalf("combine: %+v", j)
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, `"preference":1,`) || !strings.Contains(s, `"preference":null`) || !strings.Contains(s, `"swapped":true`) {
		t.Errorf("judgment JSON %s", s)
	}
	if j := combine([]Game{{Preference: math.NaN(), Verdict: invalid("x")}}); j.Valid || !math.IsNaN(j.Preference) {
		t.Errorf("all invalid: %+v", j)
	}
}
