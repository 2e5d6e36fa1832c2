package runtime

import (
	"context"
	"fmt"
	"math"
)

// VarsRequest asks a judge one game with the template's placeholders filled from Vars exactly
// (no position swapping, no shortcut for identical answers): the call MT-Bench's judges make,
// where the caller lays out the two games itself (FastChat common.py run_judge_single and
// run_judge_pair).
type VarsRequest struct {
	Judge    string
	Template JudgeTemplate
	Vars     map[string]string
	// Attempts, Seed, Options, RetryTemperature and Structured: see JudgeRequest.
	Attempts         int
	Seed             int64
	Options          *Options
	RetryTemperature float64
	Structured       bool
}

// JudgeVars renders the template with Vars, asks the judge and parses the answer with the
// template's parser (or the structured form). It returns the game and the messages sent. The
// game's Preference is the verdict's, in the order the Vars show (NaN when invalid or single).
func JudgeVars(ctx context.Context, pool *Pool, req VarsRequest) (Game, []Message, error) {
	msgs, err := req.Template.Render(req.Vars)
	if err != nil {
		return Game{}, nil, err
	}
	if req.Judge == "" {
		return Game{}, msgs, fmt.Errorf("runtime: judge %s: no judge model given", req.Template.Name)
	}
	g, err := askJudge(ctx, pool, req.Judge, req.Template, msgs, req.Options, req.Attempts, req.Seed, req.RetryTemperature, req.Structured)
	g.Preference = math.NaN()
	if req.Template.Kind == Pairwise && g.Verdict.Valid {
		g.Preference = g.Verdict.Preference
	}
	return g, msgs, err
}
