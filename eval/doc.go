// Package eval measures whether alignment worked: win rate and length-controlled win rate as
// AlpacaEval computes them, Arena-Hard's Bradley–Terry leaderboard (v0.1, and v2's style
// control), MT-Bench as FastChat runs it (two-turn answers, single or pairwise judging, the
// score table), implicit reward accuracy, and safety metrics (attack success and
// over-refusal), with JSON and HTML reports.
//
// The statistics (Stats, LengthControlled, Leaderboard, MTBench*, SafetyStats, RewardStats)
// are pure functions of saved judgments and follow the reference implementations exactly;
// docs/eval.md gives each one's source and every known difference. The drivers (RunWinRate,
// RunMTBench, RunSafety, RunLeaderboard) get generations and judgments through the runtime package and never talk to a
// server themselves; ImplicitRewards takes log-prob scoring functions, so eval does not
// depend on the model package.
package eval
