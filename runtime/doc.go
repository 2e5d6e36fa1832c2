// Package runtime is align's only door to the model runtime, a local Ollama server.
//
// A Pool spreads requests over one or more hosts (least outstanding work, per-host
// concurrency, cooldown of failing hosts, bounded retries with backoff and jitter, a timeout per
// attempt). On it:
//   - Generate runs one completion (chat or raw), with explicit sampling options and optional
//     logprobs;
//   - SampleJob asks for K completions per prompt with distinct recorded seeds, appending each
//     to a JSONL file as it arrives, so that a rerun asks only for what is missing;
//   - JudgePair, JudgeSingle and JudgeJob run LLM-as-judge with the embedded AlpacaEval,
//     MT-Bench, Arena-Hard, XSTest and DNO-rubric templates and their parsers; an answer that
//     parses to nothing is retried, then recorded invalid with its raw text;
//   - Create uploads GGUF blobs and creates models; Show, List, Check and Delete do the rest;
//   - Locate finds an Ollama model's GGUF blob on this machine (through /api/show, else the
//     manifests under $OLLAMA_MODELS), for the native engine to load.
//
// It honours OLLAMA_HOST and uses github.com/ollama/ollama/api. It does not train or score
// given text: Ollama cannot, so the model package does that. See docs/runtime.md.
package runtime
