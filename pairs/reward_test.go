package pairs

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// ruleRewarder is a reward function that needs no model: the quickstart's rule grade
// (RuleJudge.RankScore) of each response, so that the judge's verdicts can be checked against
// the rule. It counts the responses it is asked to score.
type ruleRewarder struct {
	rule  RuleJudge
	mu    sync.Mutex
	asked int
}

func (r *ruleRewarder) Name() string { return "rm:rule" }

func (r *ruleRewarder) Rewards(_ context.Context, _ string, rs []string) ([]float64, error) {
	r.mu.Lock()
	r.asked += len(rs)
	r.mu.Unlock()
	out := make([]float64, len(rs))
	for i, s := range rs {
		out[i] = r.rule.RankScore(s)
	}
	return out, nil
}

// P(b > a) = σ(r_b − r_a) as a preference in [1, 2]; ties below the threshold are 1.5.
func TestRewardPreferenceKnownValues(t *testing.T) {
	for _, c := range []struct {
		ra, rb, tie, want float64
		game              int
	}{
		{0, 1, 0.05, 1.7310585786300049, -1},    // 1 + 1/(1+e^-1)
		{1, 0, 0.05, 1.2689414213699951, 1},     // 1 + 1/(1+e)
		{2.5, 0.5, 0.05, 1.1192029220221176, 1}, // 1 + 1/(1+e^2)
		{0, 0.04, 0.05, 1.5, 0},
		{0, -0.0499, 0.05, 1.5, 0},
		{0, 0.05, 0.05, 1.5124973964842103, -1}, // at the threshold it is no tie
		{3, 3, 0, 1.5, 0},
		{0, 800, 0.05, 2, -1},
		{800, 0, 0.05, 1, 1},
	} {
		if got := RewardPreference(c.ra, c.rb, c.tie); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("RewardPreference(%g, %g, %g) = %.16g, want %.16g", c.ra, c.rb, c.tie, got, c.want)
		}
		if got := RewardGame(c.ra, c.rb, c.tie); got != c.game {
			t.Errorf("RewardGame(%g, %g, %g) = %d, want %d", c.ra, c.rb, c.tie, got, c.game)
		}
	}
}

func TestRewardJudgeAgreesWithItsRewards(t *testing.T) {
	rule := RuleJudge{Words: []string{"happy", "friend"}, TargetLength: 6}
	rr := &ruleRewarder{rule: rule}
	path := filepath.Join(t.TempDir(), "judgments.jsonl")
	j, err := OpenRewardJudge(rr, 0, path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cands := []string{"a b c", "happy friend", "the happy dog ran far away", "happy happy friend", "one two three four five six"}
	// Games: the rule's order, a tie only for equal grades (their gap is far above 0.05 or 0).
	for a := range cands {
		for b := range cands {
			got, err := j.Play(ctx, "p", cands[a], cands[b], BracketScan)
			if err != nil {
				t.Fatal(err)
			}
			if want := rule.Compare(cands[a], cands[b]); got != want {
				t.Errorf("Play(%q, %q) = %d, rule says %d", cands[a], cands[b], got, want)
			}
		}
	}
	if rr.asked != len(cands) {
		t.Errorf("the log should score each response once; %d scored for %d responses", rr.asked, len(cands))
	}
	// Best-of-K: the best-vs-worst scan over the reward judge takes the arg max and arg min.
	idx, err := BestVsWorst(len(cands), func(a, b int, br string) (int, error) { return j.Play(ctx, "p", cands[a], cands[b], br) })
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 1 || idx[0] != (Index{3, 0}) {
		t.Errorf("best vs worst %v, want [{3 0}] (most target words; fewest, farthest length)", idx)
	}
	pref, ra, rb, err := j.Preference(ctx, "p", cands[0], cands[1])
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 1/(1+math.Exp(-(rule.RankScore(cands[1])-rule.RankScore(cands[0])))); math.Abs(pref-want) > 1e-12 || ra != rule.RankScore(cands[0]) || rb != rule.RankScore(cands[1]) {
		t.Errorf("preference %g (%g, %g), want %g", pref, ra, rb, want)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// The judgment file: one single record per response, the reward in score and raws.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var r JudgeRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		n++
		if r.Kind != "single" || r.Template != RewardTemplate || r.Judge != "rm:rule" || !r.Valid || r.Score == nil || len(r.Raws) != 1 {
			t.Fatalf("record %+v", r)
		}
		var v float64
		if err := json.Unmarshal([]byte(r.Raws[0]), &v); err != nil || v != *r.Score {
			t.Errorf("raw %q does not hold the score %g", r.Raws[0], *r.Score)
		}
	}
	if n != len(cands) {
		t.Fatalf("%d records for %d responses", n, len(cands))
	}
	// Resume: a judge on the same log answers from it without scoring anything.
	rr2 := &ruleRewarder{rule: rule}
	j2, err := OpenRewardJudge(rr2, 0, path)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	g, err := j2.Grade(ctx, "p", cands)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cands {
		if g[i] != rule.RankScore(c) {
			t.Errorf("resumed grade %d = %g, want %g", i, g[i], rule.RankScore(c))
		}
	}
	if rr2.asked != 0 {
		t.Errorf("resumed judge scored %d responses again", rr2.asked)
	}
	// Another instruction is another question.
	if _, err := j2.Grade(ctx, "q", cands[:1]); err != nil || rr2.asked != 1 {
		t.Errorf("a new instruction: asked %d, %v", rr2.asked, err)
	}
}

// The tie threshold: rewards closer than Tie tie; a negative Tie ties only equal rewards.
func TestRewardJudgeTieThreshold(t *testing.T) {
	r := fixedRewarder{"a": 1, "b": 1.3, "c": 1.3}
	ctx := context.Background()
	for _, c := range []struct {
		tie  float64
		want int
	}{{0.5, 0}, {0.2, -1}, {0, -1}, {-1, -1}} {
		j, _ := OpenRewardJudge(r, c.tie, "")
		if got, _ := j.Play(ctx, "p", "a", "b", ""); got != c.want {
			t.Errorf("tie %g: Play(a, b) = %d, want %d", c.tie, got, c.want)
		}
	}
	j, _ := OpenRewardJudge(r, -1, "")
	if got, _ := j.Play(ctx, "p", "b", "c", ""); got != 0 {
		t.Errorf("equal rewards: %d, want a tie", got)
	}
}

type fixedRewarder map[string]float64

func (f fixedRewarder) Name() string { return "rm:fixed" }

func (f fixedRewarder) Rewards(_ context.Context, _ string, rs []string) ([]float64, error) {
	out := make([]float64, len(rs))
	for i, s := range rs {
		out[i] = f[s]
	}
	return out, nil
}

func TestRewardJudgeBadRewards(t *testing.T) {
	if _, err := OpenRewardJudge(nil, 0, ""); err == nil {
		t.Fatal("no reward model accepted")
	}
	ctx := context.Background()
	j, _ := OpenRewardJudge(fixedRewarder{"x": math.NaN()}, 0, "")
	if _, err := j.Grade(ctx, "p", []string{"x"}); err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Errorf("NaN reward: %v", err)
	}
	j, _ = OpenRewardJudge(shortRewarder{}, 0, "")
	if _, err := j.Grade(ctx, "p", []string{"x", "y"}); err == nil || !strings.Contains(err.Error(), "1 rewards for 2 responses") {
		t.Errorf("short answer: %v", err)
	}
}

type shortRewarder struct{}

func (shortRewarder) Name() string { return "rm:short" }
func (shortRewarder) Rewards(context.Context, string, []string) ([]float64, error) {
	return []float64{0}, nil
}
