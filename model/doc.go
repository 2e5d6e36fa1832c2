// Package model turns a GGUF file into a trainable Llama-family policy.
//
// It loads weights through github.com/ollama/ollama/fs/ggml, builds the tokenizer from the GGUF
// metadata with github.com/ollama/ollama/tokenizer, renders the model's Ollama chat template, and
// runs explicit forward and backward passes per layer (llm.c style) with LoRA adapters or full
// weights. It samples locally with a KV cache and writes merged GGUF, adapter GGUF and PEFT
// adapters back out.
//
// It knows nothing of preference objectives: it produces per-token log-probs and takes their
// gradients.
package model
