package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/alignkit/align/pairs"
	"github.com/alignkit/align/train"
)

// rmPrefix marks a reward-model judge: --judge rm:RUN names a run of align train --recipe reward.
const rmPrefix = "rm:"

// openRewardJudge opens --judge rm:RUN as a reward judge served by align's own engine (nil
// for any other judge, an Ollama model), logging its rewards in logPath when it is not empty.
func openRewardJudge(ctx context.Context, judge string, hosts []string, logPath string) (*pairs.RewardJudge, func(), error) {
	run, ok := strings.CutPrefix(judge, rmPrefix)
	if !ok {
		return nil, func() {}, nil
	}
	rm, err := train.OpenRewardModel(ctx, run, train.RewardOptions{OllamaHosts: hosts})
	if err != nil {
		return nil, nil, err
	}
	j, err := pairs.OpenRewardJudge(rm, 0, logPath)
	if err != nil {
		rm.Close()
		return nil, nil, err
	}
	return j, func() { j.Close(); rm.Close() }, nil
}

// noRewardJudge refuses --judge rm:RUN where the judge must write an answer a reward model
// cannot give: a compliance/refusal classification (safety) or a rubric rating (MT-Bench).
func noRewardJudge(command, judge, needs string) error {
	if !strings.HasPrefix(judge, rmPrefix) {
		return nil
	}
	return fmt.Errorf("%s: --judge %s is a reward model, and this judge must %s, which a reward model cannot; give an Ollama model (rm: judges align eval win-rate, align data curate and online stages)", command, judge, needs)
}
