// Package tiktoken counts and encodes text with OpenAI's o200k_base byte-pair encoding, the
// tokenizer of GPT-4o, exactly as Python's tiktoken does with encode(text, disallowed_special=()):
// special-token text is encoded as ordinary text.
//
// It exists for one rule: Arena-Hard-Auto's style features measure an answer's length in GPT-4o
// tokens (utils/add_markdown_info.py, tiktoken.encoding_for_model("gpt-4o")), and align's
// style-controlled leaderboard must count them as Arena-Hard does. The model tokenizers of the
// GGUF files align trains are ollama/tokenizer's, not this package's: that package builds a BPE
// from a vocabulary and a merge list, and tiktoken files carry ranks only.
//
// The ranks are embedded (o200k_base.ranks.gz, 1.1 MB): js-tiktoken 1.0.21's
// dist/ranks/o200k_base.js (MIT), its bpe_ranks string gzipped as is. The pre-tokenizer is the
// o200k_base pattern run by github.com/dlclark/regexp2 (the regular-expression engine that
// ollama/tokenizer uses), whose \s is Unicode White_Space as in the Rust regex engine of Python's
// tiktoken. docs/eval.md ("Style control") gives the provenance and the checks.
package tiktoken
