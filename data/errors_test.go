package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

const okLine = `{"prompt": "What is 2+2?", "chosen": "4.", "rejected": "5."}` + "\n"

// TestBadInput checks that each kind of bad input gives an error naming file, row and column.
func TestBadInput(t *testing.T) {
	huge := `{"prompt": "q", "chosen": "` + strings.Repeat("a", DefaultMaxRowBytes) + `", "rejected": "b"}` + "\n"
	cases := []struct {
		name, file, text string
		opt              Options
		want             string // the error's text, exactly
	}{
		{"missing column", "m.jsonl", okLine + `{"prompt": "q", "chosen": "a"}` + "\n", Options{},
			`data: m.jsonl row 2 column "rejected": missing column`},
		{"mapped column missing", "m.jsonl", okLine, Options{Columns: map[string]string{"chosen": "good"}},
			`data: m.jsonl column "good": missing column: mapped to chosen, but the file's columns are [chosen, prompt, rejected]`},
		{"mistyped column", "t.jsonl", okLine + `{"prompt": "q", "chosen": 3, "rejected": "b"}` + "\n", Options{},
			`data: t.jsonl row 2 column "chosen": mistyped column: want a string or a list of {role, content} messages, got number`},
		{"mistyped score", "t.jsonl", `{"prompt": "q", "chosen": "a", "rejected": "b", "score_chosen": "high"}` + "\n", Options{},
			`data: t.jsonl row 1 column "score_chosen": mistyped column: want a number, got string`},
		{"null prompt", "n.jsonl", okLine + `{"prompt": null, "chosen": "a", "rejected": "b"}` + "\n", Options{},
			`data: n.jsonl row 2 column "prompt": null prompt`},
		{"empty prompt", "e.jsonl", okLine + `{"prompt": "  ", "chosen": "a", "rejected": "b"}` + "\n", Options{},
			`data: e.jsonl row 2 column "prompt": empty prompt`},
		{"null response", "n.jsonl", okLine + okLine + `{"prompt": "q", "chosen": "a", "rejected": null}` + "\n", Options{},
			`data: n.jsonl row 3 column "rejected": null response`},
		{"empty response", "e.jsonl", okLine + `{"prompt": "q", "chosen": "", "rejected": "b"}` + "\n", Options{},
			`data: e.jsonl row 2 column "chosen": empty response`},
		{"identical", "i.jsonl", `{"prompt": "q", "chosen": "same", "rejected": "same"}` + "\n", Options{},
			`data: i.jsonl row 1 column "rejected": chosen identical to rejected`},
		{"invalid UTF-8", "u.jsonl", okLine + "{\"prompt\": \"q\", \"chosen\": \"a\xffb\", \"rejected\": \"b\"}\n", Options{},
			`data: u.jsonl row 2 column "chosen": invalid UTF-8: at byte 28`},
		{"JSONL syntax error", "s.jsonl", okLine + okLine + `{"prompt": "q", "chosen": "a" "rejected": "b"}` + "\n", Options{},
			`data: s.jsonl row 3: JSON syntax error: invalid character '"' after object key:value pair (column 31)`},
		{"JSON array syntax error", "s.json", "[\n" + strings.TrimSpace(okLine) + ",\n" + strings.TrimSpace(okLine) + ",\n{\"prompt\": \"q\",, }\n]\n", Options{},
			`data: s.json row 3 (line 4): JSON syntax error: invalid character ',' looking for beginning of object key string`},
		{"role sequence", "r.jsonl", `{"prompt": [{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}` + "\n", Options{},
			`data: r.jsonl row 1 column "prompt": role sequence: user,user,assistant: message 2 is user, want assistant`},
		{"unknown role", "r.jsonl", `{"prompt": [{"role": "tool", "content": "x"}], "chosen": "a", "rejected": "b"}` + "\n", Options{},
			`data: r.jsonl row 1 column "prompt": unknown role: message 1: "tool" (want system, user or assistant; human and gpt are read as user and assistant)`},
		{"huge row", "h.jsonl", okLine + huge, Options{},
			`data: h.jsonl row 2: huge row: 1048578 bytes of text, over the 1048576-byte limit (MaxRowBytes, --max-row-bytes)`},
		{"no layout", "x.jsonl", `{"question": "q", "answer": "a"}` + "\n", Options{},
			`data: x.jsonl: unknown layout: columns [answer, question]: want chosen and rejected (pairwise), responses or completions (ranked), or completion or messages with label (unpaired); name yours with --map chosen=NAME or --chosen-col NAME`},
		{"not JSON", "x.jsonl", "hello\n", Options{}, `data: x.jsonl: not JSON, JSONL or Parquet: the file starts with "h"`},
		{"bad label", "k.jsonl", `{"prompt": "q", "completion": "a", "label": "maybe"}` + "\n", Options{},
			`data: k.jsonl row 1 column "label": bad label: "maybe", want true/false`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, c.file, []byte(c.text))
			_, _, err := ReadAll(path, c.opt)
			if err == nil {
				t.Fatalf("no error, want %s", c.want)
			}
			if got := err.Error(); got != c.want {
				t.Fatalf("error\n got %s\nwant %s", err, c.want)
			}
			var is *Issue
			if !errors.As(err, &is) {
				t.Fatalf("error %T is not an *Issue", err)
			}
		})
	}
}

