package eval

import (
	"math"
	"sort"
)

// MT-Bench scoring as FastChat computes it (fastchat/llm_judge/show_result.py).

// SingleScore is one single-answer grading: a model's 1–10 rating on one turn; −1 marks a
// judge answer without a [[rating]].
type SingleScore struct {
	Model string  `json:"model"`
	Turn  int     `json:"turn"`
	Score float64 `json:"score"`
}

// MTBenchSingleRow is display_result_single's output for one model.
type MTBenchSingleRow struct {
	Model string `json:"model"`
	// Score is the mean over every valid rating; Turns the mean per turn (1-based keys).
	Score float64         `json:"score"`
	Turns map[int]float64 `json:"turns"`
	N     int             `json:"n"`
	// Invalid counts ratings of −1, which FastChat drops.
	Invalid int `json:"invalid"`
}

// MTBenchSingle averages ratings per model and per turn, dropping −1 (no rating parsed).
// Rows are sorted by score, highest first.
func MTBenchSingle(scores []SingleScore) []MTBenchSingleRow {
	type acc struct {
		all     []float64
		turns   map[int][]float64
		invalid int
	}
	by := map[string]*acc{}
	for _, s := range scores {
		a := by[s.Model]
		if a == nil {
			a = &acc{turns: map[int][]float64{}}
			by[s.Model] = a
		}
		if s.Score == -1 || math.IsNaN(s.Score) {
			a.invalid++
			continue
		}
		a.all = append(a.all, s.Score)
		a.turns[s.Turn] = append(a.turns[s.Turn], s.Score)
	}
	var rows []MTBenchSingleRow
	for m, a := range by {
		r := MTBenchSingleRow{Model: m, Score: mean(a.all), Turns: map[int]float64{}, N: len(a.all), Invalid: a.invalid}
		for t, v := range a.turns {
			r.Turns[t] = mean(v)
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Score != rows[j].Score {
			return rows[i].Score > rows[j].Score
		}
		return rows[i].Model < rows[j].Model
	})
	return rows
}

// PairGames is one pairwise MT-Bench judgment: two games with the answers in swapped order.
// G1Winner and G2Winner are "model_1", "model_2", "tie" or "error", already mapped back to
// model_1/model_2 (not judge positions).
type PairGames struct {
	Model1   string `json:"model_1"`
	Model2   string `json:"model_2"`
	G1Winner string `json:"g1_winner"`
	G2Winner string `json:"g2_winner"`
}

// MTBenchPairRow is display_result_pairwise's output for one model.
type MTBenchPairRow struct {
	Model           string  `json:"model"`
	Win             int     `json:"win"`
	Loss            int     `json:"loss"`
	Tie             int     `json:"tie"`
	WinRate         float64 `json:"win_rate"`
	LossRate        float64 `json:"loss_rate"`
	WinRateAdjusted float64 `json:"win_rate_adjusted"`
}

// MTBenchPairwise scores pairwise games: games with an "error" are dropped; a pair counts as a
// tie for both models when game 1 is a tie or the two games disagree; otherwise the winner
// gets a win and the loser a loss. win_rate = win/(win+loss+tie), win_rate_adjusted =
// (win + 0.5·tie)/(win+loss+tie). With a baseline, only games involving it count and the
// baseline's own row is left out. Rows are sorted by win_rate_adjusted, highest first.
func MTBenchPairwise(games []PairGames, baseline string) []MTBenchPairRow {
	by := map[string]*MTBenchPairRow{}
	get := func(m string) *MTBenchPairRow {
		if by[m] == nil {
			by[m] = &MTBenchPairRow{Model: m}
		}
		return by[m]
	}
	for _, g := range games {
		if g.G1Winner == "error" || g.G2Winner == "error" {
			continue
		}
		if baseline != "" && g.Model1 != baseline && g.Model2 != baseline {
			continue
		}
		if g.G1Winner == "tie" || g.G1Winner != g.G2Winner {
			get(g.Model1).Tie++
			get(g.Model2).Tie++
			continue
		}
		w, l := g.Model1, g.Model2
		if g.G1Winner == "model_2" {
			w, l = l, w
		}
		get(w).Win++
		get(l).Loss++
	}
	var rows []MTBenchPairRow
	for m, r := range by {
		if baseline != "" && m == baseline {
			continue
		}
		n := float64(r.Win + r.Loss + r.Tie)
		r.WinRate = float64(r.Win) / n
		r.LossRate = float64(r.Loss) / n
		r.WinRateAdjusted = (float64(r.Win) + 0.5*float64(r.Tie)) / n
		rows = append(rows, *r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].WinRateAdjusted != rows[j].WinRateAdjusted {
			return rows[i].WinRateAdjusted > rows[j].WinRateAdjusted
		}
		return rows[i].Model < rows[j].Model
	})
	return rows
}

// PairGamesFromJudgments pairs each unswapped judgment with the swapped judgment of the same
// instruction, models and judge, giving MT-Bench's two games. A preference < 1.5 is a
// model_1 (output_1) win, > 1.5 a model_2 win, 1.5 a tie, NaN an error. Judgments without a
// partner are returned as unpaired.
func PairGamesFromJudgments(js []Judgment) (games []PairGames, unpaired int) {
	type key struct{ g1, g2, judge, instr string }
	first := map[key]*Judgment{}
	second := map[key]*Judgment{}
	var order []key
	for i := range js {
		j := &js[i]
		k := key{j.Generator1, j.Generator2, j.Judge, j.Instruction}
		if _, ok := first[k]; !ok {
			if _, ok2 := second[k]; !ok2 {
				order = append(order, k)
			}
		}
		if j.Swapped {
			second[k] = j
		} else {
			first[k] = j
		}
	}
	winner := func(p float64) string {
		p = cleanPreference(p)
		switch {
		case math.IsNaN(p):
			return "error"
		case p < 1.5:
			return "model_1"
		case p > 1.5:
			return "model_2"
		}
		return "tie"
	}
	for _, k := range order {
		a, b := first[k], second[k]
		if a == nil || b == nil {
			unpaired++
			continue
		}
		games = append(games, PairGames{Model1: k.g1, Model2: k.g2, G1Winner: winner(a.Preference), G2Winner: winner(b.Preference)})
	}
	return games, unpaired
}
