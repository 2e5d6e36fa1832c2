package eval

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// LeaderboardCSVRow is one row of Arena-Hard v0.1's published leaderboard CSV
// (leaderboard/arena_hard_leaderboard_<date>.csv, show_result.py --output): model, score (win
// rate against the baseline, %), rating_q025, rating_q975 (the interval ends, %), CI (their
// distances from the score, "(-a, +b)" to 2 decimals), avg_tokens and date.
type LeaderboardCSVRow struct {
	Model      string
	Score      float64
	RatingQ025 float64
	RatingQ975 float64
	AvgTokens  float64
	Date       string
}

var leaderboardCSVHeader = []string{"model", "score", "rating_q025", "rating_q975", "CI", "avg_tokens", "date"}

// pyFloat writes a float as pandas' to_csv does (Python's repr: the shortest round-trip
// digits, with ".0" on whole numbers).
func pyFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") && !strings.Contains(s, "N") && !strings.Contains(s, "I") {
		s += ".0"
	}
	return s
}

// csvCI is show_result.py's CI column: f"(-{score-lower:.2f}, +{upper-score:.2f})".
func csvCI(score, lower, upper float64) string {
	return fmt.Sprintf("(-%.2f, +%.2f)", score-lower, upper-score)
}

// WriteLeaderboardCSV writes rows in the published CSV format; the CI column is computed
// from the score and interval ends.
func WriteLeaderboardCSV(w io.Writer, rows []LeaderboardCSVRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(leaderboardCSVHeader); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.Model, pyFloat(r.Score), pyFloat(r.RatingQ025), pyFloat(r.RatingQ975),
			csvCI(r.Score, r.RatingQ025, r.RatingQ975), pyFloat(r.AvgTokens), r.Date}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadLeaderboardCSV reads a leaderboard CSV in the published format; a row whose CI does
// not match its score and interval ends is an error naming the row.
func ReadLeaderboardCSV(r io.Reader, name string) ([]LeaderboardCSVRow, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("eval: leaderboard csv %s: %w", name, err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != strings.Join(leaderboardCSVHeader, ",") {
		return nil, fmt.Errorf("eval: leaderboard csv %s: header must be %s", name, strings.Join(leaderboardCSVHeader, ","))
	}
	var rows []LeaderboardCSVRow
	for i, rec := range recs[1:] {
		row := LeaderboardCSVRow{Model: rec[0], Date: rec[6]}
		for c, dst := range map[int]*float64{1: &row.Score, 2: &row.RatingQ025, 3: &row.RatingQ975, 5: &row.AvgTokens} {
			v, err := strconv.ParseFloat(rec[c], 64)
			if err != nil {
				return nil, fmt.Errorf("eval: leaderboard csv %s row %d column %s: %q is not a number", name, i+2, leaderboardCSVHeader[c], rec[c])
			}
			*dst = v
		}
		if ci := csvCI(row.Score, row.RatingQ025, row.RatingQ975); ci != rec[4] {
			return nil, fmt.Errorf("eval: leaderboard csv %s row %d column CI: %q, but score and interval give %q", name, i+2, rec[4], ci)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func today() string { return time.Now().UTC().Format("2006-01-02") }

// csvRows maps a leaderboard's rows to published-format rows dated date (today when empty).
func csvRows[R any](date string, rows []R, row func(R) LeaderboardCSVRow) []LeaderboardCSVRow {
	if date == "" {
		date = today()
	}
	var out []LeaderboardCSVRow
	for _, r := range rows {
		c := row(r)
		c.Date = date
		out = append(out, c)
	}
	return out
}

// CSVRows gives the Bradley–Terry leaderboard as published-format rows (score and interval
// as win rates, avg_tokens from the answers' token counts).
func (lb *BTLeaderboard) CSVRows(date string) []LeaderboardCSVRow {
	return csvRows(date, lb.Rows, func(r BTRow) LeaderboardCSVRow {
		return LeaderboardCSVRow{Model: r.Model, Score: r.WinRate, RatingQ025: r.Lower, RatingQ975: r.Upper, AvgTokens: float64(r.AvgTokens)}
	})
}

// CSVRows gives the style-controlled leaderboard as published-format rows (the bootstrap
// median and its 5%/95% quantiles, v2's interval).
func (lb *StyleLeaderboard) CSVRows(date string) []LeaderboardCSVRow {
	return csvRows(date, lb.Rows, func(r StyleRow) LeaderboardCSVRow {
		return LeaderboardCSVRow{Model: r.Model, Score: r.Score, RatingQ025: r.Lower, RatingQ975: r.Upper, AvgTokens: float64(int(r.AvgTokens))}
	})
}

// CSVRows gives Arena-Hard v2's plain leaderboard as published-format rows (the bootstrap
// mean and its 5%/95% quantiles).
func (lb *V2Leaderboard) CSVRows(date string) []LeaderboardCSVRow {
	return csvRows(date, lb.Rows, func(r V2Row) LeaderboardCSVRow {
		return LeaderboardCSVRow{Model: r.Model, Score: r.Score, RatingQ025: r.Lower, RatingQ975: r.Upper, AvgTokens: float64(int(r.AvgTokens))}
	})
}
