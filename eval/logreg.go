package eval

import (
	"fmt"
	"math"
)

// This file reproduces the fit behind AlpacaEval's length-controlled win rate
// (glm_winrate.fit_LogisticRegressionCV with is_ytrue_proba=True):
//
//	LogisticRegressionCV(Cs=10, cv=GroupKFold(5), penalty="l1", solver="liblinear",
//	                     fit_intercept=False, random_state=123, scoring=logloss_continuous)
//
// on a table where every row with soft label p and weight w is duplicated into (y=1, weight
// p·w) and (y=0, weight (1−p)·w), both copies in the same CV group. liblinear's L1 logistic
// regression minimises
//
//	‖θ‖₁ + C · Σᵢ sᵢ · log(1 + exp(−ỹᵢ θ·xᵢ)),   ỹᵢ ∈ {−1, +1}
//
// (sample weights scale each row's C). align solves the same objective with its own
// coordinate-descent Newton method, to a much tighter tolerance than liblinear's default
// tol=1e-4, so coefficients can differ from sklearn's in the 4th–5th significant digit.

// logRegCs is LogisticRegressionCV's default grid: Cs=10 → np.logspace(-4, 4, 10).
func logRegCs() []float64 {
	cs := make([]float64, 10)
	for i := range cs {
		cs[i] = math.Pow(10, -4+8*float64(i)/9)
	}
	return cs
}

