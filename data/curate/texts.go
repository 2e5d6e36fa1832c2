package curate

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/alignkit/align/data"
)

// ReadTexts reads prompts or evaluation questions from a file, by extension:
//   - .json: an array of objects (AlpacaEval's model_outputs.json: "instruction") or strings;
//   - .jsonl: one object per line; MT-Bench's "turns" gives one text per turn ("81/turn1");
//   - .csv: a header with a "prompt" column (XSTest's xstest_prompts.csv: id, prompt, type, label);
//   - .parquet: string columns prompt (or instruction, question) and id, or any preference file
//     the data package reads (the last user turn of each record's prompt);
//   - anything else: plain text, one prompt per non-empty line.
//
// Objects name their text "prompt" (a string, or a list of {role, content} messages whose last
// user turn is taken), "instruction", "question" or "text", and their identity "id",
// "question_id" or "prompt_id" (else "row N"). A ".gz" suffix is read through gzip. The source of
// every text is the file's base name.
func ReadTexts(path string) ([]Text, error) {
	if strings.HasSuffix(strings.ToLower(path), ".parquet") {
		return readParquetTexts(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("curate: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	name := path
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("curate: %s: %w", path, err)
		}
		defer gz.Close()
		r, name = gz, strings.TrimSuffix(name, ".gz")
	}
	src := filepath.Base(path)
	var texts []Text
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		texts, err = readJSONTexts(r, src)
	case ".jsonl":
		texts, err = readJSONLTexts(r, src)
	case ".csv":
		texts, err = readCSVTexts(r, src)
	default:
		texts, err = readLineTexts(r, src)
	}
	if err != nil {
		return nil, fmt.Errorf("curate: %s: %w", path, err)
	}
	return texts, nil
}

func readJSONTexts(r io.Reader, src string) ([]Text, error) {
	var rows []json.RawMessage
	if err := json.NewDecoder(r).Decode(&rows); err != nil {
		return nil, fmt.Errorf("want a JSON array: %w", err)
	}
	var out []Text
	for i, raw := range rows {
		ts, err := objectTexts(raw, i, src)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

func readJSONLTexts(r io.Reader, src string) ([]Text, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var out []Text
	row := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		ts, err := objectTexts([]byte(line), row, src)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
		row++
	}
	return out, sc.Err()
}

func objectTexts(raw []byte, row int, src string) ([]Text, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []Text{{ID: "row " + strconv.Itoa(row), Source: src, Text: s}}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("row %d: %w", row, err)
	}
	id := "row " + strconv.Itoa(row)
	for _, k := range []string{"id", "question_id", "prompt_id"} {
		if v, ok := obj[k]; ok {
			var sv string
			if json.Unmarshal(v, &sv) == nil {
				id = sv
			} else {
				id = strings.TrimSpace(string(v))
			}
			break
		}
	}
	str := func(k string) string {
		var v string
		_ = json.Unmarshal(obj[k], &v)
		return v
	}
	base := Text{ID: id, Source: src, Label: str("label"), Category: str("category")}
	if base.Category == "" {
		base.Category = str("type")
	}
	if v, ok := obj["turns"]; ok {
		var turns []string
		if err := json.Unmarshal(v, &turns); err != nil {
			return nil, fmt.Errorf("row %d column \"turns\": %w", row, err)
		}
		var out []Text
		for i, t := range turns {
			x := base
			x.ID, x.Text = fmt.Sprintf("%s/turn%d", id, i+1), t
			out = append(out, x)
		}
		return out, nil
	}
	for _, k := range []string{"prompt", "instruction", "question", "text"} {
		v, ok := obj[k]
		if !ok {
			continue
		}
		var t string
		if json.Unmarshal(v, &t) != nil {
			var msgs []struct{ Role, Content string }
			if err := json.Unmarshal(v, &msgs); err != nil {
				return nil, fmt.Errorf("row %d column %q: want a string or messages: %w", row, k, err)
			}
			for _, m := range msgs {
				if m.Role == "user" || m.Role == "" {
					t = m.Content
				}
			}
		}
		base.Text = t
		return []Text{base}, nil
	}
	return nil, fmt.Errorf("row %d: no prompt, instruction, question, text or turns field", row)
}

func readCSVTexts(r io.Reader, src string) ([]Text, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	pc, ok := col["prompt"]
	if !ok {
		return nil, fmt.Errorf("no \"prompt\" column in header %v", head)
	}
	get := func(rec []string, k string) string {
		if i, ok := col[k]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var out []Text
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if pc >= len(rec) {
			return nil, fmt.Errorf("row %d: no prompt", row)
		}
		t := Text{ID: get(rec, "id"), Source: src, Text: rec[pc], Label: get(rec, "label"), Category: get(rec, "type")}
		if t.ID == "" {
			t.ID = "row " + strconv.Itoa(row)
		}
		if t.Category == "" {
			t.Category = get(rec, "category")
		}
		out = append(out, t)
	}
}

func readLineTexts(r io.Reader, src string) ([]Text, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var out []Text
	for n := 1; sc.Scan(); n++ {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			out = append(out, Text{ID: "line " + strconv.Itoa(n), Source: src, Text: t})
		}
	}
	return out, sc.Err()
}

// readParquetTexts reads plain string prompt columns, else preference records through the data
// package.
func readParquetTexts(path string) ([]Text, error) {
	type row struct {
		ID          string `parquet:"id,optional"`
		Prompt      string `parquet:"prompt,optional"`
		Instruction string `parquet:"instruction,optional"`
		Question    string `parquet:"question,optional"`
		Label       string `parquet:"label,optional"`
		Category    string `parquet:"category,optional"`
	}
	src := filepath.Base(path)
	rows, err := parquet.ReadFile[row](path)
	if err == nil {
		var out []Text
		for i, r := range rows {
			t := Text{ID: r.ID, Source: src, Text: r.Prompt, Label: r.Label, Category: r.Category}
			for _, alt := range []string{r.Instruction, r.Question} {
				if t.Text == "" {
					t.Text = alt
				}
			}
			if t.Text == "" {
				out = nil
				break
			}
			if t.ID == "" {
				t.ID = "row " + strconv.Itoa(i)
			}
			out = append(out, t)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	// A ranked file of an earlier curation run (dedup across runs): its rows may hold fewer
	// than two scored responses, which the data package reports as row issues.
	if ranked, err := ReadRanked(path); err == nil && len(ranked) > 0 {
		var out []Text
		for _, r := range ranked {
			t := Text{ID: r.ID, Source: src}
			for _, m := range r.Prompt {
				if m.Role == "user" {
					t.Text = m.Content
				}
			}
			if t.Text == "" || len(r.Responses)+len(r.Filtered) == 0 {
				out = nil
				break
			}
			out = append(out, t)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	recs, _, err := data.ReadAll(path, data.Options{})
	if err != nil {
		return nil, fmt.Errorf("curate: %s: neither a prompt column nor preference records: %w", path, err)
	}
	var out []Text
	for i, r := range recs {
		var id string
		var prompt []data.Message
		switch {
		case r.Pair != nil:
			id, prompt = r.Pair.ID, r.Pair.Prompt
		case r.Ranked != nil:
			id, prompt = r.Ranked.ID, r.Ranked.Prompt
		case r.Unpaired != nil:
			id, prompt = r.Unpaired.ID, r.Unpaired.Prompt
		}
		t := Text{ID: id, Source: src}
		for _, m := range prompt {
			if m.Role == "user" {
				t.Text = m.Content
			}
		}
		if t.ID == "" {
			t.ID = "row " + strconv.Itoa(i)
		}
		out = append(out, t)
	}
	return out, nil
}
