package train

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPLBCWarmUp: with bc_steps, the first steps train the BC loss alone at the constant peak
// learning rate, then the optimizer and the schedule restart for the CPL steps
// (research/algs/cpl.py, CPL.train_step).
func TestCPLBCWarmUp(t *testing.T) {
	sets := append([]string{"max_steps=3", "objective.params.bc_steps=2", "objective.params.bc_coeff=0",
		"lr_scheduler_type=linear", "warmup_ratio=0", "learning_rate=0.001"}, small...)
	dir := filepath.Join(t.TempDir(), "run")
	res := run(t, load(t, "cpl", sets...), dir)
	if res.Steps != 5 {
		t.Fatalf("%d optimizer steps, want bc_steps 2 + max_steps 3 = 5", res.Steps)
	}
	ms, err := ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil || len(ms) != 5 {
		t.Fatalf("metrics: %d lines (%v)", len(ms), err)
	}
	for i, m := range ms {
		v := m.Values
		if i < 2 {
			// Warm-up: the loss is the BC term, at the constant peak rate.
			if v["loss"] != v["bc_loss"] || v["learning_rate"] != 0.001 {
				t.Errorf("warm-up step %d: loss %v bc_loss %v lr %v, want loss = bc_loss and lr 0.001", i+1, v["loss"], v["bc_loss"], v["learning_rate"])
			}
			continue
		}
		// CPL steps: softplus(-m) with bc_coeff 0, and the linear schedule over 3 steps from
		// its start: 0.001 * (1 - k/3) at CPL step k.
		if v["loss"] == v["bc_loss"] {
			t.Errorf("CPL step %d: loss %v equals bc_loss", i+1, v["loss"])
		}
		if want := 0.001 * (1 - float64(i-2)/3); !near64(v["learning_rate"], want) {
			t.Errorf("CPL step %d: lr %v, want %v (the schedule restarts after the warm-up)", i+1, v["learning_rate"], want)
		}
	}
}

func near64(a, b float64) bool { d := a - b; return d < 1e-12 && d > -1e-12 }

// TestCPLWithReference: reference: true gives CPL the reference's per-token log-probs, so the
// advantage is alpha*log(pi/ref). At the first step the LoRA policy equals its base, the
// reference, so both advantages are exactly 0; without the reference they are alpha*log pi < 0.
func TestCPLWithReference(t *testing.T) {
	adv := func(sets ...string) map[string]float64 {
		dir := filepath.Join(t.TempDir(), "run")
		run(t, load(t, "cpl", append(append([]string{"max_steps=1"}, small...), sets...)...), dir)
		ms, err := ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
		if err != nil || len(ms) != 1 {
			t.Fatalf("metrics: %d lines (%v)", len(ms), err)
		}
		return ms[0].Values
	}
	with := adv("reference.free=false", "objective.params.reference=true")
	if with["adv_w"] != 0 || with["adv_l"] != 0 || with["loss"] < 0.6931 || with["loss"] > 0.6932 {
		t.Errorf("with the reference: adv_w %v adv_l %v loss %v, want 0, 0, log 2", with["adv_w"], with["adv_l"], with["loss"])
	}
	without := adv()
	if !(without["adv_w"] < -1) || !(without["adv_l"] < -1) {
		t.Errorf("without a reference: adv_w %v adv_l %v, want alpha*sum log pi < 0", without["adv_w"], without["adv_l"])
	}
}

// TestDNOSoftLabelsTrain: the theoretical DNO loss trains from a pairs file whose scores are the
// responses' win rates against pi_t (r_1 = score_chosen, r_2 = score_rejected); scores that are
// not win rates are refused with the input's name.
func TestDNOSoftLabelsTrain(t *testing.T) {
	src, err := os.ReadFile("../assets/stories_pairs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	write := func(scale float64) string {
		var b strings.Builder
		for i, line := range strings.Split(strings.TrimSpace(string(src)), "\n")[:8] {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
			rec["score_chosen"] = scale * (0.55 + 0.05*float64(i%4))
			rec["score_rejected"] = scale * (0.45 - 0.05*float64(i%3))
			out, _ := json.Marshal(rec)
			b.Write(append(out, '\n'))
		}
		p := filepath.Join(t.TempDir(), "soft.jsonl")
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sets := append([]string{"max_steps=2", "objective.name=dno", "objective.params.eta=0.5", "dataset.format=pairs", "learning_rate=0.01", "warmup_ratio=0",
		"online.iterations=1", "online.pairs.rule=none", "online.local_sampler=true"}, small...)
	dir := filepath.Join(t.TempDir(), "run")
	res := run(t, load(t, "dno", append(sets, "dataset.path="+write(1))...), dir)
	if res.Steps != 2 || res.Pairs == 0 {
		t.Fatalf("result %+v", res)
	}
	ms, err := ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil || len(ms) != 2 {
		t.Fatalf("metrics: %d lines (%v)", len(ms), err)
	}
	// At the first step pi = pi_t, so z = 0 and the loss is log 2 whatever q is; q is the mean
	// of sigmoid(r_1 - r_2) over the micro-batch, above 1/2 since every r_1 > r_2.
	v := ms[0].Values
	if v["z"] != 0 || v["loss"] < 0.6931 || v["loss"] > 0.6932 || !(v["q"] > 0.5 && v["q"] < 0.6) {
		t.Errorf("first step: z %v loss %v q %v", v["z"], v["loss"], v["q"])
	}
	if ms[1].Values["z"] == 0 {
		t.Error("the second step's z is 0: the policy did not move away from pi_t")
	}
	_, err = Run(t.Context(), Options{Recipe: load(t, "dno", append(sets, "dataset.path="+write(6))...), RunDir: filepath.Join(t.TempDir(), "bad")})
	if err == nil || !strings.Contains(err.Error(), "win rate") {
		t.Errorf("rubric-scale scores: error %v, want one saying they are not win rates", err)
	}
}
