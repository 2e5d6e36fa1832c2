package model

import "testing"

// TestFLOPsHandCount: the FLOP count of a tiny shape against a count by hand.
func TestFLOPsHandCount(t *testing.T) {
	// 2 layers, dim 8, 2 query heads and 1 kv head of 4, ffn 12, vocab 10, tied.
	cfg := Config{Arch: "llama", Layers: 2, Dim: 8, FFN: 12, Heads: 2, KVHeads: 1, HeadDim: 4, RopeDim: 4,
		RopeTheta: 10000, Eps: 1e-5, Vocab: 10, ContextLen: 64, Tied: true}
	lora, err := NewRandom(cfg, 1, LoadOptions{LoRA: &LoRAConfig{Rank: 2, Alpha: 4, Seed: 1, Targets: []string{"q", "down"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Per layer: q 8·8, k 8·4, v 8·4, o 8·8, gate 8·12, up 8·12, down 12·8 = 64+32+32+64+96+96+96
	// = 480 multiply-adds per token; LM head 8·10 = 80. N = 2·480 + 80 = 1040.
	// Sequences of 3 and 5 tokens: 8 tokens; (query, key) pairs 3·4/2 + 5·6/2 = 6 + 15 = 21.
	// Attention: QKᵀ and P·V, heads·headDim = 8 multiply-adds each per pair and layer:
	// 2 products · 8 · 21 pairs · 2 layers = 672 multiply-adds = 1344 FLOPs.
	const dense, attn = 2 * 1040 * 8, 1344
	// Adapters: q 2·(8+8) = 32, down 2·(12+8) = 40 multiply-adds per token and layer: 144 per
	// token, 144·8 tokens·2 FLOPs = 2304 FLOPs for each of forward, input and weight gradients.
	const adapter = 2304
	f := lora.FLOPs([]int{3, 5})
	if f.Forward != dense+attn {
		t.Errorf("forward %g, want %d", f.Forward, dense+attn)
	}
	if want := float64((dense + attn + adapter) + (dense + 2*attn + adapter) + adapter); f.LoRAStep != want {
		t.Errorf("LoRA step %g, want %g", f.LoRAStep, want)
	}
	if want := float64(3 * (dense + attn)); f.FullStep != want {
		t.Errorf("full step %g, want %g", f.FullStep, want)
	}
	if got := lora.StepFLOPs([]int{3, 5}); got != f.LoRAStep {
		t.Errorf("StepFLOPs of a LoRA model %g, want its LoRA step %g", got, f.LoRAStep)
	}
	plain, err := NewRandom(cfg, 1, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f := plain.FLOPs([]int{3, 5}); f.LoRAStep != 0 || f.Forward != dense+attn {
		t.Errorf("no adapters: %+v", f)
	}
}
