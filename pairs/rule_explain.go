package pairs

import (
	"fmt"
	"strings"
)

// Explain is the rule judge's raw text for one game, an honest account of Compare(a, b):
// each side's target-word count with the words found (in Words' order), its length in words
// and the distance to TargetLength, then the verdict and the rule that decided it. nameA and
// nameB label the sides (such as "trained" and "base").
func (j RuleJudge) Explain(nameA, a, nameB, b string) string {
	side := func(name, text string) string {
		toks := ruleWords(text)
		counts := map[string]int{}
		for _, w := range toks {
			counts[w]++
		}
		var found []string
		seen := map[string]bool{}
		n := 0
		for _, w := range j.Words {
			lw := strings.ToLower(w)
			if seen[lw] {
				continue
			}
			seen[lw] = true
			if c := counts[lw]; c > 0 {
				found = append(found, fmt.Sprintf("%s×%d", lw, c))
				n += c
			}
		}
		list := "none"
		if len(found) > 0 {
			list = strings.Join(found, ", ")
		}
		return fmt.Sprintf("%s: %d target words (%s); %d words, %d from the target length %d", name, n, list, len(toks), j.lengthGap(len(toks)), j.TargetLength)
	}
	var verdict string
	sa, sb := j.Score(a), j.Score(b)
	c := j.Compare(a, b)
	switch {
	case c > 0 && sa != sb:
		verdict = nameA + " wins: more target words"
	case c < 0 && sa != sb:
		verdict = nameB + " wins: more target words"
	case c > 0:
		verdict = nameA + " wins: equal target words, length closer to the target"
	case c < 0:
		verdict = nameB + " wins: equal target words, length closer to the target"
	default:
		verdict = "tie: equal target words and equal distance to the target length"
	}
	return side(nameA, a) + "\n" + side(nameB, b) + "\nverdict: " + verdict
}
