package eval

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LeaderboardOptions configure RunLeaderboard.
type LeaderboardOptions struct {
	// Judgments is align's judgments (a file or a directory of them) or an Arena-Hard v2 data
	// directory (model_answer/ and model_judgment/), read as is.
	Judgments string
	BT        BTOptions
	// StyleControl fits Arena-Hard v2's style-controlled Bradley–Terry model instead of v0.1's
	// plain one. An Arena-Hard v2 directory always gets v2's plain leaderboard (show_result.py
	// without --control-features), and the style-controlled one as well with StyleControl.
	StyleControl bool
	Style        StyleOptions
	// Categories keep only these categories (Arena-Hard's --category; align judgments' dataset).
	Categories []string
	// JudgeNames choose the judges under an Arena-Hard v2 directory's model_judgment/.
	JudgeNames []string
	// Out, when set, receives report.json and report.html; CSV, when set, the leaderboard in
	// Arena-Hard's published CSV format (one file per category with style control
	// or an Arena-Hard v2 directory: <name>_<category>.csv when there are several; the style-
	// controlled leaderboard's when both were fitted).
	Out string
	CSV string
}

// LeaderboardResult is what RunLeaderboard computed.
type LeaderboardResult struct {
	Leaderboard *BTLeaderboard      `json:"leaderboard,omitempty"`
	Style       []*StyleLeaderboard `json:"style_control,omitempty"`
	// V2 is Arena-Hard v2's plain leaderboard per category (an Arena-Hard v2 directory only).
	V2 []*V2Leaderboard `json:"arena_hard_v2,omitempty"`
	// Dropped counts judgments without a usable verdict.
	Dropped  int      `json:"dropped"`
	CSVFiles []string `json:"csv_files,omitempty"`
	Report   *Report  `json:"-"`
}

// RunLeaderboard reads the judgments, fits the leaderboard (Arena-Hard v0.1's, or v2's style-
// controlled one) and writes the report and CSV files asked for.
func RunLeaderboard(opt LeaderboardOptions) (*LeaderboardResult, error) {
	res := &LeaderboardResult{}
	keepCat := func(c string) bool {
		if len(opt.Categories) == 0 {
			return true
		}
		for _, k := range opt.Categories {
			if k == c {
				return true
			}
		}
		return false
	}
	rep := &Report{Kind: "leaderboard", Source: map[string]string{"judgments": opt.Judgments}}
	if IsArenaHardV2Dir(opt.Judgments) || opt.StyleControl {
		var battles []StyleBattle
		v2 := IsArenaHardV2Dir(opt.Judgments)
		if v2 {
			bs, dropped, err := ReadArenaHardV2(opt.Judgments, opt.JudgeNames, opt.BT.Weight)
			if err != nil {
				return nil, err
			}
			battles, res.Dropped = bs, dropped
		} else {
			js, err := ReadJudgmentsDir(opt.Judgments)
			if err != nil {
				return nil, err
			}
			battles, res.Dropped = StyleBattlesFromJudgments(js, opt.BT.Weight)
			rep.Examples = PickExamples(js, 6)
		}
		var kept []StyleBattle
		for _, b := range battles {
			if keepCat(b.Category) {
				kept = append(kept, b)
			}
		}
		if len(kept) == 0 {
			return nil, fmt.Errorf("eval: leaderboard: no battles in categories %s (of %d)", strings.Join(opt.Categories, ", "), len(battles))
		}
		if opt.Style.Baseline == "" {
			opt.Style.Baseline = opt.BT.Baseline
		}
		if opt.Style.Rounds == 0 {
			opt.Style.Rounds = opt.BT.Rounds
		}
		if opt.Style.Seed == 0 {
			opt.Style.Seed = opt.BT.Seed
		}
		var csvRows [][]LeaderboardCSVRow
		var csvCats []string
		if v2 {
			lbs, err := ArenaHardV2Plain(kept, opt.Style)
			if err != nil {
				return nil, err
			}
			res.V2, rep.ArenaHardV2 = lbs, lbs
			if !opt.StyleControl {
				for _, lb := range lbs {
					csvRows, csvCats = append(csvRows, lb.CSVRows("")), append(csvCats, lb.Category)
				}
			}
		}
		if opt.StyleControl {
			lbs, err := StyleControl(kept, opt.Style)
			if err != nil {
				return nil, err
			}
			res.Style = lbs
			rep.StyleControl = lbs
			for _, lb := range lbs {
				csvRows, csvCats = append(csvRows, lb.CSVRows("")), append(csvCats, lb.Category)
			}
		}
		if opt.CSV != "" {
			for i, rows := range csvRows {
				path := opt.CSV
				if len(csvRows) > 1 {
					ext := filepath.Ext(path)
					path = strings.TrimSuffix(path, ext) + "_" + fileName(csvCats[i]) + ext
				}
				if err := writeLeaderboardCSVFile(path, rows); err != nil {
					return nil, err
				}
				res.CSVFiles = append(res.CSVFiles, path)
			}
		}
	} else {
		js, err := ReadJudgmentsDir(opt.Judgments)
		if err != nil {
			return nil, err
		}
		if len(opt.Categories) > 0 {
			var kept []Judgment
			for _, j := range js {
				if keepCat(j.Dataset) {
					kept = append(kept, j)
				}
			}
			js = kept
		}
		lb, err := Leaderboard(js, opt.BT)
		if err != nil {
			return nil, err
		}
		res.Leaderboard, res.Dropped = lb, lb.Dropped
		rep.Leaderboard = lb
		rep.Examples = PickExamples(js, 6)
		if opt.CSV != "" {
			if err := writeLeaderboardCSVFile(opt.CSV, lb.CSVRows("")); err != nil {
				return nil, err
			}
			res.CSVFiles = append(res.CSVFiles, opt.CSV)
		}
	}
	res.Report = rep
	if opt.Out != "" {
		if err := rep.Write(opt.Out); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func writeLeaderboardCSVFile(path string, rows []LeaderboardCSVRow) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("eval: leaderboard csv: %w", err)
	}
	var sb strings.Builder
	if err := WriteLeaderboardCSV(&sb, rows); err != nil {
		return fmt.Errorf("eval: leaderboard csv: %w", err)
	}
	return writeAtomic(path, []byte(sb.String()))
}
