package runtime

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// StructuredMinPredict is the least num_predict of a structured judge call: the JSON grammar
// allows some whitespace between tokens, and a tiny model may spend tokens on it before the
// closing brace.
const StructuredMinPredict = 128

// structuredField is the one key of a template's structured verdict, its allowed values (the
// labels the template's own text asks for) and how a value is written in the template's native
// answer format, so that the template's own parser reads it with the same meaning.
type structuredField struct {
	key     string
	strs    []string // string enum (pairwise labels)
	ints    []int    // integer enum (scores)
	native  func(v string) string
	parseAs string
}

func structuredOf(t JudgeTemplate) (structuredField, error) {
	switch t.Parser {
	case ParserLogprobMM, ParserLastCharMM:
		// AlpacaEval: m = the first shown output is better, M = the second.
		return structuredField{key: "winner", strs: []string{"m", "M"}, native: func(v string) string { return v }, parseAs: ParserLastCharMM}, nil
	case ParserABC:
		return structuredField{key: "winner", strs: []string{"A", "B", "C"}, native: func(v string) string { return "[[" + v + "]]" }, parseAs: ParserABC}, nil
	case ParserArenaHard:
		return structuredField{key: "verdict", strs: []string{"A>>B", "A>B", "A=B", "B>A", "B>>A"}, native: func(v string) string { return "[[" + v + "]]" }, parseAs: ParserArenaHard}, nil
	case ParserRating:
		return structuredField{key: "score", ints: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, native: func(v string) string { return "[[" + v + "]]" }, parseAs: ParserRating}, nil
	case ParserAdditive6:
		return structuredField{key: "score", ints: []int{0, 1, 2, 3, 4, 5, 6}, native: func(v string) string { return "Score: " + v }, parseAs: ParserAdditive6}, nil
	}
	return structuredField{}, fmt.Errorf("runtime: judge template %s (parser %s) has no structured verdict form", t.Name, t.Parser)
}

// StructuredFormat returns the JSON schema that constrains a judge's answer to the template's
// verdict, for Ollama's structured outputs (the request's `format`; the llama.cpp runner turns
// it into a grammar, so even a tiny model can only answer a verdict). The one key and its values
// are the labels the template's text asks for:
//
//   - AlpacaEval (logprob_mM, last_char_mM): {"winner": "m" | "M"} (m: the first shown is better);
//   - MT-Bench pairwise (abc): {"winner": "A" | "B" | "C"} (C: tie);
//   - Arena-Hard: {"verdict": "A>>B" | "A>B" | "A=B" | "B>A" | "B>>A"};
//   - MT-Bench single (rating): {"score": 1..10};
//   - DNO's additive rubric (additive6): {"score": 0..6}.
//
// XSTest's classifier has no structured form (an error).
func StructuredFormat(t JudgeTemplate) (json.RawMessage, error) {
	f, err := structuredOf(t)
	if err != nil {
		return nil, err
	}
	prop := map[string]any{"type": "string", "enum": f.strs}
	if f.ints != nil {
		prop = map[string]any{"type": "integer", "enum": f.ints}
	}
	return json.Marshal(map[string]any{
		"type":                 "object",
		"properties":           map[string]any{f.key: prop},
		"required":             []string{f.key},
		"additionalProperties": false,
	})
}

// ParseStructured reads a structured answer (see StructuredFormat): the JSON object's value is
// written in the template's native answer format and read by the template's own parser, so a
// structured verdict means exactly what the same verdict in free text means. An answer that is
// not such an object (cut by num_predict, say) is invalid, with its raw text.
func ParseStructured(t JudgeTemplate, text string) Verdict {
	f, err := structuredOf(t)
	if err != nil {
		v := invalid(text)
		v.Label = err.Error()
		return v
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(text), &obj) != nil || obj[f.key] == nil {
		return invalid(text)
	}
	var val string
	if f.ints != nil {
		var n int
		if json.Unmarshal(obj[f.key], &n) != nil {
			return invalid(text)
		}
		val = strconv.Itoa(n)
	} else if json.Unmarshal(obj[f.key], &val) != nil {
		return invalid(text)
	}
	ok := false
	for _, s := range f.strs {
		ok = ok || s == val
	}
	for _, n := range f.ints {
		ok = ok || strconv.Itoa(n) == val
	}
	if !ok {
		return invalid(text)
	}
	v := ParseWith(f.parseAs, GenerateResult{Text: f.native(val)})
	v.Raw = text
	return v
}
