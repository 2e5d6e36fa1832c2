package train

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/alignkit/align/model"
)

// TestQuickstartGemma3 runs the quickstart (rule judge, online DPO, LoRA on every projection) on
// a random-weight gemma3 written by model.PeakedGGUF at stories260K's scale (6 blocks of dim 64,
// stories260K's vocabulary), instead of stories260K; nothing is trained first. Its head is only
// mildly peaked (Peak 0.08: the base's greedy token has a few percent of the probability), so
// that sampling at temperature 1 is diverse while the head is strong enough for the adapters to
// raise a token's logit by several units (with Peak 0.02 the reachable logits stay within about
// ±1.3 and the win rate did not move), and it never samples byte tokens (NoSpecial: half of
// stories260K's vocabulary are bytes, whose random sequences are not text). The judge's words are
// ones the vocabulary has as single tokens. Some completions contain them by chance; DPO must make
// the policy produce them more often than the base on held-out prompts. Training is
// deterministic, so the figures are the same at every run of the same code: at 3d81337 before
// 0.552, after 0.667, KL 1.21 (30 steps, 120 pairs; an earlier commit gave 0.682 and 1.81).
func TestQuickstartGemma3(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gemma3.gguf")
	g := model.PeakedGGUF{Arch: "gemma3", Layers: 6, Dim: 64, FFN: 128, Heads: 4, KVHeads: 2, HeadDim: 16,
		SlidingWindow: 16, Vocab: "../testdata/models/stories260K.gguf", Seed: 3, Peak: 0.08, NoSpecial: true,
		ExtraKV: map[string]any{"tokenizer.ggml.add_space_prefix": false, "tokenizer.ggml.eot_token_id": uint32(2)}}
	if err := g.Write(path); err != nil {
		t.Fatal(err)
	}
	// The judge's words are ones stories260K's vocabulary has as single tokens (its quickstart
	// words are mostly split into pieces, which a near-uniform model almost never assembles).
	r := load(t, "quickstart", "model.path="+path, "online.judge.words=[happy, friend, day, big, she]",
		"dataset.max_samples=168", "eval.held_out=48", "eval.samples=2")
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
