package model

import (
	"fmt"
	"math"

	"github.com/ollama/ollama/fs/ggml"
)

// gemma3 (Gemma 3 text: 270M, 1B, and the text tower of 4B/12B/27B). Ollama v0.17.4 runs it in
// its own Go engine (fs/ggml's OllamaEngineRequired), so this follows ollama's
// model/models/gemma3 (model.go, model_text.go) where it and llama.cpp differ:
//
//   - the gemma2 block (√dim embedding scale, post-norms, GeGLU with gelu_tanh, NeoX RoPE over
//     the whole head) without the attention soft-cap, plus QK-norm (attn_q_norm, attn_k_norm:
//     RMSNorm over each head before RoPE);
//   - local and global blocks: block l is global when (l+1) % 6 == 0 (ollama's
//     gemmaGlobalCacheCount; llama.cpp's set_swa_pattern(6) is the same). The KV cache of a local
//     block is ollama's SWA cache, whose mask hides key j from row i only when j < i −
//     sliding_window: a local row sees sliding_window + 1 keys, its own included (HF and
//     llama.cpp see sliding_window; align follows the server it is checked against). RoPE of a
//     local block uses rope.local.freq_base (default 10⁴) without scaling, a global one
//     rope.freq_base (default 10⁶) with rope.scaling.factor; when the file has
//     attention.sliding_window_pattern, ollama takes the RoPE choice (not the window) from it,
//     and so does align;
//   - ollama's corrections of older files: with a window shorter than the context, 26 blocks
//     (1B) drop the final soft-cap, and 34/48/62 blocks (4B/12B/27B) get a linear RoPE
//     scaling of 8 on the global blocks; the score scale is 1/√key_length, or 1/√(dim/heads)
//     for 62 blocks;
//   - the final soft-cap final_logit_softcapping applies when the file has one (default none);
//   - rms epsilon defaults to 1e-6.
//
// Norm weights are stored as 1 + w by the converters (see gemma2.go). Vision tensors (v.*,
// mm.*) of the multimodal files are not bound: the model loads their text tower, notes it
// (Notes), and export copies them byte for byte.
func gemma3Spec() archSpec {
	return archSpec{neox: true, qkNorm: true, qScaledFirst: true, goEngine: true}
}

func gemma3Config(kv ggml.KV, c *Config) error {
	if vl := int(kv.Uint("attention.value_length", uint32(c.HeadDim))); vl != c.HeadDim {
		return fmt.Errorf("gemma3: attention.value_length %d differs from key_length %d (not supported)", vl, c.HeadDim)
	}
	c.EmbedScale = float32(math.Sqrt(float64(c.Dim)))
	c.PostNorms, c.GeGLU = true, true
	if _, ok := kv[c.Arch+".attention.layer_norm_rms_epsilon"]; !ok {
		c.Eps = 1e-6
	}
	if _, ok := kv[c.Arch+".rope.freq_base"]; !ok {
		c.RopeTheta = 1e6
	}
	c.RopeLocalTheta = kv.Float("rope.local.freq_base", 10000)
	sw := int(kv.Uint("attention.sliding_window"))
	c.Window = sw + 1
	c.FinalSoftcap = kv.Float("final_logit_softcapping", 0)
	if sw < c.ContextLen {
		switch c.Layers {
		case 26:
			c.FinalSoftcap = 0
		case 34, 48, 62:
			c.RopeScale = 8
		}
	}
	n := c.HeadDim // the Go engine's q.Scale(1/math.Sqrt(n)): a float64 quotient, rounded to float32
	if c.Layers == 62 {
		n = c.Dim / c.Heads
	}
	c.AttnScale = float32(1 / math.Sqrt(float64(n)))
	pattern := kv.Bools("attention.sliding_window_pattern")
	c.WindowLayers, c.RopeLocalLayers = make([]bool, c.Layers), make([]bool, c.Layers)
	for l := range c.WindowLayers {
		c.WindowLayers[l] = (l+1)%6 != 0
		c.RopeLocalLayers[l] = c.WindowLayers[l]
		if pattern != nil {
			c.RopeLocalLayers[l] = l < len(pattern) && pattern[l]
		}
	}
	return nil
}
