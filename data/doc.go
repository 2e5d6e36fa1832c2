// Package data reads and writes preference datasets.
//
// It knows three record shapes: pairwise (prompt, chosen, rejected), ranked (prompt plus N
// scored responses) and unpaired (prompt, completion, boolean label). It reads Parquet in the
// Hugging Face conventions, JSONL and JSON (gzip too) in the common community formats, detects
// the format and the columns, validates every row and names the file, row and column of every
// problem. It writes Parquet and JSONL, splits by prompt hash and turns ranked data into pairs.
//
// It does not tokenize: that is the model package's job.
package data