// l1LogReg fits min ‖θ‖₁ + C Σ s_i log(1+exp(−ỹ_i θ·x_i)) by cyclic coordinate descent with
// one-dimensional Newton steps and an Armijo line search (the CDN method of Yuan et al. 2010,
// which liblinear's older L1R_LR solver also used). theta is the warm start and is updated.
func l1LogReg(x [][]float64, y []bool, s []float64, c float64, theta []float64) []float64 {
	n, d := len(x), len(theta)
	z := make([]float64, n) // θ·x_i
	for i := range x {
		z[i] = dot(theta, x[i])
	}
	obj := func(z []float64, theta []float64) float64 {
		f := 0.0
		for _, t := range theta {
			f += math.Abs(t)
		}
		for i := range z {
			if s[i] == 0 {
				continue
			}
			m := z[i]
			if !y[i] {
				m = -m
			}
			f += c * s[i] * softplus(-m)
		}
		return f
	}
	fcur := obj(z, theta)
	znew := make([]float64, n)
	for iter := 0; iter < 1000; iter++ {
		maxStep := 0.0
		for j := 0; j < d; j++ {
			g, h := 0.0, 1e-12
			for i := range x {
				if s[i] == 0 || x[i][j] == 0 {
					continue
				}
				p := sigmoid(z[i])
				yi := 0.0
				if y[i] {
					yi = 1
				}
				g += c * s[i] * (p - yi) * x[i][j]
				h += c * s[i] * p * (1 - p) * x[i][j] * x[i][j]
			}
			w := theta[j]
			var dir float64
			switch {
			case g+1 <= h*w:
				dir = -(g + 1) / h
			case g-1 >= h*w:
				dir = -(g - 1) / h
			default:
				dir = -w
			}
			if dir == 0 {
				continue
			}
			// Armijo: f(θ+λd) − f(θ) ≤ σλ(g·d + |w+d| − |w|)
			delta := g*dir + math.Abs(w+dir) - math.Abs(w)
			lambda := 1.0
			for ls := 0; ls < 60; ls++ {
				step := lambda * dir
				for i := range x {
					znew[i] = z[i] + step*x[i][j]
				}
				theta[j] = w + step
				fnew := obj(znew, theta)
				if fnew-fcur <= 0.01*lambda*delta || ls == 59 {
					if fnew <= fcur {
						copy(z, znew)
						fcur = fnew
						if a := math.Abs(step); a > maxStep {
							maxStep = a
						}
					} else {
						theta[j] = w
					}
					break
				}
				lambda /= 2
			}
		}
		if maxStep < 1e-12 {
			break
		}
	}
	return theta
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// sigmoid is glm_winrate._logistic: exp(−logaddexp(0, −x)), stable for either sign.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus is log(1+exp(x)), stable.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// groupKFold5 assigns each of n equal-sized groups to one of 5 folds as sklearn's GroupKFold
// does: groups in order of decreasing size (np.argsort(sizes)[::-1]), each to the currently
// lightest fold. With every group of size 2 this is round-robin over the reversed group order
// when argsort is stable; NumPy's default argsort is not stable on ties (and its order depends
// on the NumPy build and CPU), so sklearn's exact folds cannot be replicated: align uses the
// stable order. Only the choice of C among the 10 grid points can depend on it.
func groupKFold5(n int) []int {
	fold := make([]int, n)
	for k, g := 0, n-1; g >= 0; k, g = k+1, g-1 {
		fold[g] = k % 5
	}
	return fold
}

// SoftLogRegCV is the result of fitSoftLabelL1CV.
type SoftLogRegCV struct {
	Coef []float64 `json:"coef"`
	// C is the selected inverse regularisation strength, and Scores the mean held-out
	// soft log-likelihood (sklearn's score: higher is better) for every C of the grid.
	C      float64   `json:"C"`
	Cs     []float64 `json:"Cs"`
	Scores []float64 `json:"cv_scores"`
}

// fitSoftLabelL1CV fits AlpacaEval's LogisticRegressionCV on rows x with soft labels p ∈ [0,1]
// and optional weights w (nil = unweighted, which also leaves the CV score unweighted, as in
// the reference).
func fitSoftLabelL1CV(x [][]float64, p []float64, w []float64) (*SoftLogRegCV, error) {
	n := len(x)
	if n < 5 {
		return nil, fmt.Errorf("the GLM needs at least 5 valid judgments for 5-fold CV, have %d", n)
	}
	d := len(x[0])
	// the duplicated table: row i → (x_i, y=1, p_i·w_i) and (x_i, y=0, (1−p_i)·w_i)
	dx := make([][]float64, 2*n)
	dy := make([]bool, 2*n)
	ds := make([]float64, 2*n)
	for i := 0; i < n; i++ {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		dx[i], dy[i], ds[i] = x[i], true, p[i]*wi
		dx[n+i], dy[n+i], ds[n+i] = x[i], false, (1-p[i])*wi
	}
	fold := groupKFold5(n)
	cs := logRegCs()
	scores := make([]float64, len(cs))
	for f := 0; f < 5; f++ {
		var tx [][]float64
		var ty []bool
		var ts []float64
		for r := 0; r < 2*n; r++ {
			if fold[r%n] != f {
				tx, ty, ts = append(tx, dx[r]), append(ty, dy[r]), append(ts, ds[r])
			}
		}
		theta := make([]float64, d)
		for ci, c := range cs {
			// liblinear starts every C from zero; the objective is convex, so a warm start
			// reaches the same minimiser faster.
			theta = l1LogReg(tx, ty, ts, c, theta)
			// logloss_continuous over the fold's duplicated rows: both copies of a row carry
			// the same target p, so this is the mean soft log-likelihood of the fold's rows.
			sum, cnt := 0.0, 0
			for i := 0; i < n; i++ {
				if fold[i] != f {
					continue
				}
				q := math.Min(math.Max(sigmoid(dot(theta, x[i])), 1e-15), 1-1e-15)
				ll := p[i]*math.Log(q) + (1-p[i])*math.Log(1-q)
				if w != nil {
					ll *= w[i]
				}
				sum += 2 * ll
				cnt += 2
			}
			scores[ci] += sum / float64(cnt)
		}
	}
	best := 0
	for i := range scores {
		if scores[i] > scores[best] {
			best = i
		}
	}
	coef := l1LogReg(dx, dy, ds, cs[best], make([]float64, d))
	for i := range scores {
		scores[i] /= 5
	}
	return &SoftLogRegCV{Coef: coef, C: cs[best], Cs: cs, Scores: scores}, nil
}
