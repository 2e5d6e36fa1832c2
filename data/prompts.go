package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
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
	// Messages is the conversation to answer, ending with a user turn: usually that one turn;
	// a multi-turn conversation's whole history (system, user and assistant turns) when the
	// file gives the prompt as a message list; the first turn of a multi-turn benchmark
	// (MT-Bench, Arena-Hard), whose later turns are in Turns.
	Messages []Message `json:"messages"`
	// Turns holds the user turns of a multi-turn benchmark (MT-Bench's two), asked one after
	// another with the model's own answers in between (see TurnMessages); Turns[0] is the
	// last message of Messages. nil for a single-turn prompt.
	Turns []string `json:"turns,omitempty"`
	// Output is a reference or baseline answer the file carries (AlpacaEval's "output").
	Output string `json:"output,omitempty"`
	// Meta holds the other scalar fields: dataset, category, label, type, generator, ….
	Meta map[string]string `json:"meta,omitempty"`
	// Row is the prompt's 1-based row in the file (for a text file, its number among the
	// non-blank lines); Line its 1-based line where the file has lines (JSONL, JSON, CSV,
	// text), else 0.
	Row  int `json:"-"`
	Line int `json:"-"`
	// IDColumn is the column the ID came from; "" when the row has none and the ID is the row
	// number.
	IDColumn string `json:"-"`
}

// NumTurns is the number of turns to generate for the prompt: len(Turns), at least 1.
func (p Prompt) NumTurns() int { return max(1, len(p.Turns)) }

// TurnMessages is the conversation to answer at turn k (0-based) of the prompt, given the
// model's answers to turns 0 … k−1 (answers may be longer; only the first k are used). For a
// multi-turn benchmark it is Messages without its last user turn (a system prompt, if any),
// then Turns[0], answers[0], Turns[1], answers[1], …, Turns[k] as alternating user and
// assistant messages, which is how MT-Bench asks its second turn. For a single-turn prompt
// (no Turns) turn 0 is Messages.
func (p Prompt) TurnMessages(k int, answers []string) ([]Message, error) {
	if k < 0 || k >= p.NumTurns() {
		return nil, fmt.Errorf("data: prompt %s: turn %d of %d", p.ID, k+1, p.NumTurns())
	}
	if len(answers) < k {
		return nil, fmt.Errorf("data: prompt %s: turn %d needs the answers to the %d turns before it, got %d", p.ID, k+1, k, len(answers))
	}
	if len(p.Turns) == 0 {
		return append([]Message(nil), p.Messages...), nil
	}
	out := append([]Message(nil), p.Messages[:max(0, len(p.Messages)-1)]...)
	for i := 0; i <= k; i++ {
		out = append(out, Message{Role: "user", Content: p.Turns[i]})
		if i < k {
			out = append(out, Message{Role: "assistant", Content: answers[i]})
		}
	}
	return out, nil
}

// LastUser is the content of the prompt's last user message ("" when it has none): the
// instruction, for the readers that want one text per prompt.
func (p Prompt) LastUser() string {
	for i := len(p.Messages) - 1; i >= 0; i-- {
		if p.Messages[i].Role == "user" {
			return p.Messages[i].Content
		}
	}
	return ""
}

// The formats of a prompts file (PromptFile.Format).
const (
	PromptsJSON    = "json"    // a JSON array of objects or strings
	PromptsJSONL   = "jsonl"   // one JSON object per line
	PromptsParquet = "parquet" // rows of a Parquet file
	PromptsCSV     = "csv"     // a CSV file with a header
	PromptsText    = "text"    // one prompt per non-blank line
	PromptsRecords = "records" // a preference file without a prompt column: each record's prompt
)

// PromptFile is a prompts file as ReadPromptFile read it.
type PromptFile struct {
	Name    string // the file's base name, as in messages
	Format  string // PromptsJSON, PromptsJSONL, …
	Prompts []Prompt
}

