package eval

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// LCFit describes AlpacaEval's length-controlled GLM for one model (metrics/glm_winrate.py).
type LCFit struct {
	// GLM is length_controlled_minimal (no difficulty table), length_controlled_noreg
	// (difficulty, no gamed baselines) or length_controlled_v1 (difficulty and df_gamed).
	GLM string `json:"glm"`
	// Weights are the coefficients under glm_winrate's column names:
	// "np.tanh(std_delta_len)", "instruction_difficulty", "not_gamed_baseline.astype(float)".
	Weights map[string]float64 `json:"weights"`
	WinRate float64            `json:"length_controlled_winrate"`
	// StandardError is 100·sem of the per-row predictions; for length_controlled_minimal every
	// prediction is the same σ(θ_not_gamed), so it is 0, exactly as in AlpacaEval.
	StandardError float64       `json:"lc_standard_error"`
	CV            *SoftLogRegCV `json:"cv,omitempty"`
	// Points are the per-row data behind the fit, for the report's scatter: the length
	// difference len(output_1) − len(output_2) in characters and the preference − 1.
	DeltaLen []float64 `json:"-"`
	Label    []float64 `json:"-"`
	// LenStd is std(delta_len), the scale of the length feature.
	LenStd float64 `json:"len_std"`
}

// Column names of glm_winrate.py's patsy formula.
const (
	colTanhLen    = "np.tanh(std_delta_len)"
	colDifficulty = "instruction_difficulty"
	colNotGamed   = "not_gamed_baseline.astype(float)"
)

// GamedRow is one row of AlpacaEval's df_gamed.csv (the annotations of the two length-gamed
// baselines, already featurised): Preference is in [0, 1] (preference − 1).
type GamedRow struct {
	Preference  float64
	StdDeltaLen float64
	Difficulty  float64
}

// LengthControlled fits the LC GLM to one (baseline, model) group of judgments and predicts
// the win rate with the length term switched off (glm_winrate.get_length_controlled_winrate):
//
//	features  tanh(std_delta_len) [+ instruction_difficulty] + not_gamed_baseline (=1), no intercept
//	std_delta_len = (len(output_1) − len(output_2)) / std(…), characters, std with ddof 1 over all rows
//	label     y = preference − 1 (0 → 1.5 first), rows with an invalid preference left out of the fit
//	fit       LogisticRegressionCV, L1, liblinear objective, GroupKFold(5), soft labels by duplication
//	predict   p̂_i = σ(θ_diff·difficulty_i + θ_not_gamed) for every row (invalid ones included)
//	LC        100·mean(p̂), lc_standard_error = 100·sem(p̂)
//
// With difficulty nil the GLM is length_controlled_minimal; with difficulty and gamed rows it
// is length_controlled_v1 (gamed rows weighted λ/2 = 0.1, λ = 0.2). A model judged against
// itself gets 50 and weights 0 by construction.
func LengthControlled(g []Judgment, difficulty map[string]float64, gamed []GamedRow) (*LCFit, error) {
	glm := "length_controlled_minimal"
	if difficulty != nil {
		glm = "length_controlled_noreg"
		if len(gamed) > 0 {
			glm = "length_controlled_v1"
		}
	}
	fit := &LCFit{GLM: glm, Weights: map[string]float64{colTanhLen: 0, colNotGamed: 0}}
	if difficulty != nil {
		fit.Weights[colDifficulty] = 0
	}
	if len(g) == 0 {
		return nil, fmt.Errorf("no judgments")
	}
	n := len(g)
	delta := make([]float64, n)
	diff := make([]float64, n)
	for i, j := range g {
		delta[i] = float64(runeLen(j.Output1) - runeLen(j.Output2))
		if difficulty != nil {
			v, ok := difficulty[j.Instruction]
			if !ok {
				return nil, fmt.Errorf("instruction %q has no instruction_difficulty", truncate(j.Instruction, 60))
			}
			diff[i] = v
		}
	}
	fit.DeltaLen = delta
	fit.Label = make([]float64, n)
	for i, j := range g {
		fit.Label[i] = cleanPreference(j.Preference) - 1
	}
	if g[0].Generator1 == g[0].Generator2 {
		fit.WinRate, fit.StandardError = 50, 0
		return fit, nil
	}
	sd := stdDDOF1(delta)
	fit.LenStd = sd
	var x [][]float64
	var p, w []float64
	row := func(stdDelta, d float64) []float64 {
		if difficulty != nil {
			return []float64{math.Tanh(stdDelta), d, 1}
		}
		return []float64{math.Tanh(stdDelta), 1}
	}
	if glm == "length_controlled_v1" {
		for _, r := range gamed {
			if math.IsNaN(r.Preference) {
				continue
			}
			xr := row(r.StdDeltaLen, r.Difficulty)
			xr[len(xr)-1] = 0 // not_gamed_baseline = False
			x, p, w = append(x, xr), append(p, r.Preference), append(w, 0.2/2)
		}
	}
	for i := range g {
		y := fit.Label[i]
		if math.IsNaN(y) {
			continue
		}
		s := 0.0
		if sd > 0 { // all length differences equal: std 0; align sets the feature to 0
			s = delta[i] / sd
		}
		x, p = append(x, row(s, diff[i])), append(p, y)
		if glm == "length_controlled_v1" {
			w = append(w, 1)
		}
	}
	cv, err := fitSoftLabelL1CV(x, p, w)
	if err != nil {
		return nil, err
	}
	fit.CV = cv
	fit.Weights[colTanhLen] = cv.Coef[0]
	if difficulty != nil {
		fit.Weights[colDifficulty] = cv.Coef[1]
	}
	fit.Weights[colNotGamed] = cv.Coef[len(cv.Coef)-1]
	preds := make([]float64, n)
	for i := range g {
		preds[i] = sigmoid(fit.Weights[colDifficulty]*diff[i] + fit.Weights[colNotGamed])
	}
	fit.WinRate = 100 * mean(preds)
	fit.StandardError = 100 * sem(preds)
	return fit, nil
}

