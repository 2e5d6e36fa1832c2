// Package model turns a GGUF file into a trainable Llama-family policy.
//
// Load reads weights through github.com/ollama/ollama/fs/ggml (architectures llama, qwen2,
// qwen3, phi3, gemma2 and gemma3, one small file each with the GGUF names bound in bindings;
// F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K decoded by
// package kernels, the projections kept in their encoding unless Dense or Full, phi3's fused
// ones aside),
// builds the tokenizer from the GGUF metadata with github.com/ollama/ollama/tokenizer (adding
// llama.cpp's SentencePiece space prefix, which ollama's Go tokenizer leaves out), and picks the
// chat template as Ollama's /api/create does. Resolve and Open also accept an Ollama model name.
//
// Compute is explicit, llm.c style: every layer is a forward/backward pair over a packed batch
// of sequences (no padding; causal attention within each sequence; positions restart per
// sequence; sequences with the same prompt, the tokens before their first masked one, are packed
// with it once and attend to its one K/V: share.go). The LM head materialises at most 64 rows
// of logits at a time, and only for rows that predict a masked token. LoRA adapters (PEFT's initialisation and scaling) or all weights
// (Full) receive gradients; Recompute keeps only each block's input. Results are bit-identical
// whatever the thread count.
//
// Generate samples locally with a KV cache. WriteMergedGGUF, WriteAdapterGGUF (llama.cpp's LoRA
// format) and WritePEFT export back; SaveAdapter/LoadAdapter checkpoint the trainable tensors.
//
// Decisions beyond the model API contract: Resolve returns a Resolved{Path, Template};
// LoadOptions gained Template (an Ollama template overriding the GGUF's) and F16KV (score as
// Ollama's runner computes, bit for bit, for parity checks: attn_ggml.go); NewRandom builds
// random-weight models for benchmarks. LowMemory keeps the block projections in their GGUF
// encoding and dequantizes ~2 MiB tiles of output rows, on Threads goroutines, into a reused
// scratch buffer (lowmem.go); it is refused with Full. RoPE scaling (rope_freqs.weight factors,
// linear rope.scaling) is Config.RopeFreqs/RopeScale, applied in rope_scaled.go.
//
// It knows nothing of preference objectives: it produces per-token log-probs and takes their
// gradients.
package model