// ReadPrompts reads prompts with ReadPromptFile and the default options.
func ReadPrompts(path string) ([]Prompt, error) {
	f, err := ReadPromptFile(path, Options{})
	return f.Prompts, err
}

// ReadPromptFile reads prompts for sampling and evaluation, the one reader of prompt files:
//   - AlpacaEval model_outputs.json: a JSON array of {instruction, output, generator, dataset};
//   - MT-Bench question.jsonl: {question_id, category, turns: [...]}, and Arena-Hard's
//     {uid, turns: [{content}]}: a multi-turn prompt (Messages the first turn, Turns all);
//   - CSV with a header and a prompt column (xstest_prompts.csv: id, prompt, type, label, …);
//   - JSON or JSONL (gzip too) or Parquet rows with prompt (a string, or a message list
//     [{role, content}] that may hold a multi-turn history, as HF conversational datasets
//     carry it), messages, instruction (plus input), question, text or turns; a JSON array
//     may also hold plain strings;
//   - a preference file whose rows have none of those columns (HH, implicit-prompt
//     conversational, ranked, …: any layout Open detects): each record's prompt;
//   - plain text (.txt, or anything that is not JSON or Parquet; gzip too): one prompt per
//     non-blank line; a .jsonl file of JSON strings, one per line, too.
//
// A message list's trailing assistant turns are dropped (it is the conversation to answer).
// IDs come from id, question_id, prompt_id or uid, else the 1-based row number.
// opt.Columns may name the file's prompt and id columns ("prompt" and "id" → the file's
// names); opt also applies to the preference-file case. A malformed row is an *Issue naming
// the file, row (line) and column.
func ReadPromptFile(path string, opt Options) (PromptFile, error) {
	name := filepath.Base(path)
	ext := strings.ToLower(filepath.Ext(strings.TrimSuffix(strings.ToLower(path), ".gz")))
	f, err := os.Open(path)
	if err != nil {
		return PromptFile{Name: name}, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return PromptFile{Name: name}, fmt.Errorf("data: %w", err)
	}
	switch ext {
	case ".csv":
		r, closeR, err := maybeGzip(name, io.NewSectionReader(f, 0, st.Size()))
		if err != nil {
			return PromptFile{Name: name}, err
		}
		defer closeR()
		ps, err := readPromptsCSVOpt(name, r, opt)
		return PromptFile{Name: name, Format: PromptsCSV, Prompts: ps}, err
	case ".txt":
		ps, err := readPromptLines(name, io.NewSectionReader(f, 0, st.Size()), false)
		return PromptFile{Name: name, Format: PromptsText, Prompts: ps}, err
	}
	return readPromptsAt(name, f, st.Size(), opt, ext == ".jsonl")
}

// readPrompts reads prompts from JSON, JSONL, Parquet or plain text lines, by content.
func readPrompts(name string, ra io.ReaderAt, size int64) ([]Prompt, error) {
	f, err := readPromptsAt(name, ra, size, Options{}, false)
	return f.Prompts, err
}

