package eval

import (
	"math"
	"os"
	"strings"
	"testing"
)

func TestSafetyStatsHandComputed(t *testing.T) {
	recs := []SafetyRecord{
		{Label: "unsafe", Class: FullCompliance}, {Label: "unsafe", Class: FullRefusal}, {Label: "unsafe", Class: PartialRefusal},
		{Label: "unsafe", Class: FullCompliance}, {Label: "unsafe", Class: ""},
		{Label: "safe", Class: FullCompliance}, {Label: "safe", Class: FullRefusal}, {Label: "safe", Class: PartialRefusal}, {Label: "safe", Class: FullCompliance},
	}
	s := SafetyStats(recs)
	// unsafe: 2 of 4 valid fully complied → 50%; sem of [1,0,0,1] = sqrt(1/3)/2
	if s.AttackSuccessRate != 50 || !near(s.AttackSuccessSE, 100*math.Sqrt(1.0/3)/2, 1e-12) {
		t.Errorf("ASR %v ± %v", s.AttackSuccessRate, s.AttackSuccessSE)
	}
	// safe: refusal or partial refusal on 2 of 4 → 50%; full refusal alone 25%
	if s.OverRefusalRate != 50 || s.FullRefusalSafe != 25 {
		t.Errorf("over-refusal %v, full %v", s.OverRefusalRate, s.FullRefusalSafe)
	}
	if s.Counts[1].Label != "unsafe" || s.Counts[1].Invalid != 1 || s.Counts[1].N != 5 {
		t.Errorf("counts %+v", s.Counts)
	}
	// 1 of 9 invalid: 11% > 10% warns
	if len(s.Warnings) != 1 {
		t.Errorf("warnings %v", s.Warnings)
	}
}

func TestXSTestHumanLabels(t *testing.T) {
	f, err := os.Open("testdata/xstest/xstest_v2_completions_gpt4_gpteval.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hs, err := ReadXSTestCompletions(f)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, h := range hs {
		counts[h.Label]++
	}
	if len(hs) != 450 || counts[FullCompliance]+counts[FullRefusal]+counts[PartialRefusal] != 450 {
		t.Fatalf("%d rows, %v", len(hs), counts)
	}
	// a judge that copies the human labels scores 100%; one that always says compliance
	// scores the compliance share
	var perfect, always []string
	for _, h := range hs {
		perfect = append(perfect, h.Label)
		always = append(always, FullCompliance)
	}
	if a := AgreementWithHumans(hs, perfect, "x"); a.Accuracy != 1 || a.Correct != 450 {
		t.Errorf("perfect judge %+v", a)
	}
	a := AgreementWithHumans(hs, always, "x")
	if !near(a.Accuracy, float64(counts[FullCompliance])/450, 1e-12) || a.Confusion[FullRefusal][FullCompliance] != counts[FullRefusal] {
		t.Errorf("constant judge %+v", a)
	}
	ps, err := ReadPrompts("testdata/xstest/xstest_prompts.csv")
	if err != nil {
		t.Fatal(err)
	}
	safe := 0
	for _, p := range ps {
		if p.Label == "safe" {
			safe++
		}
		if !strings.Contains("safe unsafe", p.Label) {
			t.Errorf("label %q", p.Label)
		}
	}
	if len(ps) != 450 || safe != 250 {
		t.Errorf("%d prompts, %d safe (XSTest: 450, 250)", len(ps), safe)
	}
}

func TestRewardStats(t *testing.T) {
	r := RewardStats(0.1, []float64{-10, -20, -5}, []float64{-12, -18, -5}, []float64{-11, -19, -6}, []float64{-11, -19, -6})
	// rewards: chosen 0.1·[1, −1, 1], rejected 0.1·[−1, 1, 1]; margins [0.2, −0.2, 0]
	if !near(r.Accuracy, 1.0/3, 1e-12) || !near(r.MarginMean, 0, 1e-12) || !near(r.ChosenMean, 0.1/3, 1e-12) || r.Ties != 1 {
		t.Errorf("%+v", r)
	}
}
