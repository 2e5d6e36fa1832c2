package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/runtime"
)

func runRuntimeCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestReadSamplePrompts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path string
		chat bool
		want []runtime.Prompt
	}{
		{write("mt.jsonl", `{"question_id": 81, "category": "writing", "turns": ["Compose a post.", "Rewrite it."]}`+"\n"+`{"question_id": 82, "turns": ["Draft an email."]}`+"\n"),
			false, []runtime.Prompt{{ID: "81", Prompt: "Compose a post."}, {ID: "82", Prompt: "Draft an email."}}},
		{write("alpaca.json", `[{"dataset": "x", "instruction": "Say hi.", "output": "Hi", "generator": "g"}]`),
			false, []runtime.Prompt{{ID: "1", Prompt: "Say hi."}}},
		// One user turn is sent as text; a longer conversation goes to /api/chat.
		{write("own.jsonl", `{"id": "a", "prompt": "Once"}`+"\n\n"+`{"id": "b", "messages": [{"role": "user", "content": "Tim"}]}`+"\n"+
			`{"id": "c", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tim"}]}`+"\n"),
			false, []runtime.Prompt{{ID: "a", Prompt: "Once"}, {ID: "b", Prompt: "Tim"},
				{ID: "c", Messages: []runtime.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Tim"}}}}},
		{write("lines.txt", "Once upon a time\n\nLily had a\n"),
			true, []runtime.Prompt{{ID: "1", Messages: []runtime.Message{{Role: "user", Content: "Once upon a time"}}}, {ID: "2", Messages: []runtime.Message{{Role: "user", Content: "Lily had a"}}}}},
	}
	for _, c := range cases {
		got, err := readSamplePrompts(c.path, c.chat)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %+v, want %+v", filepath.Base(c.path), got, c.want)
		}
	}
	// "text" is a prompt column (curation's); "answer" is none.
	if got, err := readSamplePrompts(write("text.jsonl", `{"id": 1, "text": "x"}`), false); err != nil || fmt.Sprint(got) != fmt.Sprint([]runtime.Prompt{{ID: "1", Prompt: "x"}}) {
		t.Errorf("text column: %+v %v", got, err)
	}
	if _, err := readSamplePrompts(write("bad.jsonl", `{"id": 1, "answer": "x"}`), false); err == nil {
		t.Errorf("a row without a prompt was accepted")
	}
}

func skipWithoutOllamaCLI(t *testing.T) {
	if os.Getenv("ALIGN_SKIP_OLLAMA") == "1" {
		msg := "######## ALIGN_SKIP_OLLAMA=1: SKIPPING " + t.Name() + ", an integration test against a real Ollama server ########"
		fmt.Fprintln(os.Stderr, msg)
		t.Skip(msg)
	}
}

func TestRuntimeCheckAndSampleCLI(t *testing.T) {
	skipWithoutOllamaCLI(t)
	out, err := runRuntimeCLI(t, "runtime", "check", "--model", "stories260k", "--json")
	if err != nil {
		t.Fatalf("runtime check: %v\n%s (is the server up? bash scripts/ollama.sh start)", err, out)
	}
	var rep checkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Hosts[0].Version == "" || len(rep.Models) == 0 || rep.Test == nil || rep.Test.Tokens != 1 || rep.Test.Logprob > 0 {
		t.Errorf("check report %+v %+v", rep, rep.Test)
	}
	// A host where nothing listens: non-zero exit, the host named DOWN.
	out, err = runRuntimeCLI(t, "runtime", "check", "--ollama", "127.0.0.1:1")
	if err == nil || !strings.Contains(out, "DOWN") {
		t.Errorf("dead host: %v\n%s", err, out)
	}

	dir := t.TempDir()
	prompts := filepath.Join(dir, "p.txt")
	os.WriteFile(prompts, []byte("Once upon a time\nLily had a\n"), 0o644)
	samples := filepath.Join(dir, "s.jsonl")
	args := []string{"sample", "--model", "stories260k", "--prompts", prompts, "--k", "3", "--out", samples, "--raw", "--num-predict", "8", "--seed", "5", "--json"}
	out, err = runRuntimeCLI(t, args...)
	if err != nil {
		t.Fatalf("sample: %v\n%s", err, out)
	}
	var sum runtime.SampleSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Written != 6 || sum.Total != 6 {
		t.Fatalf("summary %s (%v)", out, err)
	}
	rows, err := runtime.ReadSamples(samples)
	if err != nil || len(rows) != 6 {
		t.Fatalf("%d rows (%v)", len(rows), err)
	}
	for _, r := range rows {
		if r.Options.NumPredict != 8 || r.Options.Temperature != 1 || r.Options.RepeatPenalty != 1 || r.Seed == 0 {
			t.Errorf("row %+v", r)
		}
	}
	out, err = runRuntimeCLI(t, args...)
	if err != nil || !strings.Contains(out, `"existing":6`) || !strings.Contains(out, `"written":0`) {
		t.Errorf("rerun: %v %s", err, out)
	}
	if out, err := runRuntimeCLI(t, "sample", "--model", "stories260k", "--prompts", prompts, "--out", samples+"2", "--num-predict", "0"); err == nil || !strings.Contains(err.Error(), "unlimited") {
		t.Errorf("num-predict 0: %v %s", err, out)
	}
}