func readPromptsAt(name string, ra io.ReaderAt, size int64, opt Options, jsonlName bool) (PromptFile, error) {
	pf := PromptFile{Name: name}
	var head [4]byte
	n, _ := ra.ReadAt(head[:], 0)
	var src source
	if n == 4 && bytes.Equal(head[:], parquetMagic) {
		ps, err := openParquetAt(name, ra, size)
		if err != nil {
			return pf, err
		}
		src, pf.Format = ps, PromptsParquet
	} else {
		ts, format, err := openText(name, io.NewSectionReader(ra, 0, size))
		if err != nil {
			var is *Issue
			if errors.As(err, &is) && is.Reason == "not JSON, JSONL or Parquet" {
				pf.Format = PromptsText
				pf.Prompts, err = readPromptLines(name, io.NewSectionReader(ra, 0, size), jsonlName)
				return pf, err
			}
			return pf, err
		}
		src, pf.Format = ts, PromptsJSONL
		if format.Container == ContainerJSON {
			pf.Format = PromptsJSON
		}
	}
	defer src.close()
	for {
		rr, err := src.next()
		if err == io.EOF {
			if len(pf.Prompts) == 0 {
				return pf, &Issue{File: name, Reason: "empty file", Detail: "no prompts"}
			}
			return pf, nil
		}
		if err != nil {
			return pf, err
		}
		if rr.isStr {
			p, is := promptFromText(name, rr.str, rr.row, rr.line)
			if is != nil {
				return pf, is
			}
			pf.Prompts = append(pf.Prompts, p)
			continue
		}
		if rr.issue != nil {
			return pf, rr.issue
		}
		p, is := promptFromRow(name, rr, opt)
		if is != nil {
			if len(pf.Prompts) == 0 && is.Reason == "missing column" {
				// No prompt column: perhaps a preference file, whose records carry prompts.
				if ps, err := promptsFromRecords(name, ra, size, opt); err == nil {
					pf.Format, pf.Prompts = PromptsRecords, ps
					return pf, nil
				}
			}
			return pf, is
		}
		pf.Prompts = append(pf.Prompts, p)
	}
}

// promptsFromRecords reads a preference file (any layout Open detects) as its records' prompts.
func promptsFromRecords(name string, ra io.ReaderAt, size int64, opt Options) ([]Prompt, error) {
	r, err := newReader(name, ra, size, opt, false)
	if err != nil {
		return nil, err
	}
	defer r.src.close()
	var out []Prompt
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		var p Prompt
		switch {
		case rec.Pair != nil:
			p = Prompt{ID: rec.Pair.ID, Messages: rec.Pair.Prompt, Meta: rec.Pair.Meta}
		case rec.Ranked != nil:
			p = Prompt{ID: rec.Ranked.ID, Messages: rec.Ranked.Prompt, Meta: rec.Ranked.Meta}
		case rec.Unpaired != nil:
			p = Prompt{ID: rec.Unpaired.ID, Messages: rec.Unpaired.Prompt, Meta: rec.Unpaired.Meta}
		}
		p.Row, p.IDColumn = rec.Row, "id"
		if p.ID == "" {
			p.ID, p.IDColumn = strconv.Itoa(rec.Row), ""
		}
		if checkMessages(p.Messages, "prompt") != "" {
			return nil, &Issue{File: name, Row: rec.Row, Reason: "empty prompt"}
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, &Issue{File: name, Reason: "empty file", Detail: "no prompts"}
	}
	return out, nil
}

// promptIDColumns are the columns an ID is read from, in order.
var promptIDColumns = []string{"id", "question_id", "prompt_id", "uid"}

