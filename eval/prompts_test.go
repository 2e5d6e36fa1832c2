package eval

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadPromptsBenchmarkFiles(t *testing.T) {
	// AlpacaEval model_outputs.json: instructions, outputs and generator, datasets
	ps, err := ReadPrompts("testdata/alpaca_eval/reference_gpt4_1106_preview.model_outputs.json")
	if err != nil || len(ps) != 805 || !ps[0].HasOutput || ps[0].Generator != "gpt4_1106_preview" || ps[0].Dataset != "helpful_base" {
		t.Fatalf("alpaca: %v %d %+v", err, len(ps), ps[0])
	}
	// MT-Bench questions: the first turn
	ps, err = ReadPrompts("testdata/fastchat/mt_bench_question.jsonl")
	if err != nil || len(ps) != 80 || ps[0].ID != "81" || ps[0].Dataset != "writing" || ps[0].HasOutput {
		t.Fatalf("mt-bench: %v %d %+v", err, len(ps), ps[0])
	}
	// Arena-Hard v0.1 questions: turns of {content}
	dir := t.TempDir()
	arena := filepath.Join(dir, "question.jsonl")
	os.WriteFile(arena, []byte(`{"question_id":"328c149ed45a41c0b9d6f14659e63599","category":"arena-hard-v0.1","cluster":"ABC Sequence Puzzles & Groups","turns":[{"content":"Use ABC notation to write a melody in the style of a folk tune."}]}
{"question_id":"b43c07656ead4150b360294ee932b410","category":"arena-hard-v0.1","cluster":"ABC Sequence Puzzles & Groups","turns":[{"content":"SOLVE THIS IN C++"}]}
`), 0o644)
	ps, err = ReadPrompts(arena)
	if err != nil || len(ps) != 2 || ps[1].Instruction != "SOLVE THIS IN C++" || ps[0].Dataset != "arena-hard-v0.1" {
		t.Fatalf("arena: %v %+v", err, ps)
	}
	// XSTest CSV with labels; plain text
	ps, err = ReadPrompts("testdata/xstest/xstest_prompts.csv")
	if err != nil || ps[0].Label != "safe" || ps[0].Type != "homonyms" {
		t.Fatalf("xstest: %v %+v", err, ps[0])
	}
	txt := filepath.Join(dir, "p.txt")
	os.WriteFile(txt, []byte("one\n\ntwo\n"), 0o644)
	ps, err = ReadPrompts(txt)
	if err != nil || len(ps) != 2 || ps[1].Instruction != "two" {
		t.Fatalf("txt: %v %+v", err, ps)
	}
}
