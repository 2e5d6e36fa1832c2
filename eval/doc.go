// Package eval measures whether alignment worked: win rate and length-controlled win rate as
// AlpacaEval computes them, Arena-Hard's Bradley–Terry leaderboard, MT-Bench scores, implicit
// reward accuracy, and safety metrics (attack success and over-refusal), with JSON and HTML
// reports.
//
// It gets generations and judgments through the runtime package and never talks to a server
// itself.
package eval