// cleanPreference maps AlpacaEval's legacy 0 to 1.5 and anything outside [1, 2] to NaN.
func cleanPreference(p float64) float64 {
	if p == 0 {
		p = 1.5
	}
	if !(p >= 1 && p <= 2) {
		return math.NaN()
	}
	return p
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// LCWeights is a table of per-model GLM coefficients, as AlpacaEval saves them
// (metrics/weights/<annotator>/length_controlled_v1/baseline_<name>.csv).
type LCWeights map[string]map[string]float64

// ReadLCWeights reads such a CSV: a header of column names after an empty first cell, then one
// row per model.
func ReadLCWeights(path string) (LCWeights, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: lc weights: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("eval: lc weights %s: %w", path, err)
	}
	if len(rows) < 1 {
		return nil, fmt.Errorf("eval: lc weights %s: empty", path)
	}
	head := rows[0]
	out := LCWeights{}
	for li, r := range rows[1:] {
		m := map[string]float64{}
		for c := 1; c < len(head) && c < len(r); c++ {
			v, err := strconv.ParseFloat(r[c], 64)
			if err != nil {
				return nil, fmt.Errorf("eval: lc weights %s line %d column %q: %w", path, li+2, head[c], err)
			}
			m[head[c]] = v
		}
		out[r[0]] = m
	}
	return out, nil
}

// PredictWinRate is glm_winrate.predict_winrate: the LC win rate (in [0, 1]) of model
// against baseline from saved weights and the instruction difficulties,
// mean_i σ((θ_ng[m]−θ_ng[b]) + (θ_diff[m]−θ_diff[b])·difficulty_i).
func (w LCWeights) PredictWinRate(model, baseline string, difficulty []float64) (float64, error) {
	m, ok := w[model]
	if !ok {
		return 0, fmt.Errorf("eval: no LC weights for %q", model)
	}
	b, ok := w[baseline]
	if !ok {
		return 0, fmt.Errorf("eval: no LC weights for %q", baseline)
	}
	dng := m[colNotGamed] - b[colNotGamed]
	dd := m[colDifficulty] - b[colDifficulty]
	ps := make([]float64, len(difficulty))
	for i, d := range difficulty {
		ps[i] = sigmoid(dng + dd*d)
	}
	return mean(ps), nil
}

