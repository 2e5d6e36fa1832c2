package train

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/alignkit/align/model"
	"github.com/alignkit/align/objectives"
)

// TestAPOSamplerWeights: APO's sampler uses theta_t + alpha*(theta_t - theta_{t-1}) on the
// trainable (LoRA) weights, theta_{t-1} being the previous stage's start-weights.bin; alpha 0,
// the first stage and other objectives sample with the trained weights, and the trained weights
// come back afterwards.
func TestAPOSamplerWeights(t *testing.T) {
	m, err := model.Load("../testdata/models/stories260K.gguf", model.LoadOptions{Threads: 1,
		LoRA: &model.LoRAConfig{Rank: 2, Alpha: 4, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Params()
	if len(ps) == 0 {
		t.Fatal("no trainable weights")
	}
	rng := NewRNG(3, 0)
	prev := make([]*model.Param, len(ps))
	for i, p := range ps {
		prev[i] = &model.Param{Name: p.Name, Data: make([]float32, len(p.Data))}
		for j := range p.Data {
			p.Data[j] = float32(rng.Uint64()>>11)/float32(1<<53) - 0.5
			prev[i].Data[j] = float32(rng.Uint64()>>11)/float32(1<<53) - 0.5
		}
	}
	trained := cloneParams(ps)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "stage-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "stage-1", "start-weights.bin"), func(w io.Writer) error { return saveParams(w, prev) }); err != nil {
		t.Fatal(err)
	}
	tr := &trainer{dir: dir, policy: m, prog: NewProgress(io.Discard, 0, "test", true)}
	same := func(what string) {
		t.Helper()
		for i, p := range ps {
			for j, v := range p.Data {
				if v != trained[i][j] {
					t.Fatalf("%s: %s[%d] = %v, trained %v", what, p.Name, j, v, trained[i][j])
				}
			}
		}
	}
	for _, c := range []struct {
		name  string
		obj   objectives.Objective
		stage int
		alpha float64
	}{
		{"alpha 0", &objectives.APO{Alpha: 0, Beta: 0.1, Form: "dpo"}, 1, 0},
		{"first stage", &objectives.APO{Alpha: 0.3, Beta: 0.1, Form: "dpo"}, 0, 0},
		{"not APO", nil, 1, 0},
		{"alpha 0.3", &objectives.APO{Alpha: 0.3, Beta: 0.1, Form: "dpo"}, 1, 0.3},
		{"alpha 1.5", &objectives.APO{Alpha: 1.5, Beta: 0.1, Form: "dpo"}, 1, 1.5},
	} {
		tr.obj = c.obj
		restore, err := tr.samplerWeights(c.stage)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		moved := 0
		for i, p := range ps {
			for j, v := range p.Data {
				cur, old := float64(trained[i][j]), float64(prev[i].Data[j])
				want := cur + c.alpha*(cur-old)
				if math.Abs(float64(v)-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("%s: %s[%d] = %v, want %v + %v*(%v - %v) = %v", c.name, p.Name, j, v, cur, c.alpha, cur, old, want)
				}
				if float64(v) != cur {
					moved++
				}
			}
		}
		if (c.alpha > 0) != (moved > 0) {
			t.Errorf("%s: %d weights moved", c.name, moved)
		}
		restore()
		same(c.name + ", restored")
	}
	// Without the previous stage's weights the extrapolation fails rather than guessing.
	tr.obj = &objectives.APO{Alpha: 0.3, Beta: 0.1, Form: "dpo"}
	if _, err := tr.samplerWeights(2); err == nil {
		t.Error("stage 3 without stage-2/start-weights.bin: no error")
	}
}
