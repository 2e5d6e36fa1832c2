package pairs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/alignkit/align/runtime"
)

// Rewarder scores responses to one instruction with a reward model: one scalar reward per
// response, higher is better. train.RewardModel (align's own engine over a reward run) is
// one; pairs does not import the model package, so the judge takes it through this interface.
type Rewarder interface {
	// Name names the reward model in judgment files (rm:RUN).
	Name() string
	// Rewards returns one finite reward per response.
	Rewards(ctx context.Context, instruction string, responses []string) ([]float64, error)
}

// DefaultRewardTie is the reward judge's tie threshold: two responses whose rewards differ by
// less than this (in reward units, the logit of the Bradley–Terry preference) tie. |Δr| <
// 0.05 is P(a > b) = σ(Δr) within 0.5 ± 0.0125 (docs/training.md, "Reward models").
const DefaultRewardTie = 0.05

// RewardTemplate is the template field of a reward judge's judgment records.
const RewardTemplate = "reward"

// RewardJudge is a reward model used as a judge. It grades: each candidate's grade is its
// reward, so best-of-K (best_vs_worst) takes the arg max and the rubric and all_pairs rules
// read rewards as scores. A game between a and b has P(a > b) = σ(r_a − r_b); a wins when
// r_a − r_b ≥ Tie, b when r_b − r_a ≥ Tie, otherwise it is a tie. Every reward goes to the
// judgment log (kind single, template reward, the reward in score and, printed, in raws), so
// a resumed iteration never scores the same response twice; all of a call's missing
// candidates are scored in one batch.
type RewardJudge struct {
	R Rewarder
	// Tie is the tie threshold on |r_a − r_b| (DefaultRewardTie when 0; negative: no ties
	// but exact equality).
	Tie float64
	log *judgeLog
}

// OpenRewardJudge makes a reward judge whose rewards are logged in logPath (created or
// resumed); an empty logPath keeps no log.
func OpenRewardJudge(r Rewarder, tie float64, logPath string) (*RewardJudge, error) {
	if r == nil {
		return nil, errors.New("pairs: reward judge: no reward model")
	}
	j := &RewardJudge{R: r, Tie: tie}
	if logPath != "" {
		jl, err := openJudgeLog(logPath)
		if err != nil {
			return nil, fmt.Errorf("pairs: judgments: %w", err)
		}
		j.log = jl
	}
	return j, nil
}

// Close closes the judgment log.
func (j *RewardJudge) Close() error {
	if j.log == nil {
		return nil
	}
	return j.log.log.Close()
}

// Name is the reward model's name.
func (j *RewardJudge) Name() string { return j.R.Name() }

func (j *RewardJudge) tie() float64 {
	if j.Tie == 0 {
		return DefaultRewardTie
	}
	return max(j.Tie, 0)
}

// Pairwise implements Judge: a reward judge grades (its Play compares rewards).
func (j *RewardJudge) Pairwise() bool { return false }

func (j *RewardJudge) key(instruction, c string) string {
	return contentKey("single", j.R.Name(), RewardTemplate, instruction, c)
}

