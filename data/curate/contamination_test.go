package curate

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/alignkit/align/data"
)

func loadEval(t *testing.T) []Text {
	t.Helper()
	a, err := ReadTexts(filepath.Join("testdata", "alpaca_eval", "alpaca_eval_instructions.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadTexts(filepath.Join("testdata", "mt_bench", "mt_bench_question.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 805 || len(m) != 160 {
		t.Fatalf("read %d AlpacaEval instructions and %d MT-Bench turns, want 805 and 160", len(a), len(m))
	}
	if m[0].ID != "81/turn1" || m[0].Category != "writing" {
		t.Errorf("MT-Bench first turn: %+v", m[0])
	}
	return append(a, m...)
}

func TestContaminationPlanted(t *testing.T) {
	eval := loadEval(t)
	// An AlpacaEval instruction, and MT-Bench question 81 turn 1 (which AlpacaEval also holds,
	// as row 801: the check reports whichever item matches first).
	alp, mt := eval[10].Text, eval[805].Text
	words := strings.Fields(alp)
	prompts := []Text{
		{ID: "clean1", Text: "Explain how a bicycle gear system trades cadence for torque on steep hills."},
		{ID: "exact", Text: "  " + strings.ToUpper(alp) + " "},
		{ID: "embedded", Text: "Here is a task for you. " + mt + " Please keep it under 300 words."},
		{ID: "clean2", Text: "Write a short story about a cat."},
		{ID: "clean3", Text: "List three differences between TCP and UDP, with one example application of each."},
	}
	if len(words) >= 16 {
		// A light edit at the very end keeps most 8-grams.
		prompts = append(prompts, Text{ID: "edited", Text: strings.Join(words[:len(words)-1], " ") + " quickly"})
	}
	rep := CheckContamination(prompts, eval, ContaminationOptions{})
	flagged := map[string]ContaminationHit{}
	for _, h := range rep.Hits {
		flagged[h.PromptID] = h
	}
	if h, ok := flagged["exact"]; !ok || !h.Exact || h.EvalText != alp {
		t.Errorf("exact copy not reported as exact: %+v", h)
	}
	if h, ok := flagged["embedded"]; !ok || h.Exact || h.Overlap != 1 || h.EvalText != mt {
		t.Errorf("embedded MT-Bench question not reported with overlap 1: %+v", h)
	}
	for _, id := range []string{"clean1", "clean2", "clean3"} {
		if h, ok := flagged[id]; ok {
			t.Errorf("clean prompt %s flagged: %+v", id, h)
		}
	}
	wantOverlap := 1
	if len(words) >= 16 {
		wantOverlap = 2
		if _, ok := flagged["edited"]; !ok {
			t.Errorf("lightly edited instruction %q not flagged", prompts[len(prompts)-1].Text)
		}
	}
	if rep.Exact != 1 || rep.Overlap != wantOverlap {
		t.Errorf("report %s, want 1 exact and %d overlapping", rep, wantOverlap)
	}
	if !rep.Hits[0].Exact {
		t.Error("exact hits must come first")
	}
	// The eval set against itself is all exact.
	self := CheckContamination(eval[:50], eval, ContaminationOptions{})
	if self.Exact != 50 {
		t.Errorf("eval against itself: %d exact of 50", self.Exact)
	}
}

func TestDedupTexts(t *testing.T) {
	seen := []Text{{ID: "old", Text: "What is the capital of France and why did it become the capital?"}}
	in := []Text{
		{ID: "a", Text: "Name three primary colours and explain how they mix on a screen."},
		{ID: "b", Text: "name three primary colours, and explain how they mix on a screen"},
		{ID: "c", Text: "What is the capital of France and why did it become the capital?"},
		{ID: "d", Text: "Describe the water cycle for a ten year old child in five short sentences."},
	}
	kept, removed := DedupTexts(in, seen, ContaminationOptions{})
	if len(kept) != 2 || kept[0].ID != "a" || kept[1].ID != "d" {
		t.Errorf("kept %v", kept)
	}
	if len(removed) != 2 || removed[0].PromptID != "b" || removed[0].EvalSource != "self" || removed[1].EvalID != "old" {
		t.Errorf("removed %+v", removed)
	}
}

func TestReadTextsFormats(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := writeFile(p, s); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		path string
		want []Text
	}{
		{write("p.txt", "first\n\n second \n"), []Text{{ID: "line 1", Text: "first"}, {ID: "line 3", Text: "second"}}},
		{write("p.jsonl", `{"id":"x","prompt":"hello"}`+"\n"+`{"prompt":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}`+"\n"),
			[]Text{{ID: "x", Text: "hello"}, {ID: "row 1", Text: "hi"}}},
		{write("p.csv", "id,prompt,type,label\n7,\"How, exactly?\",homonyms,safe\n"),
			[]Text{{ID: "7", Text: "How, exactly?", Label: "safe", Category: "homonyms"}}},
		{write("p.json", `["a","b"]`), []Text{{ID: "row 0", Text: "a"}, {ID: "row 1", Text: "b"}}},
	} {
		got, err := ReadTexts(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d texts, want %d", tc.path, len(got), len(tc.want))
		}
		for i := range got {
			got[i].Source = ""
			if got[i] != tc.want[i] {
				t.Errorf("%s[%d] = %+v, want %+v", filepath.Base(tc.path), i, got[i], tc.want[i])
			}
		}
	}
	// Parquet: a plain prompt column, and a preference file through the data package.
	type row struct {
		ID     string `parquet:"id"`
		Prompt string `parquet:"prompt"`
	}
	pq := filepath.Join(dir, "p.parquet")
	if err := parquet.WriteFile(pq, []row{{"a", "first prompt"}, {"b", "second prompt"}}); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadTexts(pq); err != nil || len(got) != 2 || got[1].ID != "b" || got[1].Text != "second prompt" {
		t.Errorf("parquet prompts: %+v %v", got, err)
	}
	pairs := filepath.Join(dir, "pairs.parquet")
	if err := WritePairs(pairs, []data.Pair{{ID: "x", Prompt: []data.Message{{Role: "user", Content: "pair prompt"}}, Chosen: Assistant("a"), Rejected: Assistant("b")}}); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadTexts(pairs); err != nil || len(got) != 1 || got[0].Text != "pair prompt" || got[0].ID != "x" {
		t.Errorf("parquet pairs: %+v %v", got, err)
	}
	if _, err := ReadTexts(write("bad.jsonl", `{"foo":1}`)); err == nil || !strings.Contains(err.Error(), "bad.jsonl row 1: missing column") {
		t.Errorf("missing field error %v", err)
	}
}

func TestSelectPrompts(t *testing.T) {
	in := []Text{
		{ID: "a", Text: "Name three primary colours and explain how they mix on a screen."},
		{ID: "b", Text: "Name three primary colours and explain how they mix on a screen!"},
		{ID: "c", Text: "What are the names of some famous actors that started their careers on Broadway?"},
		{ID: "d", Text: "Describe the water cycle for a ten year old child in five short sentences."},
	}
	eval := []Text{{ID: "e0", Source: "alpaca", Text: "What are the names of some famous actors that started their careers on Broadway?"}}
	earlier := []Text{{ID: "old", Text: "describe the water cycle for a ten year old child in five short sentences"}}
	out, removed, rep, err := SelectPrompts(in, true, earlier, eval, false, ContaminationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Without --drop-contaminated, c is reported and kept.
	if len(out) != 2 || out[0].ID != "a" || out[1].ID != "c" || len(removed) != 2 || rep == nil || rep.Exact != 1 {
		t.Errorf("kept %v removed %v report %+v", out, removed, rep)
	}
	out, removed, _, _ = SelectPrompts(in, true, earlier, eval, true, ContaminationOptions{})
	if len(out) != 1 || out[0].ID != "a" || len(removed) != 3 || removed[2].EvalSource != "contaminated:alpaca" {
		t.Errorf("drop: kept %v removed %+v", out, removed)
	}
	if _, _, _, err := SelectPrompts([]Text{{ID: "x"}, {ID: "x"}}, false, nil, nil, false, ContaminationOptions{}); err == nil {
		t.Error("duplicate ids accepted")
	}
}
