// Package runtime is align's only door to the model runtime, a local Ollama server.
//
// It samples K completions per prompt with recorded seeds, judges pairs with LLM-as-judge
// templates and parsers, uploads GGUF blobs and creates models, and spreads work over a pool of
// hosts with retries, backoff and timeouts. Results stream to JSONL files keyed so that a rerun
// asks only for what is missing. It honours OLLAMA_HOST and uses github.com/ollama/ollama/api.
//
// It does not train or score given text: Ollama cannot, so the model package does that.
package runtime
