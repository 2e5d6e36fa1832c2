package eval

import (
	"math"
	"sort"
	"strconv"
	"testing"
)

// TestLCWeightsMatchPublishedLC is the closest check of the published LC win rates that the
// files we have allow. AlpacaEval's LC win rate of model m against gpt4_1106_preview is
// 100·mean_i σ(θ_ng[m] + θ_diff[m]·d_i) over the 805 instruction difficulties d_i, which are
// only on Hugging Face. The published weights (lc_v1_weights_…csv) and LC values (leaderboard
// csv) of ~200 models over-determine the distribution of the d_i, so: fit a 4-parameter
// quantile function of d (μ + s·z + a·(z²−1) + b·z³, z the normal quantiles) to half of the
// models, then predict the other half with LCWeights.PredictLC. Held-out LC values must match
// the published ones to a small fraction of a point and the lc_standard_error (never fitted)
// within a few percent, while a wrong formula (σ of the mean logit, fitted the same way) must
// not. This is a consistency check of the formula, not a reproduction of the numbers: that
// needs instruction_difficulty.csv.
func TestLCWeightsMatchPublishedLC(t *testing.T) {
	w, err := ReadLCWeights("testdata/alpaca_eval/lc_v1_weights_baseline_gpt4_1106_preview.csv")
	if err != nil {
		t.Fatal(err)
	}
	lb := readLeaderboard(t, "testdata/alpaca_eval/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv")
	type row struct {
		name   string
		lc, se float64
	}
	var rows []row
	for name := range w {
		l, ok := lb[name]
		if !ok || name == "gpt4_1106_preview" {
			continue
		}
		lc, err := strconv.ParseFloat(l["length_controlled_winrate"], 64)
		if err != nil {
			t.Fatal(err)
		}
		se, err := strconv.ParseFloat(l["lc_standard_error"], 64)
		if err != nil {
			se = math.NaN() // most rows leave it empty
		}
		rows = append(rows, row{name, lc, se})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	if len(rows) < 150 {
		t.Fatalf("only %d models with both weights and a leaderboard row", len(rows))
	}
	quantiles := func(n int, th []float64) []float64 {
		d := make([]float64, n)
		for k := range d {
			z := math.Sqrt2 * math.Erfinv(2*(float64(k)+0.5)/float64(n)-1)
			d[k] = th[0] + th[1]*z + th[2]*(z*z-1) + th[3]*z*z*z
		}
		return d
	}
	right := func(name string, d []float64) float64 {
		lc, _, _ := w.PredictLC(name, "gpt4_1106_preview", d)
		return lc
	}
	wrong := func(name string, d []float64) float64 {
		m := w[name]
		return 100 * sigmoid(m[colNotGamed]+m[colDifficulty]*mean(d))
	}
	fit := func(pred func(string, []float64) float64) []float64 {
		th := []float64{0, 1, 0, 0}
		loss := func() float64 {
			d := quantiles(81, th) // a coarser grid while fitting
			l := 0.0
			for i, r := range rows {
				if i%2 == 0 {
					e := pred(r.name, d) - r.lc
					l += e * e
				}
			}
			return l
		}
		best, step := loss(), 0.25
		for it := 0; it < 400 && step > 1e-4; it++ {
			improved := false
			for j := range th {
				for _, sg := range []float64{1, -1} {
					th[j] += sg * step
					if l := loss(); l < best {
						best, improved = l, true
					} else {
						th[j] -= sg * step
					}
				}
			}
			if !improved {
				step /= 2
			}
		}
		return th
	}
	heldOut := func(pred func(string, []float64) float64, th []float64) (med, worst float64) {
		d := quantiles(805, th)
		var errs []float64
		for i, r := range rows {
			if i%2 == 1 {
				errs = append(errs, math.Abs(pred(r.name, d)-r.lc))
			}
		}
		sort.Float64s(errs)
		return errs[len(errs)/2], errs[len(errs)-1]
	}
	th := fit(right)
	med, worst := heldOut(right, th)
	t.Logf("difficulty quantile fit %v; held-out |LC − published|: median %.3f, max %.3f points (%d models)", th, med, worst, len(rows)/2)
	if med > 0.05 || worst > 0.2 {
		t.Errorf("predict_winrate does not reproduce the published LC win rates: median %.3f, max %.3f", med, worst)
	}
	d := quantiles(805, th)
	nse := 0
	for i, r := range rows {
		if i%2 == 1 && !math.IsNaN(r.se) {
			_, se, _ := w.PredictLC(r.name, "gpt4_1106_preview", d)
			nse++
			if math.Abs(se-r.se) > 0.08*r.se {
				t.Errorf("%s: lc_standard_error %.4f, published %.4f", r.name, se, r.se)
			}
		}
	}
	if nse < 5 {
		t.Errorf("only %d held-out rows with a published lc_standard_error", nse)
	}
	cmed, _ := heldOut(wrong, fit(wrong))
	t.Logf("negative control (σ of the mean logit): held-out median error %.2f points", cmed)
	if cmed < 1 {
		t.Errorf("the check cannot tell a wrong formula apart (control median %.3f)", cmed)
	}
}
