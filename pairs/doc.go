// Package pairs is the one home of preference data made from a model's own samples: candidate
// sampling plans (K responses per prompt, per model, with recorded seeds), the filters and
// automatic negatives that run before judging, judging (a rubric grade per candidate, the
// candidates of a prompt side by side in one call, pairwise games, knockouts), the pair rules
// (best vs worst, INPO's tournament, DNO's rubric rule and replay, Curry-DPO's ranking, all
// pairs, refusal pairs), and the resumable judgment log.
//
// Build runs one online iteration (train's driver calls it with the exported policy as the
// sampler); Curate and BuildRefusalPairs are `align data curate` and `align safety
// build-pairs`. Each rule is written once here and cited from docs/objectives.md and
// docs/curation.md. Sampling and judging go through package runtime, the only one that talks to
// Ollama; files are read and written through packages data and data/curate.
package pairs
