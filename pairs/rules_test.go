package pairs

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
)

// scripted is a pairwise judge that prefers the higher quality and records every game.
type scripted struct {
	q     []float64
	games []string // "a-b/bracket"
	final *int     // answer to the final game (nil: by quality)
}

func (s *scripted) play(a, b int, bracket string) (int, error) {
	s.games = append(s.games, fmt.Sprintf("%d-%d/%s", a, b, bracket))
	if bracket == BracketFinal && s.final != nil {
		return *s.final, nil
	}
	switch {
	case s.q[a] > s.q[b]:
		return 1, nil
	case s.q[a] < s.q[b]:
		return -1, nil
	}
	return 0, nil
}

func TestINPOTournamentEightSamples(t *testing.T) {
	// Sample i has quality q[i]. Winners' bracket: 0-1→1, 2-3→3, 4-5→5, 6-7→7; 1-3→1, 5-7→5;
	// 1-5→1: y_w = 1 (quality 7). First-round losers 0, 2, 4, 6 (qualities 3, 1, 0, 2), the
	// loser advancing: 0-2→2, 4-6→4; 2-4→4: y_l = 4 (quality 0, the worst of all eight; the
	// opponent 1 beat in round one was 0). Final 1-4: 1 wins, the pair is kept.
	s := &scripted{q: []float64{3, 7, 1, 5, 0, 6, 2, 4}}
	res, err := INPO(8, s.play)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"0-1/winners", "2-3/winners", "4-5/winners", "6-7/winners", "1-3/winners", "5-7/winners", "1-5/winners",
		"0-2/losers", "4-6/losers", "2-4/losers",
		"1-4/final",
	}
	if !reflect.DeepEqual(s.games, want) {
		t.Errorf("games:\n got %v\nwant %v", s.games, want)
	}
	if res != (INPOResult{Best: 1, Worst: 4, Kept: true, Games: 11}) {
		t.Errorf("result %+v, want best 1, worst 4, kept, 11 games", res)
	}
	// The final is its own game: a judge that does not prefer y_w there drops the pair, even
	// though y_w beat everyone in the brackets.
	for _, ans := range []int{-1, 0} {
		s := &scripted{q: []float64{3, 7, 1, 5, 0, 6, 2, 4}, final: &ans}
		if res, _ := INPO(8, s.play); res.Kept || res.Games != 11 {
			t.Errorf("final answer %d: kept %v, %d games; want dropped, 11", ans, res.Kept, res.Games)
		}
	}
}

func TestINPOTournamentOtherSizes(t *testing.T) {
	// K = 5: 0-1→0, 2-3→2, 4 bye; 0-2→2, 4 bye; 2-4→2. Losers 1, 3 (0, 1): 1-3→1 (the loser).
	// Final 2-1. Games 4 + 1 + 1 = 6.
	s := &scripted{q: []float64{2, 0, 4, 1, 3}}
	res, err := INPO(5, s.play)
	if err != nil {
		t.Fatal(err)
	}
	if res != (INPOResult{Best: 2, Worst: 1, Kept: true, Games: 6}) {
		t.Errorf("K=5: %+v (games %v)", res, s.games)
	}
	// K = 2: one game finds both; the final replays it as a fresh game: 2 games.
	s = &scripted{q: []float64{0, 1}}
	if res, _ := INPO(2, s.play); res != (INPOResult{Best: 1, Worst: 0, Kept: true, Games: 2}) || s.games[1] != "1-0/final" {
		t.Errorf("K=2: %+v %v", res, s.games)
	}
	// K = 3: 0-1, 2 bye; winner-2. One first-round loser: no losers' game. 2 + 0 + 1 = 3.
	s = &scripted{q: []float64{1, 0, 2}}
	if res, _ := INPO(3, s.play); res != (INPOResult{Best: 2, Worst: 1, Kept: true, Games: 3}) {
		t.Errorf("K=3: %+v %v", res, s.games)
	}
	// Ties go to the first: all equal, the winners' bracket keeps 0 (0-1, 2-3, 0-2), the
	// losers' bracket advances the second of its game (1-3→3), and the final tie drops the
	// pair: 3 + 1 + 1 games.
	s = &scripted{q: []float64{1, 1, 1, 1}}
	if res, _ := INPO(4, s.play); res != (INPOResult{Best: 0, Worst: 3, Kept: false, Games: 5}) {
		t.Errorf("ties: %+v %v", res, s.games)
	}
	if res, _ := INPO(1, s.play); res.Best != -1 || res.Games != 0 {
		t.Errorf("K=1: %+v", res)
	}
	boom := errors.New("judge down")
	if _, err := INPO(8, func(a, b int, _ string) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("error %v", err)
	}
}

func TestBestVsWorst(t *testing.T) {
	// Scores 2, 5, 1, 5, 1: best is the first 5 (1), worst the last 1 (4).
	if got, _ := BestVsWorst(5, ScoreMatch([]float64{2, 5, 1, 5, 1})); !reflect.DeepEqual(got, []Index{{1, 4}}) {
		t.Errorf("got %v", got)
	}
	if got, _ := BestVsWorst(3, ScoreMatch([]float64{4, 4, 4})); got != nil {
		t.Errorf("all tied: %v", got)
	}
	// NaN (an invalid grade) loses to every real score, so it is never the best over one.
	if got, _ := BestVsWorst(3, ScoreMatch([]float64{math.NaN(), 3, 1})); !reflect.DeepEqual(got, []Index{{1, 0}}) {
		t.Errorf("nan: %v", got)
	}
	if got, _ := BestVsWorst(1, ScoreMatch([]float64{1})); got != nil {
		t.Errorf("one: %v", got)
	}
}

