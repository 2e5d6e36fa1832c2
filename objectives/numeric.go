package objectives

import "math"

// The stable primitives (docs/objectives.md, "Conventions"). They stay finite for |x| up to about 700 and are
// exact to within a few ulps; nothing in this package computes log(sigmoid(x)) directly.

// softplus returns log(1+exp(x)).
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// logsig returns log(sigmoid(x)) = -softplus(-x).
func logsig(x float64) float64 { return -softplus(-x) }

// sigmoid returns 1/(1+exp(-x)) without overflow for either sign of x.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// nlen is the zero-length guard: every division by a length uses max(len, 1), as TRL's
// clamp(min=1.0) does.
func nlen(l float64) float64 {
	if l < 1 {
		return 1
	}
	return l
}

// editDistance is the Levenshtein distance, used to suggest the closest valid name.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// closest returns the candidate nearest to s by edit distance (first one on ties).
func closest(s string, candidates []string) string {
	best, bestD := "", math.MaxInt
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// posInf is +Inf, the open upper end of unbounded parameter ranges.
func posInf() float64 { return math.Inf(1) }

// log1pUnit returns log1p(e) and 1/(1+e) for e in [0, 1], using one log and one division:
// log(u) with u = 1+e, corrected for the rounding of u by -((u-1)-e)/u (Goldberg's first-order
// correction; within a couple of ulps of math.Log1p, checked in numeric_test.go).
func log1pUnit(e float64) (l, r float64) {
	u := 1 + e
	r = 1 / u
	if u == 1 {
		return e, r
	}
	return math.Log(u) - ((u-1)-e)*r, r
}

// softplusSigmoidNeg returns softplus(-x) and sigmoid(-x), sharing e = exp(-|x|): one exp, one
// log and one division instead of two exps and a log. It is the hot pair of every sigmoid loss.
func softplusSigmoidNeg(x float64) (sp, sig float64) {
	e := math.Exp(-math.Abs(x))
	l, r := log1pUnit(e)
	if x >= 0 {
		return l, e * r
	}
	return l - x, r
}
