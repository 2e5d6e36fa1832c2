package data

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Prompt is one prompt for sampling or evaluation.
type Prompt struct {
	ID string `json:"id"`
	// Messages is the conversation to answer: usually one user turn (the first turn for
	// MT-Bench).
	Messages []Message `json:"messages"`
	// Turns holds every user turn of a multi-turn benchmark (MT-Bench's two), else nil.
	Turns []string `json:"turns,omitempty"`
	// Output is a reference or baseline answer the file carries (AlpacaEval's "output").
	Output string `json:"output,omitempty"`
	// Meta holds the other scalar fields: dataset, category, label, type, generator, ….
	Meta map[string]string `json:"meta,omitempty"`
}

// ReadPrompts reads prompts from:
//   - AlpacaEval model_outputs.json: a JSON array of {instruction, output, generator, dataset};
//   - MT-Bench question.jsonl: {question_id, category, turns: [...]};
//   - CSV with a header and a prompt column (xstest_prompts.csv: id, prompt, type, label, …);
//   - JSON or JSONL (gzip too) or Parquet rows with prompt (string or messages), messages,
//     instruction (plus input), question or turns;
//   - plain text (any other file): one prompt per non-blank line.
//
// IDs come from id, question_id or prompt_id, else the 1-based row number.
func ReadPrompts(path string) ([]Prompt, error) {
	name := filepath.Base(path)
	ext := strings.ToLower(filepath.Ext(path))
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	if ext == ".csv" {
		return readPromptsCSV(name, f)
	}
	if ext == ".txt" {
		return readPromptLines(name, f)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return readPrompts(name, f, st.Size())
}

// readPrompts reads prompts from JSON, JSONL, Parquet or plain text lines, by content.
func readPrompts(name string, ra io.ReaderAt, size int64) ([]Prompt, error) {
	var head [4]byte
	n, _ := ra.ReadAt(head[:], 0)
	var src source
	if n == 4 && bytes.Equal(head[:], parquetMagic) {
		ps, err := openParquetAt(name, ra, size)
		if err != nil {
			return nil, err
		}
		src = ps
	} else {
		ts, _, err := openText(name, io.NewSectionReader(ra, 0, size))
		if err != nil {
			var is *Issue
			if errors.As(err, &is) && is.Reason == "not JSON, JSONL or Parquet" {
				return readPromptLines(name, io.NewSectionReader(ra, 0, size))
			}
			return nil, err
		}
		src = ts
	}
	defer src.close()
	var out []Prompt
	for {
		rr, err := src.next()
		if err == io.EOF {
			if len(out) == 0 {
				return nil, &Issue{File: name, Reason: "empty file", Detail: "no prompts"}
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if rr.issue != nil {
			return nil, rr.issue
		}
		p, is := promptFromRow(name, rr)
		if is != nil {
			return nil, is
		}
		out = append(out, p)
	}
}

func promptFromRow(file string, rr rawRow) (Prompt, *Issue) {
	f := rr.fields
	p := Prompt{ID: strconv.Itoa(rr.row)}
	used := map[string]bool{}
	for _, k := range []string{"id", "question_id", "prompt_id"} {
		if s, ok := scalarString(f[k]); ok && s != "" {
			p.ID = s
			used[k] = true
			break
		}
	}
	fail := func(col, reason, detail string) (Prompt, *Issue) {
		return Prompt{}, &Issue{File: file, Row: rr.row, Line: rr.line, Column: col, Reason: reason, Detail: detail}
	}
	switch {
	case f["turns"] != nil:
		used["turns"] = true
		items, ok := asList(f["turns"])
		if !ok || len(items) == 0 {
			return fail("turns", "mistyped column", "want a list of strings, got "+jsonTypeName(f["turns"]))
		}
		for i, t := range items {
			s, ok := t.(string)
			if !ok {
				return fail("turns", "mistyped column", fmt.Sprintf("turn %d is %s", i+1, jsonTypeName(t)))
			}
			p.Turns = append(p.Turns, s)
		}
		p.Messages = []Message{{Role: "user", Content: p.Turns[0]}}
	case f["messages"] != nil || f["prompt"] != nil:
		col := "prompt"
		if f["prompt"] == nil {
			col = "messages"
		}
		used[col] = true
		msgs, is := parseMessages(f[col], "user")
		if is != nil {
			is.File, is.Row, is.Line, is.Column = file, rr.row, rr.line, col
			return Prompt{}, is
		}
		for len(msgs) > 0 && msgs[len(msgs)-1].Role == "assistant" {
			msgs = msgs[:len(msgs)-1]
		}
		p.Messages = msgs
	case f["instruction"] != nil:
		used["instruction"], used["input"] = true, true
		s, ok := f["instruction"].(string)
		if !ok {
			return fail("instruction", "mistyped column", "want a string, got "+jsonTypeName(f["instruction"]))
		}
		if in, ok := f["input"].(string); ok && strings.TrimSpace(in) != "" {
			s += "\n\n" + in
		}
		p.Messages = []Message{{Role: "user", Content: s}}
	case f["question"] != nil:
		used["question"] = true
		s, ok := f["question"].(string)
		if !ok {
			return fail("question", "mistyped column", "want a string, got "+jsonTypeName(f["question"]))
		}
		p.Messages = []Message{{Role: "user", Content: s}}
	default:
		return fail("", "missing column", "no prompt, messages, instruction, question or turns; columns "+columnList(f))
	}
	if checkMessages(p.Messages, "prompt") != "" {
		return fail("", "empty prompt", "")
	}
	if at := invalidUTF8(p.Messages); at != "" {
		return fail("", "invalid UTF-8", at)
	}
	if s, ok := f["output"].(string); ok {
		p.Output = s
		used["output"] = true
	}
	for k, v := range f {
		if used[k] {
			continue
		}
		if s, ok := scalarString(v); ok {
			if p.Meta == nil {
				p.Meta = map[string]string{}
			}
			p.Meta[k] = s
		}
	}
	return p, nil
}

func readPromptsCSV(name string, f io.Reader) ([]Prompt, error) {
	cr := csv.NewReader(bufio.NewReader(f))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, &Issue{File: name, Reason: "CSV error", Detail: err.Error()}
	}
	var out []Prompt
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			if len(out) == 0 {
				return nil, &Issue{File: name, Reason: "empty file", Detail: "no prompts"}
			}
			return out, nil
		}
		if err != nil {
			return nil, &Issue{File: name, Row: row, Reason: "CSV error", Detail: err.Error()}
		}
		fields := map[string]any{}
		for i, h := range header {
			if i < len(rec) {
				if !utf8.ValidString(rec[i]) {
					return nil, &Issue{File: name, Row: row, Column: h, Reason: "invalid UTF-8"}
				}
				fields[strings.TrimPrefix(h, "\ufeff")] = rec[i]
			}
		}
		p, is := promptFromRow(name, rawRow{row: row, line: row + 1, fields: fields})
		if is != nil {
			return nil, is
		}
		out = append(out, p)
	}
}

func readPromptLines(name string, r io.Reader) ([]Prompt, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), DefaultMaxRowBytes)
	var out []Prompt
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if !utf8.ValidString(s) {
			return nil, &Issue{File: name, Row: len(out) + 1, Line: line, Reason: "invalid UTF-8"}
		}
		out = append(out, Prompt{ID: strconv.Itoa(len(out) + 1), Messages: []Message{{Role: "user", Content: s}}})
	}
	if err := sc.Err(); err != nil {
		return nil, &Issue{File: name, Line: line + 1, Reason: "read error", Detail: err.Error()}
	}
	if len(out) == 0 {
		return nil, &Issue{File: name, Reason: "empty file", Detail: "no prompts"}
	}
	return out, nil
}