// Grade implements Judge: the candidates' rewards, the logged ones read back, the others
// scored in one batch and logged.
func (j *RewardJudge) Grade(ctx context.Context, instruction string, cands []string) ([]float64, error) {
	out := make([]float64, len(cands))
	var todo []int
	same := map[int]int{} // a repeated candidate: the index of its first occurrence in todo
	first := map[string]int{}
	for i, c := range cands {
		if j.log != nil {
			if r, ok := j.log.get(j.key(instruction, c)); ok && r.Score != nil {
				out[i] = *r.Score
				continue
			}
		}
		if k, ok := first[c]; ok {
			same[i] = k
			continue
		}
		first[c] = i
		todo = append(todo, i)
	}
	defer func() {
		for i, k := range same {
			out[i] = out[k]
		}
	}()
	if len(todo) == 0 {
		return out, nil
	}
	texts := make([]string, len(todo))
	for k, i := range todo {
		texts[k] = cands[i]
	}
	rs, err := j.R.Rewards(ctx, instruction, texts)
	if err != nil {
		return nil, fmt.Errorf("pairs: reward judge %s: %w", j.R.Name(), err)
	}
	if len(rs) != len(texts) {
		return nil, fmt.Errorf("pairs: reward judge %s: %d rewards for %d responses", j.R.Name(), len(rs), len(texts))
	}
	for k, i := range todo {
		r := rs[k]
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("pairs: reward judge %s: response %d: reward %v is not finite", j.R.Name(), i+1, r)
		}
		out[i] = r
		if j.log == nil {
			continue
		}
		key := j.key(instruction, cands[i])
		rec := JudgeRecord{Key: key, Kind: "single", Judge: j.R.Name(), Template: RewardTemplate, Valid: true,
			Score: ptr(r), Raws: []string{strconv.FormatFloat(r, 'g', -1, 64)}}
		if _, err := j.log.do(ctx, judgeTask{key: key, run: func(context.Context) (JudgeRecord, error) { return rec, nil }}, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Play implements Judge: +1 when r_a − r_b ≥ Tie, −1 when r_b − r_a ≥ Tie, 0 otherwise.
func (j *RewardJudge) Play(ctx context.Context, instruction, a, b, _ string) (int, error) {
	rs, err := j.Grade(ctx, instruction, []string{a, b})
	if err != nil {
		return 0, err
	}
	return RewardGame(rs[0], rs[1], j.tie()), nil
}

// Preference returns P(b > a) = σ(r_b − r_a) as an AlpacaEval preference in [1, 2] (1: a
// better, 2: b better; exactly 1.5 for a tie under the threshold) and the two rewards.
func (j *RewardJudge) Preference(ctx context.Context, instruction, a, b string) (pref, ra, rb float64, err error) {
	rs, err := j.Grade(ctx, instruction, []string{a, b})
	if err != nil {
		return math.NaN(), 0, 0, err
	}
	return RewardPreference(rs[0], rs[1], j.tie()), rs[0], rs[1], nil
}

// RewardGame is the game between rewards ra and rb under tie threshold tie: +1 (a wins), −1
// (b wins) or 0.
func RewardGame(ra, rb, tie float64) int {
	d := ra - rb
	switch {
	case d == 0, math.Abs(d) < tie:
		return 0
	case d > 0:
		return 1
	}
	return -1
}

// RewardPreference is 1 + σ(rb − ra), 1.5 when |ra − rb| < tie.
func RewardPreference(ra, rb, tie float64) float64 {
	if RewardGame(ra, rb, tie) == 0 {
		return 1.5
	}
	d := rb - ra
	if d >= 0 {
		return 1 + 1/(1+math.Exp(-d))
	}
	e := math.Exp(d)
	return 1 + e/(1+e)
}

// RewardRaw is the raw text of a pairwise reward judgment, {"reward_1": r1, "reward_2": r2}:
// what align eval win-rate and align data curate record as the judge's answer.
func RewardRaw(r1, r2 float64) string {
	b, _ := json.Marshal(struct {
		R1 float64 `json:"reward_1"`
		R2 float64 `json:"reward_2"`
	}{r1, r2})
	return string(b)
}

// rewardBackend is a Backend whose judge calls go to a reward judge (curation with
// --judge rm:RUN): a single-answer grade is the response's reward, a pairwise judgment the
// preference 1 + σ(r_2 − r_1) (1.5 under the tie threshold), each valid, with the rewards as
// its raw text. Sampling still goes to the wrapped backend.
type rewardBackend struct {
	Backend
	j *RewardJudge
}

// JudgeSingle implements Backend.
func (b rewardBackend) JudgeSingle(ctx context.Context, req runtime.SingleRequest) (runtime.Game, error) {
	rs, err := b.j.Grade(ctx, req.Instruction, []string{req.Response})
	if err != nil {
		return runtime.Game{}, err
	}
	raw := strconv.FormatFloat(rs[0], 'g', -1, 64)
	return runtime.Game{Verdict: runtime.Verdict{Valid: true, Score: rs[0], Preference: math.NaN(), Raw: raw},
		Preference: math.NaN(), Attempts: 1, Raws: []string{raw}}, nil
}

// JudgePair implements Backend.
func (b rewardBackend) JudgePair(ctx context.Context, req runtime.JudgeRequest) (runtime.Judgment, error) {
	p, r1, r2, err := b.j.Preference(ctx, req.Instruction, req.Output1, req.Output2)
	if err != nil {
		return runtime.Judgment{}, err
	}
	raw := RewardRaw(r1, r2)
	g := runtime.Game{Verdict: runtime.Verdict{Valid: true, Preference: p, Score: math.NaN(), Raw: raw}, Preference: p, Attempts: 1, Raws: []string{raw}}
	return runtime.Judgment{Games: []runtime.Game{g}, Preference: p, Valid: true, Identical: req.Output1 == req.Output2}, nil
}
