// Package data reads and writes preference datasets.
//
// It knows three record shapes: pairwise (Pair: prompt, chosen, rejected), ranked (Ranked: a
// prompt plus N scored responses) and unpaired (Unpaired: prompt, completion, boolean label).
//
// Open detects a file's container (Parquet, JSONL, JSON array; gzip too) from its bytes and its
// layout (HH transcripts, ShareGPT, TRL's conversational formats, ultrafeedback_binarized,
// UltraFeedback completions, ranked responses, KTO messages, plain prompt/chosen/rejected) from
// its first valid row, and streams records through Reader.Next with flat memory: a line, an
// array element or a Parquet row group at a time. Parquet written by other tools is read
// through the footer's schema (string or large_string, 2- or 3-level lists, any codec or
// encoding), with align's own record assembly. Every invalid row is an *Issue naming file,
// row and column; Options.SkipInvalid skips and counts them. Validate lists every problem.
//
// Create writes Parquet in the Hugging Face conventions (zstd, ~64 MiB row groups) or JSONL.
// Convert and Split (by prompt hash) stream one file into others; Inspect describes a file.
//
// ReadPromptFile (and ReadPrompts, its default-options form) is align's one reader of prompts
// for sampling, curation, training and evaluation: AlpacaEval JSON, MT-Bench and Arena-Hard
// JSONL, XSTest CSV, JSON/JSONL/Parquet prompt rows, preference files (their records'
// prompts), JSON strings and text lines, gzip too. A Prompt is single-turn (Messages, which
// may carry a multi-turn history given as a [{role, content}] list) or a multi-turn benchmark
// question (Turns, MT-Bench's "turns"); TurnMessages(k, answers) builds the conversation to
// answer at turn k from the model's earlier answers.
//
// It is files only: it imports neither objectives nor runtime. Pair rules over ranked data
// (Curry-DPO's) live in the pairs package, which reads and writes through this one.
//
// It does not tokenize (the model package does; Inspect takes a Tokenizer function) and it
// does not render chat templates. docs/data.md has the detection rules and messages.
package data
