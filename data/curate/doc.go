// Package curate builds preference data from local models and checks it before it trains
// anything.
//
// It holds the pure parts of `align data curate` and `align safety build-pairs`: text
// normalisation, the filters that run before judging (exact and near duplicates, empty or
// truncated responses, degenerate repetition, length bounds), contamination checks of a prompt
// set against an evaluation set, the attack-style templates applied to prompts for safety data,
// and the pair rules (UltraFeedback best-vs-rest, DNO, pairwise tournaments, refusal pairs). The
// pipelines (pipeline.go, safety.go) sample and judge through small interfaces that the runtime
// package satisfies, append every sample and judgment to JSONL logs as they arrive, and so
// resume after a kill with every row exactly once.
//
// It does not talk to a server itself: sampling and judging go through the Backend interface
// (backend.go; PoolBackend wraps a runtime.Pool), and pair files are written by the data
// package. The retrofit report is in eval/safety.
package curate
