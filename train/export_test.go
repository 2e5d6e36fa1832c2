package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
)

// TestExportFiles trains a few steps, exports a merged F32 GGUF, an adapter GGUF and a PEFT
// folder, and checks that the merged file, loaded on its own, scores text like the trained
// policy and unlike the base model.
func TestExportFiles(t *testing.T) {
	base := t.TempDir()
	t.Setenv("ALIGN_CACHE_DIR", filepath.Join(base, "cache"))
	dir := filepath.Join(base, "run")
	run(t, load(t, "dpo", append([]string{"max_steps=3", "learning_rate=0.01", "warmup_ratio=0"}, small...)...), dir)
	out := filepath.Join(base, "merged.f32.gguf")
	ctx := context.Background()
	for _, target := range []string{"gguf:" + out, "adapter:" + filepath.Join(base, "adapter.gguf"), "peft:" + filepath.Join(base, "peft")} {
		if err := Export(ctx, dir, target, ExportOptions{}); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
	}
	for _, f := range []string{"adapter.gguf", "peft/adapter_config.json", "peft/adapter_model.safetensors"} {
		if st, err := os.Stat(filepath.Join(base, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}

	// The trained policy, rebuilt from the checkpoint, against the merged file and the base.
	r := load(t, "dpo", append([]string{"max_steps=3", "learning_rate=0.01", "warmup_ratio=0"}, small...)...)
	r.Eval.HeldOut = 1 // loads the frozen base too
	tr := &trainer{r: r, assetDir: filepath.Join(base, "cache", "assets")}
	if err := tr.loadModels(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	d, _, _, _ := LatestCheckpoint(dir)
	f, _ := os.Open(filepath.Join(d, "weights.bin"))
	if err := loadParams(f, tr.policy.Params()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	merged, err := model.Load(out, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer merged.Close()
	seq, err := tr.policy.Encode([]data.Message{{Role: "user", Content: "Once upon a time, there was a little dog."}},
		[]data.Message{{Role: "assistant", Content: "He was happy and played with his friends in the park."}})
	if err != nil {
		t.Fatal(err)
	}
	lp := func(m *model.Model) float64 {
		x, err := m.LogProbs([]model.Sequence{seq})
		if err != nil {
			t.Fatal(err)
		}
		return sum64(x[0])
	}
	p, m, b := lp(tr.policy), lp(merged), lp(tr.base)
	t.Logf("log-prob: trained %.5f merged %.5f base %.5f", p, m, b)
	if math.Abs(p-m) > 1e-3*math.Abs(p) {
		t.Errorf("merged GGUF scores %.5f, the trained policy %.5f", m, p)
	}
	if math.Abs(p-b) < 1e-4 {
		t.Errorf("training did not change the log-prob (%.5f vs base %.5f)", p, b)
	}
}
