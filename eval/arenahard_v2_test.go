package eval

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestArenaHardV2PlainScore: an Arena-Hard v2 directory without --style-control gets v2's
// plain leaderboard (show_result.py's print_leaderboard): per category, each model's mean
// battle score against the category's baseline, recomputed here from the verdicts written
// (label_to_score with weight 3, game 2 then 1 − game 1, null rows dropped), and a bootstrap
// within each model redone here from NumPy's generator.
func TestArenaHardV2PlainScore(t *testing.T) {
	dir, _, games := writeArenaV2Dir(t, rand.New(rand.NewSource(2)))
	toScore := map[string][]float64{"A>B": {1}, "A>>B": {1, 1, 1}, "A=B": {0.5}, "B>A": {0}, "B>>A": {0, 0, 0}}
	want := map[string]map[string][]float64{} // category → model → scores
	for _, g := range games {
		if g.g1 == "" || g.g2 == "" {
			continue
		}
		s := append([]float64(nil), toScore[g.g2]...)
		for _, x := range toScore[g.g1] {
			s = append(s, 1-x)
		}
		if want[g.category] == nil {
			want[g.category] = map[string][]float64{}
		}
		want[g.category][g.model] = append(want[g.category][g.model], s...)
	}
	out := t.TempDir()
	res, err := RunLeaderboard(LeaderboardOptions{Judgments: dir, BT: BTOptions{Rounds: 30}, Out: out, CSV: filepath.Join(out, "lb.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.V2) != 2 || res.Style != nil || res.Leaderboard != nil {
		t.Fatalf("v2 %d leaderboards, style %v, v0.1 %v: want two plain v2 leaderboards only", len(res.V2), res.Style, res.Leaderboard)
	}
	for _, lb := range res.V2 {
		w := want[lb.Category]
		if lb.Baseline != ArenaHardV2Baselines[lb.Category] || len(lb.Rows) != 3 || lb.Rounds != 30 {
			t.Fatalf("%s: baseline %s, %d rows, %d rounds", lb.Category, lb.Baseline, len(lb.Rows), lb.Rounds)
		}
		for i, r := range lb.Rows {
			if i > 0 && r.Score > lb.Rows[i-1].Score {
				t.Errorf("%s: rows not sorted by score", lb.Category)
			}
			if r.Model == lb.Baseline {
				if r.Score != 50 || r.Lower != 50 || r.Upper != 50 {
					t.Errorf("%s: baseline row %+v, want 50", lb.Category, r)
				}
				continue
			}
			s := w[r.Model]
			m := 0.0
			for _, x := range s {
				m += x / float64(len(s))
			}
			if len(s) == 0 || r.Battles != len(s) || math.Abs(r.Mean-100*m) > 1e-9 {
				t.Errorf("%s %s: mean %g over %d battles, want %g over %d", lb.Category, r.Model, r.Mean, r.Battles, 100*m, len(s))
			}
			if !(r.Lower <= r.Score && r.Score <= r.Upper) || math.Abs(r.Score-r.Mean) > 5 {
				t.Errorf("%s %s: score %g interval (%g, %g), mean %g", lb.Category, r.Model, r.Score, r.Lower, r.Upper, r.Mean)
			}
		}
		// The bootstrap, redone: models in sorted order, each model's n draws per round.
		var models []string
		for m := range w {
			models = append(models, m)
		}
		sort.Strings(models)
		rng := newMT19937(42)
		boots := map[string][]float64{}
		for r := 0; r < 30; r++ {
			for _, m := range models {
				sum := 0.0
				for range w[m] {
					sum += w[m][rng.boundedMasked(len(w[m]))]
				}
				boots[m] = append(boots[m], sum/float64(len(w[m])))
			}
		}
		for _, r := range lb.Rows {
			b, ok := boots[r.Model]
			if !ok {
				continue
			}
			sort.Float64s(b)
			avg := 0.0
			for _, x := range b {
				avg += x / float64(len(b))
			}
			// 5% quantile with linear interpolation at position 0.05·29 = 1.45
			lo := b[1] + 0.45*(b[2]-b[1])
			if math.Abs(r.Score-100*avg) > 1e-9 || math.Abs(r.Lower-100*lo) > 1e-9 {
				t.Errorf("%s %s: score %g lower %g, want %g and %g", lb.Category, r.Model, r.Score, r.Lower, 100*avg, 100*lo)
			}
		}
	}
	if len(res.CSVFiles) != 2 || !strings.HasSuffix(res.CSVFiles[0], "lb_creative_writing.csv") {
		t.Errorf("csv files %v", res.CSVFiles)
	}
	h, _ := os.ReadFile(filepath.Join(out, "report.html"))
	if !strings.Contains(string(h), "Arena-Hard v2 leaderboard (no style control) · hard_prompt") {
		t.Error("report.html lacks the plain v2 leaderboard")
	}
	// With --style-control the directory gets both leaderboards; the CSV files are the
	// style-controlled ones.
	res2, err := RunLeaderboard(LeaderboardOptions{Judgments: dir, BT: BTOptions{Rounds: 10}, StyleControl: true, CSV: filepath.Join(out, "sc.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.V2) != 2 || len(res2.Style) != 2 || len(res2.CSVFiles) != 2 {
		t.Fatalf("with style control: %d plain, %d style leaderboards, csv %v", len(res2.V2), len(res2.Style), res2.CSVFiles)
	}
}
