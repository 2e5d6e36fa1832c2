// Package safety measures a safety retrofit: the retrofit report compares a base model and its
// retrofitted version on the attack success rate per attack style (held-out harmful prompts
// wrapped in the attack templates, pairs.Attack), the over-refusal rate on safe prompts, and
// the win rate against the base on general prompts (AlpacaEval instructions). Every number
// comes from eval.RunSafety and eval.RunWinRate (align eval safety, align eval win-rate), so the
// runs resume and their per-run reports stay beside the combined table.
//
// It does not build training data: align safety build-pairs (pairs.BuildRefusalPairs) does.
package safety
