package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runObjectives runs `align objectives ARGS...` with stdin and returns stdout.
func runObjectives(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"objectives"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestObjectivesScoreCLI(t *testing.T) {
	in := `{"pi_w": -10, "pi_l": -12, "ref_w": -11, "ref_l": -11, "len_w": 5, "len_l": 6}
{"pi_w": -7, "pi_l": -7, "ref_w": -7, "ref_l": -7, "len_w": 3, "len_l": 3}
`
	out, err := runObjectives(t, in, "score", "--objective", "dpo", "--param", "beta=0.5", "--param", "loss_type=sigmoid")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q: want 2 lines", out)
	}
	var first struct {
		Loss    float64            `json:"loss"`
		Grads   map[string]float64 `json:"grads"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	// x = beta*((pi_w-ref_w)-(pi_l-ref_l)) = 0.5*2 = 1; loss = log(1+e^-1).
	if want := math.Log1p(math.Exp(-1)); math.Abs(first.Loss-want) > 1e-15 {
		t.Errorf("loss %v, want %v", first.Loss, want)
	}
	if want := 0.5 * (1/(1+math.Exp(-1)) - 1); math.Abs(first.Grads["pi_w"]-want) > 1e-15 {
		t.Errorf("grad pi_w %v, want %v", first.Grads["pi_w"], want)
	}
	if first.Metrics["rewards/accuracies"] != 1 || first.Metrics["rewards/chosen"] != 0.5 {
		t.Errorf("metrics %v", first.Metrics)
	}
	var second struct{ Loss float64 }
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil || math.Abs(second.Loss-math.Ln2) > 1e-15 {
		t.Errorf("equal inputs: loss %v (%v), want log 2", second.Loss, err)
	}

	// --in FILE, an array-valued objective.
	path := filepath.Join(t.TempDir(), "hypo.jsonl")
	if err := os.WriteFile(path, []byte(`{"pi_w": -10, "pi_l": -12, "ref_w": -11, "ref_l": -11, "on_pi": [-5, -7], "on_ref": [-6, -6]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runObjectives(t, "", "score", "--objective", "hypo", "--param", "kl_estimator=k2", "--in", path)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Grads   map[string]any     `json:"grads"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatal(err)
	}
	if arr, ok := h.Grads["on_pi"].([]any); !ok || len(arr) != 2 || h.Metrics["kl_estimate"] != 0.5 {
		t.Errorf("hypo output %s", out)
	}
}

func TestObjectivesScoreCLIErrors(t *testing.T) {
	cases := []struct {
		stdin string
		args  []string
		want  string
	}{
		{`{"pi_w": -1, "pi_l": -2, "ref_w": 0, "len_w": 1, "len_l": 1}`, []string{"score", "--objective", "dpo"}, `line 1: missing field "ref_l"`},
		{"{\"pi_w\": -1, \"pi_l\": -2, \"len_w\": 1, \"len_l\": 1}\n{\"pi_w\": -1, \"pi_l\": -2, \"len_w\": 1, \"len_l\": 1, \"ref_w\": 0}", []string{"score", "--objective", "simpo"}, `line 2: unexpected field "ref_w"`},
		{"", []string{"score", "--objective", "dpo", "--param", "loss_type=hinje"}, `did you mean "hinge"`},
		{"", []string{"score", "--objective", "dpo", "--param", "beta=0"}, "beta must be > 0"},
		{"", []string{"score", "--objective", "simpoo"}, `did you mean "simpo"`},
		{"", []string{"score", "--objective", "dpo", "--param", "beta"}, "want name=value"},
		{"", []string{"score", "--objective", "cpl", "--param", "lam=2"}, "lam must lie in (0, 1]"},
	}
	for _, c := range cases {
		_, err := runObjectives(t, c.stdin, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}

func TestObjectivesListCLI(t *testing.T) {
	out, err := runObjectives(t, "", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var reg []struct {
		Name   string `json:"name"`
		Paper  string `json:"paper"`
		Params []struct {
			Name, Default string
		} `json:"params"`
		Inputs []string `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, r := range reg {
		found[r.Name] = true
		if r.Paper == "" || len(r.Inputs) == 0 {
			t.Errorf("%s: incomplete entry", r.Name)
		}
	}
	for _, n := range []string{"dpo", "f_dpo", "simpo", "cpl", "curry_dpo", "inpo", "dno", "dno_prct", "srpo", "apo", "hypo"} {
		if !found[n] {
			t.Errorf("list --json lacks %s", n)
		}
	}
	text, err := runObjectives(t, "", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "--param loss_type=") || !strings.Contains(text, "arXiv 2305.18290") {
		t.Errorf("text listing lacks parameters or papers:\n%s", text[:min(len(text), 400)])
	}
}
