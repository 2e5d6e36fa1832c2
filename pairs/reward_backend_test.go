package pairs

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/alignkit/align/runtime"
)

// TestRewardBackend: curation's judge calls through a reward judge. A grade is the response's
// reward (here the rule's RankScore, computed again in the test), valid, with the reward as its
// raw text; a pairwise judgment is 1 + σ(r_2 − r_1), or 1.5 under the tie threshold.
func TestRewardBackend(t *testing.T) {
	rule := RuleJudge{Words: []string{"happy", "fun"}, TargetLength: 6}
	j, err := OpenRewardJudge(&ruleRewarder{rule: rule}, 0.5, "")
	if err != nil {
		t.Fatal(err)
	}
	b := rewardBackend{j: j}
	ctx := context.Background()
	for _, resp := range []string{"a happy fun day with friends", "no", "happy happy happy"} {
		g, err := b.JudgeSingle(ctx, runtime.SingleRequest{Instruction: "q", Response: resp})
		if err != nil {
			t.Fatal(err)
		}
		want := rule.RankScore(resp)
		if !g.Verdict.Valid || g.Verdict.Score != want || len(g.Raws) != 1 || g.Raws[0] != strconv.FormatFloat(want, 'g', -1, 64) {
			t.Errorf("%q: grade %+v, want the reward %g", resp, g, want)
		}
	}
	for _, c := range [][2]string{{"a happy fun day with friends", "no"}, {"no", "happy fun"}, {"happy x", "fun x"}, {"same", "same"}} {
		jg, err := b.JudgePair(ctx, runtime.JudgeRequest{Instruction: "q", Output1: c[0], Output2: c[1]})
		if err != nil {
			t.Fatal(err)
		}
		r1, r2 := rule.RankScore(c[0]), rule.RankScore(c[1])
		want := 1 + 1/(1+math.Exp(r1-r2))
		if math.Abs(r2-r1) < 0.5 {
			want = 1.5
		}
		if !jg.Valid || len(jg.Games) != 1 || math.Abs(jg.Preference-want) > 1e-12 || jg.Games[0].Preference != jg.Preference ||
			jg.Identical != (c[0] == c[1]) {
			t.Errorf("%q vs %q (rewards %g, %g): %+v, want preference %g", c[0], c[1], r1, r2, jg, want)
		}
		var raw struct {
			R1 *float64 `json:"reward_1"`
			R2 *float64 `json:"reward_2"`
		}
		if err := json.Unmarshal([]byte(jg.Games[0].Raws[0]), &raw); err != nil || raw.R1 == nil || raw.R2 == nil || *raw.R1 != r1 || *raw.R2 != r2 {
			t.Errorf("raw %q does not hold the rewards %g, %g (%v)", jg.Games[0].Raws[0], r1, r2, err)
		}
	}
}

// TestCurateConfigWithRewardJudge: a reward judge names the run's judge and template; the dno
// rubric is refused, saying why.
func TestCurateConfigWithRewardJudge(t *testing.T) {
	j, err := OpenRewardJudge(&ruleRewarder{}, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Models: []string{"m"}, K: 2, Out: "o.jsonl", Rubric: RubricUltraFeedback, Reward: j, Filters: DefaultFilterOptions()}
	if err := c.validate(); err != nil || c.Judge != "rm:rule" || c.Template != RewardTemplate {
		t.Errorf("validate: %v, judge %q, template %q", err, c.Judge, c.Template)
	}
	c = Config{Models: []string{"m"}, K: 2, Out: "o.jsonl", Rubric: RubricDNO, Reward: j, Filters: DefaultFilterOptions()}
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "6-point rubric") || !strings.Contains(err.Error(), "rm:rule") {
		t.Errorf("dno with a reward judge: %v", err)
	}
}
