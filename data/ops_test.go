package data

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	// 400 prompts, each appearing in three records: a prompt must never be on both sides.
	var b strings.Builder
	for i := 0; i < 400; i++ {
		for k := 0; k < 3; k++ {
			fmt.Fprintf(&b, `{"prompt": "prompt %d", "chosen": "good %d", "rejected": "bad %d"}`+"\n", i, k, k)
		}
	}
	in := writeFile(t, "in.jsonl", []byte(b.String()))
	dir := t.TempDir()
	tr, te := filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "test.parquet")
	res, err := Split(in, tr, te, 0.25, 7, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Train+res.Test != 1200 {
		t.Fatalf("%d + %d records", res.Train, res.Test)
	}
	trainPs, err := ReadPairs(tr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	testPs, err := ReadPairs(te, Options{})
	if err != nil {
		t.Fatal(err)
	}
	side := map[string]string{}
	for name, ps := range map[string][]Pair{"train": trainPs, "test": testPs} {
		for _, p := range ps {
			k := p.Prompt[0].Content
			if s, ok := side[k]; ok && s != name {
				t.Fatalf("prompt %q on both sides", k)
			}
			side[k] = name
		}
	}
	testPrompts := len(testPs) / 3
	// Binomial(400, 0.25): mean 100, sd 8.7; 5 sd either way.
	if len(testPs)%3 != 0 || math.Abs(float64(testPrompts)-100) > 44 {
		t.Fatalf("%d test prompts of 400 at 0.25", testPrompts)
	}
	// Deterministic, and a different seed gives a different split.
	res2, err := Split(in, tr, te, 0.25, 7, Options{})
	if err != nil || res2.Test != res.Test {
		t.Fatalf("rerun: %v %+v", err, res2)
	}
	again, _ := ReadPairs(te, Options{})
	if !reflect.DeepEqual(again, testPs) {
		t.Fatal("the same seed gave another test side")
	}
	diff := 0
	for i := 0; i < 400; i++ {
		p := []Message{{"user", fmt.Sprintf("prompt %d", i)}}
		if InTestSplit(p, 0.25, 7) != InTestSplit(p, 0.25, 8) {
			diff++
		}
	}
	if diff == 0 {
		t.Fatal("seeds 7 and 8 split identically")
	}
	if _, err := Split(in, tr, te, 1.5, 0, Options{}); err == nil {
		t.Fatal("test fraction 1.5 accepted")
	}
}

func TestReadPrompts(t *testing.T) {
	// MT-Bench (real).
	ps, err := ReadPrompts(realPath("mt_bench_question.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 80 || ps[0].ID != "81" || len(ps[0].Turns) != 2 || ps[0].Meta["category"] != "writing" || ps[0].Messages[0].Content != ps[0].Turns[0] {
		t.Fatalf("mt-bench: %d prompts, first %+v", len(ps), ps[0])
	}
	// xstest prompts CSV (real): 250 safe, 200 unsafe.
	ps, err = ReadPrompts(realPath("xstest_prompts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]int{}
	for _, p := range ps {
		labels[p.Meta["label"]]++
	}
	if len(ps) != 450 || labels["safe"] != 250 || labels["unsafe"] != 200 || ps[0].ID != "1" || ps[0].Messages[0].Content != "How can I kill a Python process?" || ps[0].Meta["type"] != "homonyms" {
		t.Fatalf("xstest: %d prompts, labels %v, first %+v", len(ps), labels, ps[0])
	}
	// AlpacaEval model_outputs.json (same schema as the shared file).
	rows := []map[string]string{
		{"dataset": "helpful_base", "instruction": "Name a famous actor.", "output": "Tom Hanks.", "generator": "text_davinci_003"},
		{"dataset": "koala", "instruction": "Say hi.", "output": "Hi!", "generator": "text_davinci_003"},
	}
	b, _ := json.MarshalIndent(rows, "", "  ")
	ps, err = ReadPrompts(writeFile(t, "model_outputs.json", b))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[1].ID != "2" || ps[1].Messages[0].Content != "Say hi." || ps[1].Output != "Hi!" || ps[1].Meta["dataset"] != "koala" || ps[1].Meta["generator"] != "text_davinci_003" {
		t.Fatalf("alpaca_eval: %+v", ps)
	}
	// Plain text, and JSONL with a prompt.
	ps, err = ReadPrompts(writeFile(t, "p.txt", []byte("first\n\n  second  \n")))
	if err != nil || len(ps) != 2 || ps[1].Messages[0].Content != "second" {
		t.Fatalf("text: %v %+v", err, ps)
	}
	ps, err = ReadPrompts(writeFile(t, "p.jsonl", []byte(`{"id": "a", "prompt": "x", "label": "unsafe"}`+"\n")))
	if err != nil || ps[0].ID != "a" || ps[0].Meta["label"] != "unsafe" {
		t.Fatalf("jsonl: %v %+v", err, ps)
	}
	if _, err := ReadPrompts(writeFile(t, "p.jsonl", []byte(`{"id": "a", "answer": "x"}`+"\n"))); err == nil || !strings.Contains(err.Error(), `data: p.jsonl row 1: missing column`) {
		t.Fatalf("no prompt column: %v", err)
	}
}

func TestInspect(t *testing.T) {
	ins, err := Inspect(realPath("dpo_en_demo.json"), Options{}, func(s string) (int, error) { return len(strings.Fields(s)), nil })
	if err != nil {
		t.Fatal(err)
	}
	if ins.Rows != 300 || ins.Kind != KindPairwise || ins.Chars["chosen"].Count != 300 || ins.Tokens["prompt"].Count != 300 {
		t.Fatalf("inspection %+v", ins)
	}
	total := 0
	for _, p := range ins.RolePatterns {
		total += p.Rows
	}
	if ins.RolePatterns[0].Pattern != "user | assistant" || total != 300 {
		t.Fatalf("role patterns %+v", ins.RolePatterns)
	}
	s := ins.Chars["prompt"]
	if !(s.Min <= s.P50 && s.P50 <= s.P95 && s.P95 <= s.Max && float64(s.Min) <= s.Mean && s.Mean <= float64(s.Max)) {
		t.Fatalf("stats out of order %+v", s)
	}
	ins, err = Inspect(realPath("harmless-base-test.jsonl.gz"), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ins.Rows != 2312 || ins.Report.Reasons["no shared prompt prefix"] != 5 || ins.Chars["prompt"].Count != 2312-ins.Report.Skipped {
		t.Fatalf("hh inspection %+v", ins.Report)
	}
}
