package data

import (
	"reflect"
	"strings"
	"testing"
)

// TestReadPromptFileFormats covers the formats the one prompt reader took over from eval,
// curation and training, with expected prompts written out by hand.
func TestReadPromptFileFormats(t *testing.T) {
	u := func(s string) []Message { return []Message{{Role: "user", Content: s}} }
	type want struct {
		id, idCol string
		row, line int
		msgs      []Message
		turns     []string
	}
	for _, c := range []struct {
		name, body, format string
		opt                Options
		want               []want
	}{
		// Arena-Hard: uid and turns of {content}.
		{"arena.jsonl", `{"uid":"a1","turns":[{"content":"Write a tune."}]}` + "\n\n" + `{"uid":"a2","turns":[{"content":"C++"},{"content":"Now Go."}]}` + "\n", PromptsJSONL, Options{},
			[]want{{"a1", "uid", 1, 1, u("Write a tune."), []string{"Write a tune."}}, {"a2", "uid", 2, 3, u("C++"), []string{"C++", "Now Go."}}}},
		// A JSON array of strings, and a text column.
		{"p.json", `["first", "second"]`, PromptsJSON, Options{}, []want{{"1", "", 1, 1, u("first"), nil}, {"2", "", 2, 1, u("second"), nil}}},
		{"t.jsonl", `{"text":"a story"}` + "\n", PromptsJSONL, Options{}, []want{{"1", "", 1, 1, u("a story"), nil}}},
		// A .jsonl file of JSON strings.
		{"s.jsonl", `"one"` + "\n" + `"two \"quoted\""` + "\n", PromptsText, Options{}, []want{{"1", "", 1, 1, u("one"), nil}, {"2", "", 2, 2, u(`two "quoted"`), nil}}},
		// gzip-compressed text and CSV.
		{"p.txt.gz", string(gz([]byte("alpha\n\nbeta\n"))), PromptsText, Options{}, []want{{"1", "", 1, 1, u("alpha"), nil}, {"2", "", 2, 3, u("beta"), nil}}},
		{"p.csv.gz", string(gz([]byte(" id ,prompt\n7,\"How, exactly?\"\n"))), PromptsCSV, Options{}, []want{{"7", "id", 1, 2, u("How, exactly?"), nil}}},
		// A multi-turn conversation as a message list: the history is kept, the trailing
		// assistant turn dropped.
		{"conv.jsonl", `{"prompt":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"Name a colour."},{"role":"assistant","content":"Red"}]}` + "\n", PromptsJSONL, Options{},
			[]want{{"1", "", 1, 1, []Message{{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Name a colour."}}, nil}}},
		// Mapped prompt and id columns.
		{"m.jsonl", `{"key":"k9","question_text":"Why?","prompt":"not this"}` + "\n", PromptsJSONL, Options{Columns: map[string]string{"prompt": "question_text", "id": "key"}},
			[]want{{"k9", "key", 1, 1, u("Why?"), nil}}},
		// A preference file without a prompt column (HH transcripts): the records' prompts.
		{"hh.jsonl", `{"chosen":"\n\nHuman: What is 2+2?\n\nAssistant: 4","rejected":"\n\nHuman: What is 2+2?\n\nAssistant: 5"}` + "\n", PromptsRecords, Options{},
			[]want{{"row 1", "id", 1, 0, u("What is 2+2?"), nil}}},
	} {
		pf, err := ReadPromptFile(writeFile(t, c.name, []byte(c.body)), c.opt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if pf.Format != c.format || pf.Name != c.name || len(pf.Prompts) != len(c.want) {
			t.Fatalf("%s: format %s, %d prompts %+v", c.name, pf.Format, len(pf.Prompts), pf.Prompts)
		}
		for i, w := range c.want {
			p := pf.Prompts[i]
			if c.format == PromptsRecords {
				w.id, w.idCol = p.ID, p.IDColumn // the record's own ID rule (data.Open's)
			}
			if p.ID != w.id || p.IDColumn != w.idCol || p.Row != w.row || (w.line != 0 && p.Line != w.line) || !reflect.DeepEqual(p.Messages, w.msgs) || !reflect.DeepEqual(p.Turns, w.turns) {
				t.Errorf("%s[%d] = %+v, want %+v", c.name, i, p, w)
			}
		}
	}
}

func TestReadPromptFileErrors(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"turns.jsonl", `{"question_id":1,"turns":["a"]}` + "\n" + `{"question_id":2,"turns":["b", 3]}` + "\n", `data: turns.jsonl row 2 column "turns": mistyped column: turn 2 is number`},
		{"none.jsonl", `{"id":"a","answer":"x"}` + "\n", `data: none.jsonl row 1: missing column: no prompt, messages, instruction, question, text or turns; columns [answer, id]`},
		{"blank.json", `["ok", "  "]`, `data: blank.json row 2 (line 1): empty prompt`},
		{"msgs.jsonl", `{"prompt":[{"role":"robot","content":"x"}]}` + "\n", `data: msgs.jsonl row 1 column "prompt": unknown role`},
		{"s.jsonl", `"one"` + "\n" + `"unterminated` + "\n", `data: s.jsonl row 2: JSON syntax error`},
		{"e.csv", "id,prompt\n", `data: e.csv: empty file`},
	} {
		_, err := ReadPromptFile(writeFile(t, c.name, []byte(c.body)), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestTurnMessages(t *testing.T) {
	mt := Prompt{ID: "81", Messages: []Message{{"system", "S"}, {"user", "q1"}}, Turns: []string{"q1", "q2", "q3"}}
	if mt.NumTurns() != 3 {
		t.Fatalf("NumTurns %d", mt.NumTurns())
	}
	got, err := mt.TurnMessages(2, []string{"a1", "a2"})
	want := []Message{{"system", "S"}, {"user", "q1"}, {"assistant", "a1"}, {"user", "q2"}, {"assistant", "a2"}, {"user", "q3"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("turn 3: %v %+v", err, got)
	}
	if got, err := mt.TurnMessages(0, nil); err != nil || !reflect.DeepEqual(got, []Message{{"system", "S"}, {"user", "q1"}}) {
		t.Fatalf("turn 1: %v %+v", err, got)
	}
	if _, err := mt.TurnMessages(1, nil); err == nil {
		t.Fatal("turn 2 without the first answer accepted")
	}
	if _, err := mt.TurnMessages(3, []string{"a", "b", "c"}); err == nil {
		t.Fatal("turn 4 of 3 accepted")
	}
	single := Prompt{ID: "x", Messages: []Message{{"user", "hi"}, {"assistant", "yo"}, {"user", "again"}}}
	if got, err := single.TurnMessages(0, nil); err != nil || !reflect.DeepEqual(got, single.Messages) || single.NumTurns() != 1 || single.LastUser() != "again" {
		t.Fatalf("single: %v %+v", err, got)
	}
	// The returned slice is a copy.
	got, _ = single.TurnMessages(0, nil)
	got[0].Content = "changed"
	if single.Messages[0].Content != "hi" {
		t.Fatal("TurnMessages aliases Messages")
	}
}
