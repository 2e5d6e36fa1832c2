package model

// qwen3 (GGUF general.architecture "qwen3"; llama.cpp LLM_ARCH_QWEN3, Ollama's
// model/models/qwen3, which Ollama v0.17.4 runs in its own Go engine): a llama block with
//   - QK-norm: attn_q_norm.weight and attn_k_norm.weight, RMSNorm over each head's HeadDim
//     values of q and k after the projection and before RoPE, with the model's rms epsilon;
//   - NeoX RoPE (rotate halves) over the whole head (rope.dimension_count = key_length);
//   - no q/k/v biases; attention.key_length may differ from embedding_length/head_count
//     (qwen3-0.6B: 16 heads of 128 on a 1024-wide residual);
//   - a tied (token_embd) or untied (output.weight) LM head.
// The tensor names are bound in bindings (arch.go) like every architecture's.

func qwen3Spec() archSpec { return archSpec{neox: true, qkNorm: true, goEngine: true} }