// TestSkipInvalid checks that skipped rows are counted by reason, and that nothing else goes.
func TestSkipInvalid(t *testing.T) {
	text := okLine + `{"prompt": "q", "chosen": "", "rejected": "b"}` + "\n" + "{bad json\n" + okLine +
		`{"prompt": "q", "chosen": "x", "rejected": "x"}` + "\n" + `{"prompt": "q", "chosen": "", "rejected": "c"}` + "\n"
	path := writeFile(t, "s.jsonl", []byte(text))
	recs, rep, err := ReadAll(path, Options{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || rep.Rows != 6 || rep.Valid != 2 || rep.Skipped != 4 {
		t.Fatalf("records %d, report %+v", len(recs), rep)
	}
	want := map[string]int{"empty response": 2, "JSON syntax error": 1, "chosen identical to rejected": 1}
	for k, v := range want {
		if rep.Reasons[k] != v {
			t.Fatalf("reasons %v, want %v", rep.Reasons, want)
		}
	}
	if got := rep.Summary(); got != "4 of 6 rows invalid: 2 empty response, 1 JSON syntax error, 1 chosen identical to rejected" {
		t.Fatalf("summary %q", got)
	}
	if recs[1].Row != 4 {
		t.Fatalf("second valid record is row %d, want 4", recs[1].Row)
	}
}

func TestTruncatedGzip(t *testing.T) {
	full := gz([]byte(strings.Repeat(okLine, 2000)))
	path := writeFile(t, "t.jsonl.gz", full[:len(full)/2])
	_, _, err := ReadAll(path, Options{SkipInvalid: true})
	if err == nil || !strings.Contains(err.Error(), "data: t.jsonl.gz: gzip stream ends early: after row ") || !IsFatal(err) {
		t.Fatalf("error %v", err)
	}
	rep := Validate(path, Options{})
	if rep.Fatal == nil || rep.Fatal.Reason != "gzip stream ends early" || rep.Rows == 0 {
		t.Fatalf("Validate: %+v", rep)
	}
	// A JSON array cut inside gzip too.
	arr := gz([]byte("[" + strings.Repeat(strings.TrimSpace(okLine)+",", 3000) + strings.TrimSpace(okLine) + "]"))
	path = writeFile(t, "t.json.gz", arr[:len(arr)-20])
	if _, _, err := ReadAll(path, Options{}); err == nil || !strings.Contains(err.Error(), "gzip stream ends early") {
		t.Fatalf("JSON array: error %v", err)
	}
}

func TestBadParquet(t *testing.T) {
	good, err := os.ReadFile(fixture("hf_large_string_snappy.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	badMagic := append([]byte("PAR1"), append([]byte(nil), good[4:]...)...)
	copy(badMagic[len(badMagic)-4:], "XXXX")
	corrupt := append([]byte(nil), good...)
	for i := 8; i < len(corrupt)/2; i++ {
		corrupt[i] ^= 0x5a
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"cut footer", good[:len(good)-100], `data: f.parquet: truncated Parquet file: no PAR1 magic at the end: the footer is cut or missing`},
		{"bad magic at end", badMagic, `data: f.parquet: truncated Parquet file: no PAR1 magic at the end: the footer is cut or missing`},
		{"tiny", []byte("PAR1PAR1"), `data: f.parquet: truncated Parquet file: 8 bytes, too short to hold a footer`},
		{"footer length", append(append([]byte("PAR1xxxxxxxx"), 0xff, 0xff, 0, 0), []byte("PAR1")...), `data: f.parquet: corrupted Parquet footer: footer length 65535 does not fit a 20-byte file`},
		{"corrupted pages", corrupt, `corrupted Parquet data`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "f.parquet", c.b)
			_, _, err := ReadAll(path, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %s", err, c.want)
			}
		})
	}
	// A file that does not start with PAR1 is not taken for Parquet.
	path := writeFile(t, "f.parquet", append([]byte("XXXX"), good[4:]...))
	if _, _, err := ReadAll(path, Options{}); err == nil || !strings.Contains(err.Error(), "not JSON, JSONL or Parquet") {
		t.Fatalf("bad leading magic: %v", err)
	}
}

// TestParquetBadValues writes Parquet with a mistyped column, an empty response and invalid
// UTF-8, and checks each is found at its row and column.
func TestParquetBadValues(t *testing.T) {
	type row struct {
		Prompt   string `parquet:"prompt"`
		Chosen   int64  `parquet:"chosen"`
		Rejected string `parquet:"rejected"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf)
	w.Write([]row{{"q", 1, "r"}})
	w.Close()
	path := writeFile(t, "typed.parquet", buf.Bytes())
	if _, _, err := ReadAll(path, Options{}); err == nil || err.Error() != `data: typed.parquet row 1 column "chosen": mistyped column: want a string or a list of {role, content} messages, got number` {
		t.Fatalf("mistyped: %v", err)
	}
	type srow struct {
		Prompt   string `parquet:"prompt"`
		Chosen   string `parquet:"chosen"`
		Rejected string `parquet:"rejected"`
	}
	buf.Reset()
	sw := parquet.NewGenericWriter[srow](&buf)
	sw.Write([]srow{{"q", "a", "b"}, {"q", "", "b"}, {"q", "a\xff", "b"}, {"q", "a", "b"}})
	sw.Close()
	path = writeFile(t, "hh.parquet", buf.Bytes())
	rep := Validate(path, Options{})
	if rep.Rows != 4 || rep.Skipped != 2 || len(rep.Issues) != 2 {
		t.Fatalf("report %+v", rep)
	}
	if got := rep.Issues[0].Error(); got != `data: hh.parquet row 2 column "chosen": empty response` {
		t.Fatalf("issue %s", got)
	}
	if got := rep.Issues[1].Error(); got != `data: hh.parquet row 3 column "chosen": invalid UTF-8` {
		t.Fatalf("issue %s", got)
	}
}

func TestColumnMapping(t *testing.T) {
	text := `{"question": "What is 2+2?", "good": "4.", "bad": "5.", "s1": 9, "s2": 1, "src": "x"}` + "\n"
	path := writeFile(t, "m.jsonl", []byte(text))
	opt := Options{Columns: map[string]string{"prompt": "question", "score_chosen": "s1", "score_rejected": "s2"}}
	if err := ParseColumnMap([]string{"chosen=good", "rejected = bad"}, opt.Columns); err != nil {
		t.Fatal(err)
	}
	ps, err := ReadPairs(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	if p.Prompt[0].Content != "What is 2+2?" || p.Chosen[0].Content != "4." || p.Rejected[0].Content != "5." ||
		*p.ScoreChosen != 9 || *p.ScoreRejected != 1 || p.Meta["src"] != "x" || len(p.Meta) != 1 {
		t.Fatalf("mapped pair %+v", p)
	}
	if err := ParseColumnMap([]string{"chosn=good"}, map[string]string{}); err == nil || !strings.Contains(err.Error(), `unknown name "chosn"`) {
		t.Fatalf("bad mapping name: %v", err)
	}
	if err := ParseColumnMap([]string{"chosen"}, map[string]string{}); err == nil {
		t.Fatal("a mapping without = was accepted")
	}
}

// TestLayouts reads each JSON layout from a small inline example.
func TestLayouts(t *testing.T) {
	cases := []struct {
		name, text string
		layout     Layout
		prompt     []Message
		chosen     string
	}{
		{"hh prompt string", `{"prompt": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Sum 2+2?\n\nAssistant:", "chosen": "4", "rejected": "5"}`, LayoutPromptStrings,
			[]Message{{"user", "Hi"}, {"assistant", "Hello"}, {"user", "Sum 2+2?"}}, "4"},
		{"explicit conversational", `{"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}], "chosen": [{"role": "assistant", "content": "A"}], "rejected": [{"role": "assistant", "content": "B"}]}`,
			LayoutExplicitConversational, []Message{{"system", "S"}, {"user", "Q"}}, "A"},
		{"implicit conversational", `{"chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}], "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "B"}]}`,
			LayoutImplicitConversational, []Message{{"user", "Q"}}, "A"},
		{"sharegpt with system", `{"system": "S", "conversations": [{"from": "human", "value": "Q"}], "chosen": {"from": "gpt", "value": "A"}, "rejected": {"from": "gpt", "value": "B"}}`,
			LayoutShareGPT, []Message{{"system", "S"}, {"user", "Q"}}, "A"},
		{"content parts", `{"prompt": [{"role": "user", "content": [{"type": "text", "text": "Q"}, {"type": "text", "text": "!"}]}], "chosen": "A", "rejected": "B"}`,
			LayoutExplicitConversational, []Message{{"user", "Q!"}}, "A"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "l.jsonl", []byte(c.text+"\n"))
			r, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if c.name != "content parts" && r.Format().Layout != c.layout {
				t.Fatalf("layout %s, want %s", r.Format().Layout, c.layout)
			}
			rec, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Pair.Prompt) != len(c.prompt) || commonPrefix(rec.Pair.Prompt, c.prompt) != len(c.prompt) || rec.Pair.Chosen[0].Content != c.chosen {
				t.Fatalf("pair %+v", *rec.Pair)
			}
		})
	}
}