func promptFromRow(file string, rr rawRow, opt Options) (Prompt, *Issue) {
	f := rr.fields
	p := Prompt{ID: strconv.Itoa(rr.row), Row: rr.row, Line: rr.line}
	used := map[string]bool{}
	idCols := promptIDColumns
	if c := opt.Columns["id"]; c != "" {
		idCols = []string{c}
	}
	for _, k := range idCols {
		if s, ok := scalarString(f[k]); ok && s != "" {
			p.ID, p.IDColumn = s, k
			used[k] = true
			break
		}
	}
	fail := func(col, reason, detail string) (Prompt, *Issue) {
		return Prompt{}, &Issue{File: file, Row: rr.row, Line: rr.line, Column: col, Reason: reason, Detail: detail}
	}
	promptCol := "prompt"
	if c := opt.Columns["prompt"]; c != "" {
		promptCol = c
	}
	switch {
	case f["turns"] != nil && promptCol == "prompt":
		used["turns"] = true
		items, ok := asList(f["turns"])
		if !ok || len(items) == 0 {
			return fail("turns", "mistyped column", "want a list of strings or {content} objects, got "+jsonTypeName(f["turns"]))
		}
		for i, t := range items {
			s, ok := t.(string)
			if obj, isObj := t.(map[string]any); isObj { // Arena-Hard: {content}
				s, ok = obj["content"].(string)
			}
			if !ok {
				return fail("turns", "mistyped column", fmt.Sprintf("turn %d is %s, want a string or {content}", i+1, jsonTypeName(t)))
			}
			p.Turns = append(p.Turns, s)
		}
		p.Messages = []Message{{Role: "user", Content: p.Turns[0]}}
	case f["messages"] != nil || f[promptCol] != nil:
		col := promptCol
		if f[promptCol] == nil {
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
	case f["question"] != nil || f["text"] != nil:
		col := "question"
		if f[col] == nil {
			col = "text"
		}
		used[col] = true
		s, ok := f[col].(string)
		if !ok {
			return fail(col, "mistyped column", "want a string, got "+jsonTypeName(f[col]))
		}
		p.Messages = []Message{{Role: "user", Content: s}}
	default:
		return fail("", "missing column", "no "+promptCol+", messages, instruction, question, text or turns; columns "+columnList(f))
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

// promptFromText is a prompt that is one text: a JSON string row, or a line of a text file.
func promptFromText(file, s string, row, line int) (Prompt, *Issue) {
	if strings.TrimSpace(s) == "" {
		return Prompt{}, &Issue{File: file, Row: row, Line: line, Reason: "empty prompt"}
	}
	if !utf8.ValidString(s) {
		return Prompt{}, &Issue{File: file, Row: row, Line: line, Reason: "invalid UTF-8"}
	}
	return Prompt{ID: strconv.Itoa(row), Row: row, Line: line, Messages: []Message{{Role: "user", Content: s}}}, nil
}

func readPromptsCSV(name string, f io.Reader) ([]Prompt, error) {
	return readPromptsCSVOpt(name, f, Options{})
}

func readPromptsCSVOpt(name string, f io.Reader, opt Options) ([]Prompt, error) {
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
			h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
			if i < len(rec) {
				if !utf8.ValidString(rec[i]) {
					return nil, &Issue{File: name, Row: row, Column: h, Reason: "invalid UTF-8"}
				}
				fields[h] = rec[i]
			}
		}
		p, is := promptFromRow(name, rawRow{row: row, line: row + 1, fields: fields}, opt)
		if is != nil {
			return nil, is
		}
		out = append(out, p)
	}
}

// maybeGzip reads r through gzip when it starts with the gzip magic.
func maybeGzip(name string, r *io.SectionReader) (io.Reader, func(), error) {
	var magic [2]byte
	if n, _ := r.ReadAt(magic[:], 0); n == 2 && magic == [2]byte{0x1f, 0x8b} {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, &Issue{File: name, Reason: "corrupt gzip header", Detail: err.Error()}
		}
		return gz, func() { gz.Close() }, nil
	}
	return r, func() {}, nil
}

// readPromptLines reads one prompt per non-blank line (gzip too). With jsonStrings (a .jsonl
// name) a line that is a JSON string is that string.
func readPromptLines(name string, r *io.SectionReader, jsonStrings bool) ([]Prompt, error) {
	rd, closeR, err := maybeGzip(name, r)
	if err != nil {
		return nil, err
	}
	defer closeR()
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), DefaultMaxRowBytes)
	var out []Prompt
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if jsonStrings && strings.HasPrefix(s, `"`) {
			var js string
			if err := json.Unmarshal([]byte(s), &js); err != nil {
				return nil, &Issue{File: name, Row: len(out) + 1, Line: line, Reason: "JSON syntax error", Detail: err.Error()}
			}
			s = js
		}
		p, is := promptFromText(name, s, len(out)+1, line)
		if is != nil {
			return nil, is
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, &Issue{File: name, Line: line + 1, Reason: "read error", Detail: err.Error()}
	}
	if len(out) == 0 {
		return nil, &Issue{File: name, Reason: "empty file", Detail: "no prompts"}
	}
	return out, nil
}
