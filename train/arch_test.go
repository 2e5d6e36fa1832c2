package train

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/alignkit/align/model"
)

// TestQuickstartQwen3 runs the quickstart recipe (rule-judged online DPO with LoRA on every
// projection) on a random-weight qwen3 (QK-norm, NeoX RoPE, chatml template) written by
// model.WriteRandomGGUF: the judge's words are ones its small vocabulary spells, and the trained
// policy must beat the base on held-out prompts more often than before training.
func TestQuickstartQwen3(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "qwen3.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := model.Config{Arch: "qwen3", Layers: 2, Dim: 64, FFN: 128, Heads: 4, KVHeads: 2, HeadDim: 32, RopeTheta: 1e6, Eps: 1e-6, ContextLen: 512}
	if err := model.WriteRandomGGUF(f, model.RandomGGUF{Config: cfg, Vocab: model.VocabChatML, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r := load(t, "quickstart", "model.path="+path, "dataset.max_samples=256", "eval.held_out=32", "eval.samples=4",
		"online.sampling.max_tokens=24", "online.sampling.temperature=1.5", "online.judge.words=[the, little, girl, she, her, a]",
		"online.judge.target_length=20", "learning_rate=5e-4", "num_train_epochs=3")
	res := run(t, r, filepath.Join(dir, "qs"))
	t.Logf("qwen3 random: win rate before %.3f after %.3f KL %.2f steps %d pairs %d", res.WinRateBefore, res.WinRateAfter, res.KL, res.Steps, res.Pairs)
	if math.Abs(res.WinRateBefore-0.5) > 0.2 {
		t.Errorf("base against itself won %.2f, want about 0.5", res.WinRateBefore)
	}
	// Measured: 0.516 before, 0.676 after (84 steps, 224 pairs, 128 held-out comparisons). With
	// 96 prompts (fresh prompts per iteration since the pairs/ driver) it reached only 0.55. A
	// random model has less to learn from than stories260K: the bar is a clear rise.
	if res.WinRateAfter < 0.6 || res.WinRateAfter-res.WinRateBefore < 0.05 {
		t.Errorf("trained qwen3 won %.2f against the base (%.2f before), want >= 0.6 and a rise of 0.05", res.WinRateAfter, res.WinRateBefore)
	}
}
