package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/recipes"
)

func runAlign(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestRecipesCommands(t *testing.T) {
	out, err := runAlign(t, "recipes", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var infos []struct{ Name, Objective string }
	if err := json.Unmarshal([]byte(out), &infos); err != nil || len(infos) != len(recipes.Names()) {
		t.Fatalf("recipes list --json: %v\n%s", err, out)
	}
	out, err = runAlign(t, "recipes", "show", "simpo")
	if err != nil || !strings.Contains(out, "gamma_beta_ratio") || !strings.Contains(out, "version: 1") {
		t.Errorf("recipes show simpo: %v\n%s", err, out)
	}
	if _, err := runAlign(t, "recipes", "show", "simpoo"); err == nil || !strings.Contains(err.Error(), `did you mean "simpo"`) {
		t.Errorf("recipes show simpoo: %v", err)
	}
}

func TestTrainResumeExportCommands(t *testing.T) {
	t.Setenv("ALIGN_CACHE_DIR", t.TempDir())
	dir := filepath.Join(t.TempDir(), "run")
	out, err := runAlign(t, "train", "--recipe", "dpo", "--out", dir, "--json", "-q",
		"--set", "max_steps=2", "--set", "batch_size=2", "--set", "max_length=64", "--set", "max_prompt_length=24", "--set", "dataset.max_samples=4")
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	var res struct {
		Steps     int    `json:"steps"`
		Objective string `json:"objective"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Steps != 2 || res.Objective != "dpo" {
		t.Fatalf("train --json: %v\n%s", err, out)
	}
	// Resuming a finished run is a no-op that reports the same run.
	out, err = runAlign(t, "train", "--resume", dir, "-q")
	if err != nil || !strings.Contains(out, "2 steps") {
		t.Errorf("train --resume: %v\n%s", err, out)
	}
	// A second fresh run into the same directory is refused.
	if _, err := runAlign(t, "train", "--recipe", "dpo", "--out", dir, "-q"); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("second run into the same dir: %v", err)
	}
	if _, err := runAlign(t, "train", "--recipe", "dpo", "--set", "leaning_rate=1"); err == nil || !strings.Contains(err.Error(), "learning_rate") {
		t.Errorf("typo: %v", err)
	}
	if _, err := runAlign(t, "export", "--run", dir, "--to", "olama:x"); err == nil || !strings.Contains(err.Error(), "ollama") {
		t.Errorf("export bad target: %v", err)
	}
}
