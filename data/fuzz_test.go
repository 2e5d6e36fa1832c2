package data

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// drain reads everything a reader gives, checking the report's arithmetic.
func drain(t *testing.T, name string, b []byte) {
	r, err := newReader(name, bytes.NewReader(b), int64(len(b)), Options{MaxRowBytes: 1 << 16}, true)
	if err != nil {
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		return
	}
	defer r.Close()
	n := 0
	for {
		rec, err := r.Next()
		if err != nil {
			if err != io.EOF && err.Error() == "" {
				t.Fatal("empty error message")
			}
			break
		}
		n++
		if rec.Pair == nil && rec.Ranked == nil && rec.Unpaired == nil {
			t.Fatal("a record with no content")
		}
	}
	rep := r.Report()
	if rep.Valid != n || rep.Valid+rep.Skipped != rep.Rows {
		t.Fatalf("report %d valid + %d skipped != %d rows (returned %d)", rep.Valid, rep.Skipped, rep.Rows, n)
	}
}

func FuzzJSONL(f *testing.F) {
	f.Add([]byte(okLine + okLine))
	f.Add([]byte(`{"chosen": "\n\nHuman: Hi\n\nAssistant: A", "rejected": "\n\nHuman: Hi\n\nAssistant: B"}` + "\n"))
	f.Add([]byte(`{"prompt": [{"role": "user", "content": "Q"}], "chosen": [{"role": "assistant", "content": "A"}], "rejected": [{"role": "assistant", "content": "B"}], "score_chosen": 1}` + "\n"))
	f.Add([]byte(`{"prompt": "q", "responses": [{"text": "a", "score": 2}, {"text": "b", "score": 1}]}` + "\n"))
	f.Add([]byte(`{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "label": true}` + "\n"))
	f.Add(gz([]byte(okLine)))
	for _, name := range []string{"xstest_refusal_pairs.jsonl", "v1_dpo_demo.jsonl", "vicuna80_ranked.jsonl"} {
		if b, err := os.ReadFile(realPath(name)); err == nil {
			f.Add(b[:min(len(b), 4000)])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { drain(t, "f.jsonl", b) })
}

func FuzzJSONArray(f *testing.F) {
	f.Add([]byte("[" + strings.TrimSpace(okLine) + "]"))
	f.Add([]byte(`[{"conversations": [{"from": "human", "value": "Q"}], "chosen": {"from": "gpt", "value": "A"}, "rejected": {"from": "gpt", "value": "B"}}]`))
	f.Add([]byte(`[{"messages": [{"content": "q", "role": "user"}, {"content": "a", "role": "assistant"}], "label": false}]`))
	for _, name := range []string{"dpo_en_demo.json", "kto_en_demo.json"} {
		if b, err := os.ReadFile(realPath(name)); err == nil {
			f.Add(b[:min(len(b), 4000)])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { drain(t, "f.json", b) })
}

func FuzzParquet(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "parquet", "*.parquet"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 || string(b[:4]) != "PAR1" {
			return // the text readers have their own targets
		}

		drain(t, "f.parquet", b)
	})
}

func FuzzHHTranscript(f *testing.F) {
	f.Add("\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Sum?\n\nAssistant: 4")
	f.Add("Human: x\n\n\n\nAssistant:")
	f.Add("\n\nHuman:\n\nHuman:\n\nAssistant: Human: a\n\nAs")
	f.Fuzz(func(t *testing.T, s string) {
		msgs, ok := splitHH(s)
		if !ok {
			return
		}
		if len(msgs) == 0 || msgs[0].Role != "user" {
			t.Fatalf("split %q gave %v", s, msgs)
		}
		total := 0
		for _, m := range msgs {
			if m.Role != "user" && m.Role != "assistant" {
				t.Fatalf("role %q", m.Role)
			}
			if !strings.Contains(s, m.Content) {
				t.Fatalf("content %q is not in the transcript", m.Content)
			}
			total += len(m.Content)
		}
		if total > len(s) {
			t.Fatalf("split made %d bytes of content from %d", total, len(s))
		}
	})
}

func FuzzPrompts(f *testing.F) {
	f.Add([]byte(`[{"dataset": "d", "instruction": "Q", "output": "A", "generator": "g"}]`))
	f.Add([]byte(`{"question_id": 81, "category": "writing", "turns": ["a", "b"]}` + "\n"))
	f.Add([]byte("one prompt\nanother\n\n"))
	f.Add([]byte(`{"id": 3, "prompt": [{"role": "user", "content": "x"}]}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := readPrompts("p", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, p := range ps {
			if len(p.Messages) == 0 || p.ID == "" {
				t.Fatalf("prompt %+v", p)
			}
		}
		_, _ = readPromptsCSV("p.csv", bytes.NewReader(b))
	})
}
