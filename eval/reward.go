package eval

import (
	"context"
	"fmt"

	"github.com/alignkit/align/pairs"
	"github.com/alignkit/align/runtime"
)

// winRateTemplate is the win rate's judge template: the named Ollama judge template, or, for
// a reward judge, a pairwise stand-in named "reward" (judgments record it as their template).
func winRateTemplate(opt WinRateOptions) (runtime.JudgeTemplate, error) {
	if opt.Reward != nil {
		return runtime.JudgeTemplate{Name: pairs.RewardTemplate, Kind: runtime.Pairwise}, nil
	}
	return JudgeTemplate(opt.Template)
}

// rewardConcurrency is the pairs judged at once by a reward judge: its engine runs the
// concurrent questions' responses together, so this many pairs share a forward pass.
const rewardConcurrency = 32

// judgeReward judges one pair with the reward model and appends it to the log; done is told
// the outcome. A reward model always gives a verdict, so a reward judgment is never invalid.
func judgeReward(ctx context.Context, rj *pairs.RewardJudge, j Judgment, log *JudgmentLog, done func(error)) error {
	pref, r1, r2, err := rj.Preference(ctx, j.Instruction, j.Output1, j.Output2)
	if err != nil {
		done(err)
		return fmt.Errorf("eval: %w", err)
	}
	j.Preference, j.Raw = pref, pairs.RewardRaw(r1, r2)
	if err := log.Append(j); err != nil {
		done(err)
		return err
	}
	done(nil)
	return nil
}
