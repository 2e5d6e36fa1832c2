package model

import (
	"math/rand/v2"
	"testing"
)

// TestGradientsQKNorm checks qwen3's QK-norm (and heads wider than Dim/Heads) against the
// float64 reference: LoRA on all seven projections with and without Recompute, and full
// fine-tuning, which also trains the attn_q_norm / attn_k_norm weights.
func TestGradientsQKNorm(t *testing.T) {
	for _, recompute := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(11, 12))
		m, err := NewRandom(tinyConfig("qwen3"), 13, LoadOptions{Threads: 2, Recompute: recompute,
			LoRA: &LoRAConfig{Rank: 3, Alpha: 6, Seed: 4}})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Params()) != 2*7*2 {
			t.Fatalf("%d LoRA params, want 28", len(m.Params()))
		}
		checkGrads(t, m, tinySeqs(rng, m.cfg.Vocab), rng)
	}
	rng := rand.New(rand.NewPCG(14, 15))
	m, err := NewRandom(tinyConfig("qwen3"), 16, LoadOptions{Threads: 2, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	var norms int
	for _, p := range m.Params() {
		if len(p.Shape) == 2 {
			for i := range p.Data {
				p.Data[i] *= 10
			}
		}
		if p == m.blocks[0].qNorm || p == m.blocks[1].kNorm {
			norms++
		}
	}
	if norms != 2 {
		t.Fatalf("full fine-tuning does not train the QK-norm weights")
	}
	checkGrads(t, m, tinySeqs(rng, m.cfg.Vocab), rng)
}
