package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runData runs `align data ARGS...` and returns stdout.
func runData(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(append([]string{"data"}, args...))
	err := root.Execute()
	return out.String(), err
}

const dataDir = "../../testdata/data"

func TestDataValidateCLI(t *testing.T) {
	out, err := runData(t, "validate", filepath.Join(dataDir, "harmless-base-test.jsonl.gz"))
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("validate of HH: err %v, want exit status 1", err)
	}
	if !strings.Contains(out, `data: harmless-base-test.jsonl.gz row 1255 column "rejected": no shared prompt prefix`) ||
		!strings.Contains(out, "5 no shared prompt prefix") {
		t.Fatalf("output lacks the no-prefix rows:\n%s", out)
	}
	out, err = runData(t, "validate", "--json", filepath.Join(dataDir, "dpo_en_demo.json"))
	if err != nil {
		t.Fatalf("validate of a clean file: %v", err)
	}
	var v struct {
		OK     bool `json:"ok"`
		Report struct{ Rows int }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || !v.OK || v.Report.Rows != 300 {
		t.Fatalf("json %q: %v", out, err)
	}
}

func TestDataInspectCLI(t *testing.T) {
	out, err := runData(t, "inspect", "--json", filepath.Join(dataDir, "kto_en_demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ins struct {
		Kind   string
		Rows   int
		Labels map[string]int
		Chars  map[string]struct{ Count int }
	}
	if err := json.Unmarshal([]byte(out), &ins); err != nil {
		t.Fatal(err)
	}
	if ins.Kind != "unpaired" || ins.Rows != 300 || ins.Labels["true"]+ins.Labels["false"] != 300 || ins.Chars["completion"].Count != 300 {
		t.Fatalf("inspect: %+v", ins)
	}
	out, err = runData(t, "inspect", filepath.Join(dataDir, "dpo_en_demo.json"))
	if err != nil || !strings.Contains(out, "format:  json (sharegpt)") || !strings.Contains(out, "user | assistant") {
		t.Fatalf("text inspect: %v\n%s", err, out)
	}
	model := "../../testdata/models/stories260K.gguf"
	if _, err := os.Stat(model); err == nil {
		out, err = runData(t, "inspect", "--json", "--model", model, filepath.Join(dataDir, "xstest_refusal_pairs.jsonl"))
		if err != nil {
			t.Fatalf("inspect --model: %v", err)
		}
		var tk struct {
			Tokens map[string]struct{ Count, Min, Max int }
		}
		if err := json.Unmarshal([]byte(out), &tk); err != nil || tk.Tokens["chosen"].Count != 976 || tk.Tokens["chosen"].Max <= tk.Tokens["chosen"].Min {
			t.Fatalf("token stats: %v %+v", err, tk)
		}
	}
}

func TestDataConvertSplitPairsCLI(t *testing.T) {
	dir := t.TempDir()
	pq := filepath.Join(dir, "hh.parquet")
	if _, err := runData(t, "convert", filepath.Join(dataDir, "harmless-base-test.jsonl.gz"), pq); err == nil || !strings.Contains(err.Error(), "--skip-invalid") {
		t.Fatalf("convert without --skip-invalid: %v", err)
	}
	if _, err := os.Stat(pq); !os.IsNotExist(err) {
		t.Fatalf("a failed convert left %s", pq)
	}
	out, err := runData(t, "convert", "--skip-invalid", "--json", filepath.Join(dataDir, "harmless-base-test.jsonl.gz"), pq)
	if err != nil {
		t.Fatal(err)
	}
	var conv struct {
		Written int
		Report  struct {
			Rows, Skipped int
			Reasons       map[string]int
		}
	}
	if err := json.Unmarshal([]byte(out), &conv); err != nil || conv.Report.Rows != 2312 || conv.Written+conv.Report.Skipped != 2312 || conv.Report.Reasons["no shared prompt prefix"] != 5 {
		t.Fatalf("convert: %v %s", err, out)
	}
	tr, te := filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "test.parquet")
	out, err = runData(t, "split", pq, "--test", "0.2", "--seed", "3", "--out-train", tr, "--out-test", te, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sp struct{ Train, Test int }
	if err := json.Unmarshal([]byte(out), &sp); err != nil || sp.Train+sp.Test != conv.Written || sp.Test == 0 {
		t.Fatalf("split: %v %s", err, out)
	}
	pairs := filepath.Join(dir, "pairs.jsonl")
	out, err = runData(t, "pairs", "--skip-invalid", filepath.Join(dataDir, "vicuna80_ranked.jsonl"), pairs, "--scheme", "all_pairs", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Prompts, Pairs int
		StageCounts    []int `json:"stage_counts"`
	}
	if err := json.Unmarshal([]byte(out), &pr); err != nil || pr.Prompts != 79 || pr.Pairs == 0 || pr.StageCounts[0] > pr.Prompts {
		t.Fatalf("pairs: %v %s", err, out)
	}
	if _, err := runData(t, "pairs", filepath.Join(dataDir, "dpo_en_demo.json"), pairs); err == nil || !strings.Contains(err.Error(), "ranked") {
		t.Fatalf("pairs on pairwise data: %v", err)
	}
	if _, err := runData(t, "inspect", "--map", "chosen", pq); err == nil {
		t.Fatal("--map without = accepted")
	}
}
