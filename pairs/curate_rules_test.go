package pairs

import (
	"github.com/alignkit/align/data/curate"
	"math"
	"testing"

	"github.com/alignkit/align/data"
)

func sc(model string, sample int, score float64, student bool) Scored {
	return Scored{Candidate: Candidate{PromptID: "p", Model: model, Sample: sample, Text: model + string(rune('a'+sample)), Student: student},
		Score: score, Valid: true}
}

type pr struct{ c, r string }

func pairsOf(ps []data.Pair) []pr {
	out := make([]pr, len(ps))
	for i, p := range ps {
		out[i] = pr{p.Chosen[0].Content, p.Rejected[0].Content}
	}
	return out
}

func samePairs(t *testing.T, name string, got []data.Pair, want []pr) {
	t.Helper()
	g := pairsOf(got)
	if len(g) != len(want) {
		t.Fatalf("%s: %d pairs %v, want %d %v", name, len(g), g, len(want), want)
	}
	for i := range want {
		if g[i] != want[i] {
			t.Errorf("%s: pair %d = %v, want %v", name, i, g[i], want[i])
		}
	}
}

func TestRatedPairs(t *testing.T) {
	cands := []Scored{sc("m", 0, 6, false), sc("m", 1, 9, false), sc("m", 2, 6, false), sc("m", 3, 2, false)}
	bad := sc("m", 4, 10, false)
	bad.Valid = false // an invalid judgment never pairs, even with a high score
	cands = append(cands, bad)
	prompt := UserPrompt("q")
	got, err := RatedPairs("p", prompt, cands, RatedPairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	samePairs(t, "best-vs-rest", got, []pr{{"mb", "ma"}, {"mb", "mc"}, {"mb", "md"}})
	if *got[0].ScoreChosen != 9 || *got[0].ScoreRejected != 6 || got[0].ID != "p#0" || got[0].Prompt[0].Content != "q" {
		t.Errorf("pair fields: %+v", got[0])
	}
	got, _ = RatedPairs("p", prompt, cands, RatedPairOptions{Mode: PairsBestVsWorst})
	samePairs(t, "best-vs-worst", got, []pr{{"mb", "md"}})
	got, _ = RatedPairs("p", prompt, cands, RatedPairOptions{Mode: PairsAll})
	// The tie 6 = 6 gives no pair.
	samePairs(t, "all", got, []pr{{"mb", "ma"}, {"mb", "mc"}, {"mb", "md"}, {"ma", "md"}, {"mc", "md"}})
	got, _ = RatedPairs("p", prompt, cands, RatedPairOptions{Mode: PairsAll, MinMargin: 4})
	samePairs(t, "all margin 4", got, []pr{{"mb", "md"}, {"ma", "md"}, {"mc", "md"}})
	a, _ := RatedPairs("p", prompt, cands, RatedPairOptions{Mode: PairsBestVsRandom, Seed: 3})
	b, _ := RatedPairs("p", prompt, cands, RatedPairOptions{Mode: PairsBestVsRandom, Seed: 3})
	if len(a) != 1 || pairsOf(a)[0] != pairsOf(b)[0] || a[0].Chosen[0].Content != "mb" {
		t.Errorf("best-vs-random not one deterministic pair: %v %v", pairsOf(a), pairsOf(b))
	}
	if _, err := RatedPairs("p", prompt, cands, RatedPairOptions{Mode: "nope"}); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestDNOPairs(t *testing.T) {
	teacher := sc("gpt", 0, 5, false)
	s6 := sc("pol", 0, 6, true)
	s5 := sc("pol", 1, 5, true)
	s4 := sc("pol", 2, 4, true)
	s3 := sc("pol", 3, 3, true)
	deg := sc("pol", 4, 1, true)
	deg.AutoNegative = true
	cands := []Scored{teacher, s6, s5, s4, s3, deg}
	prompt := UserPrompt("q")
	got := ScoredDNOPairs("p", prompt, cands, PaperDNORule())
	// In candidate order: teacher(5), s6(6), s5(5), s4(4), s3(3), deg(auto-negative).
	// teacher (margin 2): over s3, deg.
	// s6 (student, margin 1): over teacher, s5, s4, s3, deg — student-over-teacher kept.
	// s5 (student, margin 1): over s4, s3, deg.
	samePairs(t, "dno", got, []pr{
		{"gpta", "pold"}, {"gpta", "pole"},
		{"pola", "gpta"}, {"pola", "polb"}, {"pola", "polc"}, {"pola", "pold"}, {"pola", "pole"},
		{"polb", "polc"}, {"polb", "pold"}, {"polb", "pole"},
	})
	got = ScoredDNOPairs("p", prompt, cands, DNORule{MinScore: 5, MinGap: 2, StudentGap: 1, Restrictive: true})
	for _, p := range pairsOf(got) {
		if p.r == "gpta" {
			t.Errorf("restrictive kept a student-over-teacher pair %v", p)
		}
	}
	if len(got) != 9 {
		t.Errorf("restrictive: %d pairs, want 9", len(got))
	}
	// Positives must score at least 5: nothing pairs when the best is 4.
	if got := ScoredDNOPairs("p", prompt, []Scored{s4, s3, deg}, PaperDNORule()); len(got) != 0 {
		t.Errorf("pairs without a positive: %v", pairsOf(got))
	}
}

func TestTournaments(t *testing.T) {
	// Candidate quality is its index: higher wins. Candidate 2's games are invalid.
	calls := 0
	cmp := func(i, j int) (float64, error) {
		calls++
		if i == 2 || j == 2 {
			return math.NaN(), nil
		}
		if i > j {
			return 1, nil
		}
		return 2, nil
	}
	scores, pref, err := RoundRobin(4, cmp)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 6 {
		t.Errorf("round robin made %d comparisons, want 6", calls)
	}
	if !math.IsNaN(scores[2]) || scores[3] != 1 || scores[0] != 0 || scores[1] != 0.5 {
		t.Errorf("round-robin scores %v", scores)
	}
	if pref[0][1] != 2 || !math.IsNaN(pref[1][0]) {
		t.Errorf("pref matrix %v", pref)
	}
	calls = 0
	ko, err := KnockoutScores(5, func(i, j int) (float64, error) {
		calls++
		if i > j {
			return 1, nil
		}
		return 2, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 4 {
		t.Errorf("knockout made %d comparisons, want n-1 = 4", calls)
	}
	// Round 1: 0v1 → 1, 2v3 → 3, 4 bye. Round 2: 1v3 → 3, 4 bye. Final: 3v4 → 4.
	want := []float64{0, 1, 0, 2, 1}
	for i := range want {
		if ko[i] != want[i] {
			t.Errorf("knockout scores %v, want %v", ko, want)
			break
		}
	}
}

func TestRefusalPairs(t *testing.T) {
	lab := func(s int, class string) Labeled {
		return Labeled{Candidate: Candidate{PromptID: "p", Model: "m", Sample: s, Text: class + string(rune('0'+s))}, Class: class}
	}
	samples := []Labeled{lab(0, ClassCompliance), lab(1, ClassRefusal), lab(2, ClassPartial), lab(3, ""), lab(4, ClassCompliance)}
	got, err := RefusalPairs(curate.Text{ID: "u", Label: "unsafe"}, UserPrompt("harm"), samples, RefusalPairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	samePairs(t, "unsafe", got, []pr{{"refusal1", "compliance0"}, {"refusal1", "compliance4"}})
	got, _ = RefusalPairs(curate.Text{ID: "s", Label: "safe"}, UserPrompt("kill a process"), samples, RefusalPairOptions{PartialAsRefusal: true, MaxPairsPerPrompt: 3})
	samePairs(t, "safe", got, []pr{{"compliance0", "refusal1"}, {"compliance0", "partial2"}, {"compliance4", "refusal1"}})
	onlyComply := []Labeled{lab(0, ClassCompliance)}
	if got, _ := RefusalPairs(curate.Text{ID: "u", Label: "unsafe"}, nil, onlyComply, RefusalPairOptions{}); len(got) != 0 {
		t.Errorf("pairs without a refusal: %v", pairsOf(got))
	}
	got, _ = RefusalPairs(curate.Text{ID: "u", Label: "unsafe"}, nil, onlyComply, RefusalPairOptions{FallbackRefusal: "I can't help with that."})
	samePairs(t, "fallback", got, []pr{{"I can't help with that.", "compliance0"}})
	if _, err := RefusalPairs(curate.Text{ID: "x"}, nil, samples, RefusalPairOptions{}); err == nil {
		t.Error("unlabelled prompt accepted")
	}
}

func TestMixPairs(t *testing.T) {
	mk := func(prefix string, n int) []data.Pair {
		out := make([]data.Pair, n)
		for i := range out {
			out[i] = data.Pair{ID: prefix + string(rune('a'+i))}
		}
		return out
	}
	prim, gen := mk("r", 9), mk("g", 20)
	out, err := MixPairs(prim, gen, 0.25, 1)
	if err != nil {
		t.Fatal(err)
	}
	ng := 0
	for _, p := range out {
		if p.ID[0] == 'g' {
			ng++
		}
	}
	if len(out) != 12 || ng != 3 {
		t.Errorf("ratio 0.25 of 9 refusal pairs: %d pairs, %d general; want 12, 3", len(out), ng)
	}
	again, _ := MixPairs(prim, gen, 0.25, 1)
	for i := range out {
		if out[i].ID != again[i].ID {
			t.Fatal("mix not deterministic for a seed")
		}
	}
	capped, _ := MixPairs(prim, mk("g", 2), 0.5, 1)
	if len(capped) != 11 {
		t.Errorf("capped mix: %d pairs, want 11", len(capped))
	}
	if _, err := MixPairs(prim, gen, 1, 1); err == nil {
		t.Error("ratio 1 accepted")
	}
}
