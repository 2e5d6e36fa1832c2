package model

import (
	"math"

	"github.com/ollama/ollama/fs/ggml"
)

// gemma2 (Gemma 2: 2B, 9B, 27B). Ollama v0.17.4 serves it on its llama.cpp runner (gemma2 is
// not among fs/ggml's OllamaEngineRequired architectures), so this follows llama.cpp's
// llm_build_gemma2_iswa and its hyper-parameter loading (llama-model.cpp, LLM_ARCH_GEMMA2):
//
//	x = token_embd·√dim
//	per block: h = x + post_attention_norm(attn(attn_norm(x)))
//	           y = h + post_ffw_norm(ffn_down(gelu_tanh(ffn_gate(n)) · ffn_up(n))), n = ffn_norm(h)
//	logits = c·tanh(output(output_norm(x))/c), c = final_logit_softcapping (default 30)
//
// Attention: NeoX RoPE; scores (scale·q)·k soft-capped to c·tanh(s/c) with c =
// attn_logit_softcapping (default 50) before the causal mask; the even blocks (0, 2, ...: llama.cpp
// set_swa_pattern(2)) see only the attention.sliding_window (default 4096) most recent keys,
// their own included (is_masked_swa: masked when i − j ≥ n_swa). The scale is 1/√head_dim, or
// 1/√(dim/heads) for the 27B (46 blocks): llama.cpp's f_attention_scale, which stands for HF's
// query_pre_attn_scalar (256, 256, 144) since the GGUF carries no such key.
//
// Norms: HF's GemmaRMSNorm multiplies by (1 + w); the converters (llama.cpp's
// convert_hf_to_gguf and ollama's convert_gemma*.go addOne) store 1 + w in the GGUF, so every
// *_norm.weight is a plain multiplicative RMSNorm weight here, as in both runners.
// llama.cpp binds gemma2's head to token_embd whatever the file holds, and refuses a file with
// an output.weight (its tensor count then differs): align refuses it up front.
func gemma2Spec() archSpec { return archSpec{neox: true, tiedHead: true, qScaledFirst: true} }

func gemma2Config(kv ggml.KV, c *Config) {
	c.EmbedScale = float32(math.Sqrt(float64(c.Dim)))
	c.PostNorms, c.GeGLU = true, true
	c.AttnSoftcap = kv.Float("attn_logit_softcapping", 50)
	c.FinalSoftcap = kv.Float("final_logit_softcapping", 30)
	c.Window = int(kv.Uint("attention.sliding_window", 4096))
	c.WindowLayers = make([]bool, c.Layers)
	for l := range c.WindowLayers {
		c.WindowLayers[l] = l%2 == 0
	}
	n := c.HeadDim // llama.cpp's f_attention_scale, 1.0f/sqrtf(n), which its graph puts on q
	if c.Layers == 46 {
		n = c.Dim / c.Heads
	}
	c.AttnScale = 1 / float32(math.Sqrt(float64(n)))
}
