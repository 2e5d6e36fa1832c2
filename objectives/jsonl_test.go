package objectives

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestScoreJSONLMatchesLoss(t *testing.T) {
	obj := mustNew(t, kv("dpo", "beta", "0.2"))
	input := `{"pi_w": -10, "pi_l": -12, "ref_w": -11, "ref_l": -11, "len_w": 5, "len_l": 6}

{"pi_w": -3, "pi_l": -3, "ref_w": -3, "ref_l": -3, "len_w": 0, "len_l": 0}
`
	var out bytes.Buffer
	if err := ScoreJSONL(obj, strings.NewReader(input), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d output lines, want 2 (blank lines skipped)", len(lines))
	}
	var got struct {
		Loss    float64            `json:"loss"`
		Grads   map[string]float64 `json:"grads"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	x := 0.2 * ((-10 + 11) - (-12 + 11))
	if math.Abs(got.Loss-softplusRef(-x)) > 1e-15 {
		t.Errorf("loss %v, want %v", got.Loss, softplusRef(-x))
	}
	wantG := 0.2 * (1/(1+math.Exp(-x)) - 1)
	if math.Abs(got.Grads["pi_w"]-wantG) > 1e-15 || math.Abs(got.Grads["pi_l"]+wantG) > 1e-15 || len(got.Grads) != 2 {
		t.Errorf("grads %v, want pi_w %v", got.Grads, wantG)
	}
	if got.Metrics["rewards/margins"] != x {
		t.Errorf("metrics %v", got.Metrics)
	}
	if err := json.Unmarshal([]byte(lines[1]), &got); err != nil || math.Abs(got.Loss-math.Ln2) > 1e-15 {
		t.Errorf("equal inputs line: %v %v", got.Loss, err)
	}
}

func TestScoreJSONLArraysAndErrors(t *testing.T) {
	cpl := mustNew(t, kv("cpl", "gamma", "0.5"))
	var out bytes.Buffer
	if err := ScoreJSONL(cpl, strings.NewReader(`{"tok_w": [-1, -2], "tok_l": []}`), &out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Grads map[string][]float64 `json:"grads"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Grads["tok_w"]) != 2 || len(got.Grads["tok_l"]) != 0 || got.Grads["tok_w"][1] != 0.5*got.Grads["tok_w"][0] {
		t.Errorf("per-token grads %v (discount 0.5 expected between tokens)", got.Grads)
	}
	dpo := mustNew(t, kv("dpo"))
	for _, c := range []struct{ in, want string }{
		{`{"pi_w": -1, "pi_l": -2, "ref_w": 0, "ref_l": 0, "len_w": 1}`, `line 1: missing field "len_l"`},
		{"\n" + `{"pi_w": -1, "pi_l": -2, "ref_w": 0, "ref_l": 0, "len_w": 1, "len_l": 1, "beta": 1}`, `line 2: unexpected field "beta"`},
		{`{"pi_w": "x", "pi_l": -2, "ref_w": 0, "ref_l": 0, "len_w": 1, "len_l": 1}`, `line 1: field "pi_w": want a number`},
		{`[1, 2]`, "line 1: not a JSON object"},
	} {
		err := ScoreJSONL(dpo, strings.NewReader(c.in), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("input %q: error %v, want %q", c.in, err, c.want)
		}
	}
}
