package train

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// RuleJudge is the quickstart's documented preference: a response scores one point per
// occurrence of a target word (case-insensitive, whole words); of two responses with equal
// scores, the one whose length in words is closer to TargetLength wins; otherwise it is a tie.
type RuleJudge struct {
	Words        []string
	TargetLength int
}

// Score counts the target words in text.
func (j RuleJudge) Score(text string) int {
	set := map[string]bool{}
	for _, w := range j.Words {
		set[strings.ToLower(w)] = true
	}
	n := 0
	for _, w := range words(text) {
		if set[w] {
			n++
		}
	}
	return n
}

// RankScore is a scalar that orders responses exactly as Compare does: the word count plus
// 1/(1 + |length in words - TargetLength|), a tie-break in (0, 1] that never outweighs one
// target word. Equal RankScores are Compare's ties. Curry-DPO ranks a prompt's samples by it.
func (j RuleJudge) RankScore(text string) float64 {
	return float64(j.Score(text)) + 1/(1+float64(abs(len(words(text))-j.TargetLength)))
}

func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
}

// Compare returns +1 when a is preferred, -1 when b is, 0 for a tie.
func (j RuleJudge) Compare(a, b string) int {
	sa, sb := j.Score(a), j.Score(b)
	if sa != sb {
		if sa > sb {
			return 1
		}
		return -1
	}
	da, db := abs(len(words(a))-j.TargetLength), abs(len(words(b))-j.TargetLength)
	switch {
	case da < db:
		return 1
	case da > db:
		return -1
	}
	return 0
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// pairIndex is a (chosen, rejected) pair of sample indices.
type pairIndex struct{ w, l int }

// bestVsWorst picks the best and the worst of a prompt's samples under cmp (ties keep the
// earlier sample as best and the later as worst); no pair when they tie.
func bestVsWorst(n int, cmp func(i, j int) int) []pairIndex {
	if n < 2 {
		return nil
	}
	best, worst := 0, n-1
	for i := 1; i < n; i++ {
		if cmp(i, best) > 0 {
			best = i
		}
	}
	for i := n - 2; i >= 0; i-- {
		if cmp(i, worst) < 0 {
			worst = i
		}
	}
	if best == worst || cmp(best, worst) <= 0 {
		return nil
	}
	return []pairIndex{{best, worst}}
}

// tournament is INPO's pairwise rule: a knockout over the samples (ties go to the first), then
// the winner against the first round's loser of its first match; the pair is kept only if the
// winner wins.
func tournament(n int, cmp func(i, j int) int) []pairIndex {
	if n < 2 {
		return nil
	}
	round := make([]int, n)
	for i := range round {
		round[i] = i
	}
	firstLoser := map[int]int{}
	first := true
	for len(round) > 1 {
		var next []int
		for i := 0; i+1 < len(round); i += 2 {
			a, b := round[i], round[i+1]
			w, l := a, b
			if cmp(a, b) < 0 {
				w, l = b, a
			}
			if first {
				firstLoser[w] = l
			}
			next = append(next, w)
		}
		if len(round)%2 == 1 {
			next = append(next, round[len(round)-1])
		}
		round, first = next, false
	}
	w := round[0]
	l, ok := firstLoser[w]
	if !ok {
		return nil
	}
	if cmp(w, l) > 0 {
		return []pairIndex{{w, l}}
	}
	return nil
}

// RubricRules are DNO's pair rules over graded candidates (OBJECTIVES.md §6).
type RubricRules struct {
	// MinScore is the lowest score a positive may have (DNO: 5 of 6).
	MinScore float64
	// MinGap is the least gap below a teacher positive (DNO: 2); StudentGap the least gap below
	// a student positive (DNO: 1; 0 means MinGap).
	MinGap, StudentGap float64
	// Restrictive drops student-over-teacher pairs (the DNO-Restrictive ablation).
	Restrictive bool
}

// rubricPairs is DNO's rule over scored candidates: every pair whose positive scores at least
// MinScore and beats the negative by at least MinGap when the positive is the teacher's
// response (index teacher; -1 when there is none), by StudentGap when it is a student sample.
// Student-over-teacher pairs are kept unless Restrictive. A NaN score (an unparsable grade)
// qualifies for neither side; −Inf (an automatic negative) only for the rejected one. Pairs
// come sorted by (positive, negative) index.
func rubricPairs(scores []float64, teacher int, r RubricRules) []pairIndex {
	studentGap := r.StudentGap
	if studentGap <= 0 {
		studentGap = r.MinGap
	}
	var out []pairIndex
	for i := range scores {
		if !(scores[i] >= r.MinScore) { // NaN too
			continue
		}
		gap := studentGap
		if i == teacher {
			gap = r.MinGap
		}
		for j := range scores {
			if i == j || math.IsNaN(scores[j]) || scores[i]-scores[j] < gap {
				continue
			}
			if r.Restrictive && j == teacher {
				continue
			}
			out = append(out, pairIndex{i, j})
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].w != out[b].w {
			return out[a].w < out[b].w
		}
		return out[a].l < out[b].l
	})
	return out
}