func TestDNOPairsByHand(t *testing.T) {
	nan := math.NaN()
	c := []Graded{
		{Score: 6, Valid: true, Teacher: true}, // 0 teacher
		{Score: 5, Valid: true},                // 1
		{Score: 5, Valid: true},                // 2 ties with 1: no pair between them
		{Score: 4, Valid: true},                // 3 not a positive
		{Score: nan, Valid: false},             // 4 invalid grade: in no pair
		{Score: 0, Valid: true, AutoNegative: true},
		{Score: 3, Valid: true}, // 6
	}
	// 0 (teacher, gap 2): 3 (6-4), 5 (automatic), 6 (6-3); not 1 or 2 (gap 1).
	// 1 and 2 (students, gap 1): 3, 5, 6; not 0 (it scores higher) nor each other.
	want := []Index{{0, 3}, {0, 5}, {0, 6}, {1, 3}, {1, 5}, {1, 6}, {2, 3}, {2, 5}, {2, 6}}
	if got := DNOPairs(c, PaperDNORule()); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	// Student over teacher: teacher 4, students 5 and 6.
	c = []Graded{{Score: 4, Valid: true, Teacher: true}, {Score: 5, Valid: true}, {Score: 6, Valid: true}}
	if got := DNOPairs(c, PaperDNORule()); !reflect.DeepEqual(got, []Index{{1, 0}, {2, 0}, {2, 1}}) {
		t.Errorf("student over teacher: %v", got)
	}
	r := PaperDNORule()
	r.Restrictive = true
	if got := DNOPairs(c, r); !reflect.DeepEqual(got, []Index{{2, 1}}) {
		t.Errorf("restrictive: %v", got)
	}
	// An automatic negative is never a positive, even with a high grade on file.
	c = []Graded{{Score: 6, Valid: true, AutoNegative: true}, {Score: 1, Valid: true}}
	if got := DNOPairs(c, PaperDNORule()); got != nil {
		t.Errorf("auto-negative positive: %v", got)
	}
	// A teacher positive at exactly the gap pairs; one point short does not.
	c = []Graded{{Score: 5, Valid: true, Teacher: true}, {Score: 3, Valid: true}, {Score: 4, Valid: true}}
	if got := DNOPairs(c, PaperDNORule()); !reflect.DeepEqual(got, []Index{{0, 1}}) {
		t.Errorf("teacher gap: %v", got)
	}
}

func TestWinRates(t *testing.T) {
	// Students 0, 1, 2, 3, 6 play each other; the teacher (4) plays the students; 5 is invalid.
	c := []Graded{
		{Score: 5, Valid: true},                     // 0: beats 1, 3, 6; ties 2: 3.5/4
		{Score: 3, Valid: true},                     // 1: beats 3, 6: 2/4
		{Score: 5, Valid: true},                     // 2: ties 0; beats 1, 3, 6: 3.5/4
		{Valid: true, AutoNegative: true},           // 3: loses to 0-2, ties 6: 0.5/4
		{Score: 6, Valid: true, Teacher: true},      // 4: beats all five students: 1
		{Score: math.NaN(), Valid: false},           // 5: NaN
		{Valid: true, AutoNegative: true, Score: 9}, // 6: its grade is ignored: 0.5/4
	}
	want := []float64{3.5 / 4, 2.0 / 4, 3.5 / 4, 0.5 / 4, 1, math.NaN(), 0.5 / 4}
	got := WinRates(c)
	for i := range want {
		if !(got[i] == want[i] || (math.IsNaN(got[i]) && math.IsNaN(want[i]))) {
			t.Errorf("r[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if r := WinRates([]Graded{{Score: 1, Valid: true}}); !math.IsNaN(r[0]) {
		t.Errorf("alone: %v", r)
	}
}

func TestAllPairs(t *testing.T) {
	got := AllPairs([]float64{3, 1, 3, math.NaN(), 2}, 0)
	want := []Index{{0, 1}, {0, 4}, {2, 1}, {2, 4}, {4, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	if got := AllPairs([]float64{3, 1, 2}, 2); !reflect.DeepEqual(got, []Index{{0, 1}}) {
		t.Errorf("gap 2: %v", got)
	}
}

func TestReplayCounts(t *testing.T) {
	for _, c := range []struct {
		fresh int
		past  []int
		fracs []float64
		want  []int
	}{
		{20, []int{10, 10, 10}, []float64{0.3, 0.15}, []int{6, 3, 0}},
		{100, []int{12, 50}, []float64{0.3, 0.15}, []int{12, 15}}, // capped by what t-1 holds
		{7, []int{100}, []float64{0.3}, []int{2}},                 // floor(2.1)
		{10, []int{100, 100}, []float64{0.3, 0.15}, []int{3, 1}},  // floor(1.5)
		{0, []int{5}, []float64{0.3}, []int{0}},
	} {
		got, err := ReplayCounts(c.fresh, c.past, c.fracs)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ReplayCounts(%d, %v, %v) = %v, %v; want %v", c.fresh, c.past, c.fracs, got, err, c.want)
		}
	}
	if _, err := ReplayCounts(10, []int{1}, []float64{1.5}); err == nil {
		t.Error("fraction 1.5 accepted")
	}
	if _, err := ReplayCounts(-1, nil, nil); err == nil {
		t.Error("negative count accepted")
	}
}
