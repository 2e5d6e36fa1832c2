package train

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/alignkit/align/model"
)

// TestQuickstartGemma3 runs the quickstart (rule judge, online DPO, LoRA on every projection) on
// a random-weight gemma3 written by model.PeakedGGUF at stories260K's scale (6 blocks of dim 64,
// stories260K's vocabulary), instead of stories260K. Its head is barely peaked (Peak 0.02), so
// that sampling at temperature 1 is diverse, and never samples byte tokens (NoSpecial: half of
// stories260K's vocabulary are bytes, whose random sequences are not text): some completions
// contain the judge's words by chance, and DPO must make the policy produce them more often than the base on held-out
// prompts. Nothing is trained first.
func TestQuickstartGemma3(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gemma3.gguf")
	g := model.PeakedGGUF{Arch: "gemma3", Layers: 6, Dim: 64, FFN: 128, Heads: 4, KVHeads: 2, HeadDim: 16,
		SlidingWindow: 16, Vocab: "../testdata/models/stories260K.gguf", Seed: 3, Peak: 0.02, NoSpecial: true,
		ExtraKV: map[string]any{"tokenizer.ggml.add_space_prefix": false, "tokenizer.ggml.eot_token_id": uint32(2)}}
	if err := g.Write(path); err != nil {
		t.Fatal(err)
	}
	// The judge's words are ones stories260K's vocabulary has as single tokens (its quickstart
	// words are mostly split into pieces, which a near-uniform model almost never assembles).
	r := load(t, "quickstart", "model.path="+path, "online.judge.words=[happy, friend, day, big, she]",
		"dataset.max_samples=168", "eval.held_out=48", "eval.samples=2", "learning_rate=1e-2", "num_train_epochs=3")
	res := run(t, r, filepath.Join(dir, "qs"))
	t.Logf("gemma3: win rate before %.3f after %.3f KL %.2f steps %d pairs %d", res.WinRateBefore, res.WinRateAfter, res.KL, res.Steps, res.Pairs)
	if math.Abs(res.WinRateBefore-0.5) > 0.2 {
		t.Errorf("base against itself won %.2f, want about 0.5", res.WinRateBefore)
	}
	if res.WinRateAfter < 0.6 {
		t.Errorf("trained policy won %.2f against the base, want >= 0.6", res.WinRateAfter)
	}
	if res.KL <= 0 {
		t.Errorf("KL estimate %v, want > 0 after training", res.KL)
	}
}
