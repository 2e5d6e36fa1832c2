package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchTrainPairs: `align bench train --pairs` prints one JSON line with both variants'
// rates and their ratio, a table with them, and refuses a mode it does not measure.
func TestBenchTrainPairs(t *testing.T) {
	args := []string{"bench", "train", "--pairs", "--pairs-n", "2", "--pairs-batch", "2", "--iters", "1",
		"--stories", filepath.Join("..", "..", "testdata", "models", "stories260K.gguf"),
		"--pairs-data", filepath.Join("..", "..", "testdata", "data", "harmless-base-test.jsonl.gz")}
	out, err := runAlign(t, append(args, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Model             string  `json:"model"`
		Pairs             int     `json:"pairs"`
		RowsUnshared      int     `json:"rows_unshared"`
		RowsShared        int     `json:"rows_shared"`
		UnsharedPairsPerS float64 `json:"unshared_pairs_per_s"`
		SharedPairsPerS   float64 `json:"shared_pairs_per_s"`
		Ratio             float64 `json:"ratio"`
		CPURatio          float64 `json:"cpu_ratio"`
		MaxLogProbDiff    float64 `json:"max_logprob_diff"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Model != "stories260K" || r.Pairs != 2 || r.RowsShared >= r.RowsUnshared || r.UnsharedPairsPerS <= 0 ||
		r.SharedPairsPerS <= 0 || r.Ratio <= 0 || r.CPURatio <= 0 || r.MaxLogProbDiff > 1e-5 {
		t.Errorf("--json: %s", out)
	}
	out, err = runAlign(t, args...)
	if err != nil || !strings.Contains(out, "shared pairs/s") || !strings.Contains(out, "stories260K  lora") {
		t.Errorf("table: %v\n%s", err, out)
	}
	if _, err := runAlign(t, append(args, "--modes", "forward")...); err == nil || !strings.Contains(err.Error(), "want lora or full") {
		t.Errorf("--modes forward: %v", err)
	}
}
