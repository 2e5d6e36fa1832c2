package eval

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A file written by another tool may lack its final newline: ReadJudgments reads that last
// line, while a reopened JudgmentLog cuts it (for its own file that means a write that did not
// finish) so that the next line starts clean.
func TestJudgmentsUnterminatedLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "judgments.jsonl")
	a := Judgment{Instruction: "a", Output1: "x", Output2: "y", Generator1: "b", Generator2: "m", Preference: 2, Judge: "j"}
	b := a
	b.Instruction, b.Preference = "b", 1
	var buf bytes.Buffer
	if err := WriteJudgments(&buf, []Judgment{a, b}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, bytes.TrimSuffix(buf.Bytes(), []byte("\n")), 0o644)
	js, torn, err := ReadJudgments(path)
	if err != nil || torn || len(js) != 2 || js[1].Instruction != "b" || js[1].Preference != 1 {
		t.Fatalf("read: %v torn=%v %+v", err, torn, js)
	}
	l, err := OpenJudgmentLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Existing) != 1 || !l.Has(a) || l.Has(b) {
		t.Errorf("reopened log holds %d judgments; want only the terminated one", len(l.Existing))
	}
	if err := l.Append(b); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if got, _ := os.ReadFile(path); !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("file after reopen+append:\n%s\nwant\n%s", got, buf.Bytes())
	}
	// a last line that does not parse is torn even with its newline
	os.WriteFile(path, append(buf.Bytes(), "{\"instruction\":\n"...), 0o644)
	if js, torn, err := ReadJudgments(path); err != nil || !torn || len(js) != 2 {
		t.Errorf("invalid last line: %v torn=%v n=%d", err, torn, len(js))
	}
}