// PredictLC returns what get_length_controlled_winrate reports for model against baseline from
// saved weights: 100·mean and 100·sem of the per-instruction predictions.
func (w LCWeights) PredictLC(model, baseline string, difficulty []float64) (lc, se float64, err error) {
	m, ok := w[model]
	if !ok {
		return 0, 0, fmt.Errorf("eval: no LC weights for %q", model)
	}
	b, ok := w[baseline]
	if !ok {
		return 0, 0, fmt.Errorf("eval: no LC weights for %q", baseline)
	}
	ps := make([]float64, len(difficulty))
	for i, d := range difficulty {
		ps[i] = sigmoid(m[colNotGamed] - b[colNotGamed] + (m[colDifficulty]-b[colDifficulty])*d)
	}
	return 100 * mean(ps), 100 * sem(ps), nil
}

// ReadDifficulty reads an instruction-difficulty table. Two layouts are accepted:
// a CSV with columns "instruction" and "instruction_difficulty" (keyed by text), or
// AlpacaEval's instruction_difficulty.csv (first column the instruction's index in the
// AlpacaEval set, second the difficulty), which needs the instructions in that order
// (instructions; e.g. from the model_outputs.json the judgments were made on).
func ReadDifficulty(r io.Reader, instructions []string) (map[string]float64, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("eval: difficulty: %w", err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("eval: difficulty: no rows")
	}
	head := rows[0]
	ci, cd := -1, -1
	for i, h := range head {
		switch strings.TrimSpace(h) {
		case "instruction":
			ci = i
		case "instruction_difficulty":
			cd = i
		}
	}
	if cd < 0 {
		cd = len(head) - 1
	}
	out := map[string]float64{}
	for li, r := range rows[1:] {
		v, err := strconv.ParseFloat(r[cd], 64)
		if err != nil {
			return nil, fmt.Errorf("eval: difficulty line %d: %w", li+2, err)
		}
		if ci >= 0 {
			out[r[ci]] = v
			continue
		}
		idx, err := strconv.Atoi(r[0])
		if err != nil {
			return nil, fmt.Errorf("eval: difficulty line %d: first column is neither an index nor is there an instruction column: %w", li+2, err)
		}
		if instructions == nil {
			return nil, fmt.Errorf("eval: difficulty table is keyed by index; the instructions it indexes are needed (--prompts)")
		}
		if idx < 0 || idx >= len(instructions) {
			return nil, fmt.Errorf("eval: difficulty line %d: index %d out of range (%d instructions)", li+2, idx, len(instructions))
		}
		out[instructions[idx]] = v
	}
	return out, nil
}

// ReadGamed reads df_gamed.csv by column name: preference (in [0,1]), std_delta_len,
// instruction_difficulty; the other columns are ignored.
func ReadGamed(r io.Reader) ([]GamedRow, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("eval: df_gamed: %w", err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("eval: df_gamed: no rows")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"preference", "std_delta_len", "instruction_difficulty"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("eval: df_gamed: missing column %q", need)
		}
	}
	var out []GamedRow
	for li, r := range rows[1:] {
		var g GamedRow
		var errs [3]error
		g.Preference, errs[0] = parseFloatNaN(r[col["preference"]])
		g.StdDeltaLen, errs[1] = strconv.ParseFloat(r[col["std_delta_len"]], 64)
		g.Difficulty, errs[2] = strconv.ParseFloat(r[col["instruction_difficulty"]], 64)
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("eval: df_gamed line %d: %w", li+2, e)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

func parseFloatNaN(s string) (float64, error) {
	if s == "" {
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}
