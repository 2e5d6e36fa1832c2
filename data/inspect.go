package data

import (
	"io"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// LengthStats summarises the lengths of one field over a file.
type LengthStats struct {
	Count int     `json:"count"`
	Min   int     `json:"min"`
	Mean  float64 `json:"mean"`
	P50   int     `json:"p50"`
	P95   int     `json:"p95"`
	Max   int     `json:"max"`
}

func lengthStats(v []int32) LengthStats {
	if len(v) == 0 {
		return LengthStats{}
	}
	s := append([]int32(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	sum := 0.0
	for _, x := range s {
		sum += float64(x)
	}
	q := func(p float64) int { return int(s[int(math.Ceil(p*float64(len(s))))-1]) }
	return LengthStats{Count: len(s), Min: int(s[0]), Mean: sum / float64(len(s)), P50: q(0.5), P95: q(0.95), Max: int(s[len(s)-1])}
}

// RolePattern counts one sequence of roles, written like "system,user | assistant" (the prompt's
// roles, then the response's).
type RolePattern struct {
	Pattern string `json:"pattern"`
	Rows    int    `json:"rows"`
}

// Inspection is what Inspect finds in a file.
type Inspection struct {
	File   string       `json:"file"`
	Format Format       `json:"format"`
	Kind   Kind         `json:"kind"`
	Schema []ColumnInfo `json:"schema"`
	Rows   int          `json:"rows"`
	// Report counts the invalid rows (which the statistics leave out).
	Report Report `json:"report"`
	// RolePatterns are the most common role sequences (up to 10).
	RolePatterns []RolePattern `json:"role_patterns"`
	// Chars and Tokens give length statistics per field: "prompt", and "chosen"/"rejected"
	// (pairwise), "response" (ranked), "completion" (unpaired). Chars counts Unicode code
	// points. Tokens is nil unless Inspect was given a tokenizer.
	Chars  map[string]LengthStats `json:"chars"`
	Tokens map[string]LengthStats `json:"tokens,omitempty"`
	// ResponsesPerPrompt summarises ranked data.
	ResponsesPerPrompt *LengthStats `json:"responses_per_prompt,omitempty"`
	// Labels counts unpaired data's labels.
	Labels map[string]int `json:"labels,omitempty"`
}

// Tokenizer counts the tokens of a text (a model's Tokenize, without special tokens).
type Tokenizer func(text string) (int, error)

// Inspect reads a whole file and describes it: format, schema, rows, role patterns and length
// statistics. Invalid rows are counted in Report (as with SkipInvalid) and left out of the
// statistics. With tok, lengths are also given in tokens; a prompt's tokens are those of its
// messages' contents, without the chat template.
func Inspect(path string, opt Options, tok Tokenizer) (*Inspection, error) {
	r, err := open(path, opt, true)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ins := &Inspection{File: r.file, Format: r.Format(), Kind: r.Kind(), Schema: r.Schema(), Chars: map[string]LengthStats{}}
	chars := map[string][]int32{}
	toks := map[string][]int32{}
	patterns := map[string]int{}
	var perPrompt []int32
	var tokErr error
	add := func(field string, ms []Message) {
		n := 0
		var b strings.Builder
		for i, m := range ms {
			n += utf8.RuneCountInString(m.Content)
			if tok != nil {
				if i > 0 {
					b.WriteString("\n")
				}
				b.WriteString(m.Content)
			}
		}
		chars[field] = append(chars[field], int32(n))
		if tok != nil && tokErr == nil {
			t, err := tok(b.String())
			if err != nil {
				tokErr = err
				return
			}
			toks[field] = append(toks[field], int32(t))
		}
	}
	roles := func(ms []Message) string {
		rs := make([]string, len(ms))
		for i, m := range ms {
			rs[i] = m.Role
		}
		return strings.Join(rs, ",")
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			r.report.addError(path, err)
			break
		}
		switch {
		case rec.Pair != nil:
			p := rec.Pair
			add("prompt", p.Prompt)
			add("chosen", p.Chosen)
			add("rejected", p.Rejected)
			patterns[roles(p.Prompt)+" | "+roles(p.Chosen)]++
		case rec.Ranked != nil:
			x := rec.Ranked
			add("prompt", x.Prompt)
			for _, resp := range x.Responses {
				add("response", resp.Messages)
			}
			perPrompt = append(perPrompt, int32(len(x.Responses)))
			if len(x.Responses) > 0 {
				patterns[roles(x.Prompt)+" | "+roles(x.Responses[0].Messages)]++
			}
		case rec.Unpaired != nil:
			u := rec.Unpaired
			add("prompt", u.Prompt)
			add("completion", u.Completion)
			patterns[roles(u.Prompt)+" | "+roles(u.Completion)]++
			if ins.Labels == nil {
				ins.Labels = map[string]int{}
			}
			if u.Label {
				ins.Labels["true"]++
			} else {
				ins.Labels["false"]++
			}
		}
	}
	if tokErr != nil {
		return nil, tokErr
	}
	ins.Report = r.Report()
	ins.Rows = ins.Report.Rows
	for k, v := range chars {
		ins.Chars[k] = lengthStats(v)
	}
	if tok != nil {
		ins.Tokens = map[string]LengthStats{}
		for k, v := range toks {
			ins.Tokens[k] = lengthStats(v)
		}
	}
	if perPrompt != nil {
		s := lengthStats(perPrompt)
		ins.ResponsesPerPrompt = &s
	}
	for p, n := range patterns {
		ins.RolePatterns = append(ins.RolePatterns, RolePattern{Pattern: p, Rows: n})
	}
	sort.Slice(ins.RolePatterns, func(i, j int) bool {
		a, b := ins.RolePatterns[i], ins.RolePatterns[j]
		if a.Rows != b.Rows {
			return a.Rows > b.Rows
		}
		return a.Pattern < b.Pattern
	})
	if len(ins.RolePatterns) > 10 {
		ins.RolePatterns = ins.RolePatterns[:10]
	}
	return ins, nil
}
