package eval

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/runtime"
)

func writeMultiTurnPrompts(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "conv.jsonl")
	rows := `{"id": "a", "messages": [{"role": "user", "content": "Tell me a story about a cat."}, {"role": "assistant", "content": "Once upon a time there was a cat named Tom."}, {"role": "user", "content": "What did Tom eat?"}]}
{"id": "b", "messages": [{"role": "user", "content": "Hi"}]}
`
	if err := os.WriteFile(path, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMultiTurnPrompts(t *testing.T) {
	ps, err := ReadPrompts(writeMultiTurnPrompts(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || len(ps[0].Messages) != 3 || ps[1].Messages != nil || ps[1].Instruction != "Hi" {
		t.Fatalf("prompts %+v", ps)
	}
	want := "### User:\nTell me a story about a cat.\n\n### Assistant:\nOnce upon a time there was a cat named Tom.\n\n### User:\nWhat did Tom eat?"
	if ps[0].Instruction != want {
		t.Errorf("transcript %q", ps[0].Instruction)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"id": "x", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}`+"\n"), 0o644)
	// a conversation ending with an assistant turn: data drops that turn, the prompt is the rest
	if got, err := ReadPrompts(bad); err != nil || len(got) != 1 || got[0].Instruction != "q" || got[0].Messages != nil {
		t.Errorf("a conversation ending with the assistant: %v %+v", err, got)
	}
}

// TestWinRateMultiTurn: win-rate on message-list prompts against the real server; the model
// answers the last user turn with the whole conversation sent through its chat template.
func TestWinRateMultiTurn(t *testing.T) {
	pool := ollamaPool(t)
	ps, err := ReadPrompts(writeMultiTurnPrompts(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := RunWinRate(context.Background(), pool, WinRateOptions{Model: "stories260k", Baseline: "tiny-random", Prompts: ps,
		Judge: "stories260k", Out: dir, GenOptions: runtime.GreedyOptions(8), Seed: 3, JudgeAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := runtime.ReadSamples(filepath.Join(dir, "outputs", "stories260k.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.PromptID == "a" && (len(r.Messages) != 3 || r.Messages[1].Role != "assistant" || r.Messages[2].Content != "What did Tom eat?") {
			t.Errorf("the conversation sent: %+v", r.Messages)
		}
	}
	js, _, _ := ReadJudgments(filepath.Join(dir, "judgments.jsonl"))
	found := false
	for _, j := range js {
		found = found || strings.Contains(j.Instruction, "### Assistant:\nOnce upon a time")
		if j.Style1 == nil || j.Style2 == nil {
			t.Errorf("judgment without style metadata")
		}
	}
	if !found || res.Judged != 2 {
		t.Errorf("judged %d; transcript in a judgment: %v", res.Judged, found)
	}
}

func TestPickExamplesWinsLossesRandom(t *testing.T) {
	var js []Judgment
	for i := 0; i < 30; i++ {
		p := 1 + float64(i)/29 // 1 … 2
		if i == 12 {
			p = math.NaN()
		}
		js = append(js, Judgment{Instruction: fmt.Sprint("q", i), Output1: "b", Output2: "m", Generator1: "base", Generator2: "m", Preference: p})
	}
	ex := PickExamples(js, 10)
	if len(ex) != 10 || ex[0].Pick != "no verdict" {
		t.Fatalf("%d examples, first %+v", len(ex), ex[0])
	}
	want := []string{"q29", "q28", "q27", "q0", "q1", "q2"}
	for i, w := range want {
		if ex[1+i].Instruction != w {
			t.Errorf("example %d: %s (%s), want %s", 1+i, ex[1+i].Instruction, ex[1+i].Pick, w)
		}
	}
	seen := map[string]bool{}
	for _, e := range ex {
		if seen[e.Instruction] {
			t.Errorf("%s twice", e.Instruction)
		}
		seen[e.Instruction] = true
	}
	if ex[9].Pick != "random" || fmt.Sprint(PickExamples(js, 10)) != fmt.Sprint(ex) {
		t.Errorf("random picks: %+v", ex[7:])
	}
}
