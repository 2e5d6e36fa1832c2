package pairs

import "testing"

// TestRuleJudgeExplain: the raw text states each side's counts, worked out by hand here, and
// the verdict Compare reaches.
func TestRuleJudgeExplain(t *testing.T) {
	j := RuleJudge{Words: []string{"happy", "Fun", "happy"}, TargetLength: 5}
	for _, tc := range []struct{ a, b, want string }{
		{"Happy happy dog had fun.", "The dog was happy.",
			"trained: 3 target words (happy×2, fun×1); 5 words, 0 from the target length 5\n" +
				"base: 1 target words (happy×1); 4 words, 1 from the target length 5\n" +
				"verdict: trained wins: more target words"},
		{"a b c", "a b c d e f g", // 3 words (2 off) against 7 (2 off): a tie
			"trained: 0 target words (none); 3 words, 2 from the target length 5\n" +
				"base: 0 target words (none); 7 words, 2 from the target length 5\n" +
				"verdict: tie: equal target words and equal distance to the target length"},
		{"fun a", "fun a b c d",
			"trained: 1 target words (fun×1); 2 words, 3 from the target length 5\n" +
				"base: 1 target words (fun×1); 5 words, 0 from the target length 5\n" +
				"verdict: base wins: equal target words, length closer to the target"},
		{"dog", "fun fun",
			"trained: 0 target words (none); 1 words, 4 from the target length 5\n" +
				"base: 2 target words (fun×2); 2 words, 3 from the target length 5\n" +
				"verdict: base wins: more target words"},
		{"HAPPY a b c", "happy",
			"trained: 1 target words (happy×1); 4 words, 1 from the target length 5\n" +
				"base: 1 target words (happy×1); 1 words, 4 from the target length 5\n" +
				"verdict: trained wins: equal target words, length closer to the target"},
	} {
		if got := j.Explain("trained", tc.a, "base", tc.b); got != tc.want {
			t.Errorf("Explain(%q, %q):\n%s\nwant\n%s", tc.a, tc.b, got, tc.want)
		}
	}
}
