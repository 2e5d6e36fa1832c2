package train

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/assets"
	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/pairs"
	"github.com/alignkit/align/recipes"
)

// quickstartRule is recipes/quickstart.yaml's rule judge, written out independently of the
// recipe: the oracle the reward model must learn.
var quickstartRule = pairs.RuleJudge{Words: []string{"happy", "smiled", "smile", "friends", "friend", "laughed", "fun", "love"}, TargetLength: 40}

// TestRewardQuickstart trains the reward-quickstart recipe as shipped and checks, against the
// rule judge itself (not the dataset's labels), that the reward model orders >= 90% of the
// held-out pairs as the rule does; then the run's metrics, its export (GGUF with the head,
// read back and scored with the engine) and its use as a judge.
func TestRewardQuickstart(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "rm")
	r := load(t, "reward-quickstart")
	res := run(t, r, dir)
	t.Logf("held-out accuracy %.4f over %d pairs, margin %.3f, %d steps, %.1fs", res.RewardAccuracy, res.HeldOutPairs, res.RewardMargin, res.Steps, res.TrainSeconds)
	if res.RewardAccuracy < 0.9 || res.HeldOutPairs < 1000 {
		t.Fatalf("held-out accuracy %.3f over %d pairs, want >= 0.90 over > 1000", res.RewardAccuracy, res.HeldOutPairs)
	}

	// The asset is the quickstart's rule-labelled pairs: the rule prefers every chosen.
	path, err := assets.Path("stories_rm_pairs.jsonl.gz", filepath.Join(base, "assets"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := data.ReadPairs(path, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if c := quickstartRule.Compare(p.Chosen[0].Content, p.Rejected[0].Content); c != 1 {
			t.Fatalf("pair %s: the rule judge says %d, not chosen", p.ID, c)
		}
	}
	_, held, err := splitRewardPairs(ps, r.Eval.HeldOut, r.Seed)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := OpenRewardModel(context.Background(), dir, RewardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	agree := 0
	var chosen, rejected []float64
	for _, p := range held {
		instr := p.Prompt[len(p.Prompt)-1].Content
		a, b := p.Chosen[0].Content, p.Rejected[0].Content
		rs, err := rm.Rewards(context.Background(), instr, []string{b, a}) // order must not matter
		if err != nil {
			t.Fatal(err)
		}
		chosen, rejected = append(chosen, rs[1]), append(rejected, rs[0])
		if pairs.RewardGame(rs[1], rs[0], -1) == quickstartRule.Compare(a, b) {
			agree++
		}
	}
	acc := float64(agree) / float64(len(held))
	if len(held) != res.HeldOutPairs || acc < 0.9 || math.Abs(acc-res.RewardAccuracy) > 2.0/float64(len(held)) {
		t.Errorf("served reward model agrees with the rule on %.4f of %d held-out pairs; the run reported %.4f of %d", acc, len(held), res.RewardAccuracy, res.HeldOutPairs)
	}

	t.Run("metrics", func(t *testing.T) {
		ms, err := ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
		if err != nil || len(ms) == 0 {
			t.Fatal(err)
		}
		last := ms[len(ms)-1].Values
		for _, k := range []string{"loss", "accuracy", "margin", "rewards/chosen", "rewards/rejected"} {
			if _, ok := last[k]; !ok {
				t.Errorf("metrics lack TRL's %q: %v", k, last)
			}
		}
		if d := last["margin"] - (last["rewards/chosen"] - last["rewards/rejected"]); math.Abs(d) > 1e-9 {
			t.Errorf("margin %g is not rewards/chosen - rewards/rejected (%g)", last["margin"], d)
		}
	})

	t.Run("export", func(t *testing.T) {
		f := filepath.Join(base, "rm.f32.gguf")
		if err := Export(context.Background(), dir, "gguf:"+f, ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		head, err := model.ReadRewardHead(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range rm.head.W.Data {
			if head.W.Data[i] != w {
				t.Fatalf("exported head[%d] = %g, the run's %g", i, head.W.Data[i], w)
			}
		}
		m, err := model.Load(f, model.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		var seqs []model.Sequence
		var want []float64
		for _, p := range held[:16] {
			s, err := rm.enc.encode(p.Prompt, p.Chosen)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := rm.Rewards(context.Background(), p.Prompt[len(p.Prompt)-1].Content, []string{p.Chosen[0].Content})
			if err != nil {
				t.Fatal(err)
			}
			seqs, want = append(seqs, s), append(want, rs[0])
		}
		got, err := m.Rewards(seqs, head)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(float64(got[i])-want[i]) > 1e-3*(1+math.Abs(want[i])) {
				t.Errorf("pair %d: exported GGUF's reward %g, the run's %g", i, got[i], want[i])
			}
		}
		// The runtime's Ollama path has no reward heads: clear error.
		if err := Export(context.Background(), dir, "ollama:rm-test", ExportOptions{}); err == nil || !strings.Contains(err.Error(), "reward") {
			t.Errorf("ollama export of a reward model: %v", err)
		}
	})

	t.Run("judge", func(t *testing.T) {
		// As a judge, through pairs: the game follows the rewards and the tie threshold.
		j, err := pairs.OpenRewardJudge(rm, 0, filepath.Join(base, "judgments.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		for i, p := range held[:32] {
			instr := p.Prompt[len(p.Prompt)-1].Content
			c, err := j.Play(context.Background(), instr, p.Chosen[0].Content, p.Rejected[0].Content, pairs.BracketScan)
			if err != nil {
				t.Fatal(err)
			}
			if want := pairs.RewardGame(chosen[i], rejected[i], pairs.DefaultRewardTie); c != want {
				t.Errorf("pair %d: game %d, rewards %g vs %g say %d", i, c, chosen[i], rejected[i], want)
			}
		}
	})
}

// TestRewardLoRAExportsPEFT trains a LoRA reward model for a few steps and checks the PEFT
// export: adapter_config.json is a SEQ_CLS adapter saving the score module, and
// adapter_model.safetensors holds base_model.model.score.weight, [1, hidden], the run's head.
func TestRewardLoRAExportsPEFT(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "rm")
	run(t, load(t, "reward", append(append([]string{}, small...), "dataset.max_samples=40", "eval.held_out=1", "max_steps=3", "lora_r=4")...), dir)
	rm, err := OpenRewardModel(context.Background(), dir, RewardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	out := filepath.Join(base, "peft")
	if err := Export(context.Background(), dir, "peft:"+out, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		TaskType      string   `json:"task_type"`
		ModulesToSave []string `json:"modules_to_save"`
		R             int      `json:"r"`
	}
	b, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.TaskType != "SEQ_CLS" || len(cfg.ModulesToSave) != 1 || cfg.ModulesToSave[0] != "score" || cfg.R != 4 {
		t.Fatalf("adapter_config %s (%v)", b, err)
	}
	st, err := os.ReadFile(filepath.Join(out, "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(st[:8])
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(st[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	var e struct {
		Dtype   string   `json:"dtype"`
		Shape   []int    `json:"shape"`
		Offsets [2]int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(hdr["base_model.model.score.weight"], &e); err != nil {
		t.Fatalf("no score.weight in %v: %v", keys(hdr), err)
	}
	D := len(rm.head.W.Data)
	if e.Dtype != "F32" || len(e.Shape) != 2 || e.Shape[0] != 1 || e.Shape[1] != D || e.Offsets[1]-e.Offsets[0] != int64(4*D) {
		t.Fatalf("score.weight %+v, want F32 [1, %d]", e, D)
	}
	raw := st[8+int64(n)+e.Offsets[0]:]
	for i, w := range rm.head.W.Data {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != w {
			t.Fatalf("score.weight[%d] = %g, the run's head %g", i, got, w)
		}
	}
	// An adapter GGUF has no place for the head.
	if err := Export(context.Background(), dir, "adapter:"+filepath.Join(base, "a.gguf"), ExportOptions{}); err == nil {
		t.Error("adapter export of a reward model accepted")
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Bad input: a dataset without rejected responses, a run without a head as a reward model (for
// align score --reward, --judge rm: and online.judge.kind: reward), a reward judge without a run.
func TestRewardBadInput(t *testing.T) {
	base := t.TempDir()
	noRej := filepath.Join(base, "norej.jsonl")
	if err := os.WriteFile(noRej, []byte(`{"prompt":"a","chosen":"b"}`+"\n"+`{"prompt":"c","chosen":"d"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	halfRej := filepath.Join(base, "half.jsonl")
	if err := os.WriteFile(halfRej, []byte(`{"prompt":"a","chosen":"b","rejected":"x"}`+"\n"+`{"prompt":"c","chosen":"d"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		sets []string
		want []string
	}{
		{[]string{"dataset.path=" + noRej, "dataset.format=auto"}, []string{"norej.jsonl", "rejected"}},
		{[]string{"dataset.path=" + noRej, "dataset.format=pairs"}, []string{"norej.jsonl", `"rejected"`}},
		{[]string{"dataset.path=" + halfRej, "eval.held_out=0"}, []string{"half.jsonl", "row 2", `"rejected"`}},
	} {
		_, err := Run(context.Background(), Options{Recipe: load(t, "reward", c.sets...), RunDir: filepath.Join(base, "r", string(rune('a'+i))), CacheDir: filepath.Join(base, "cache")})
		if err == nil {
			t.Errorf("%v: accepted", c.sets)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not say %s", c.sets, err, w)
			}
		}
	}

	dpo := filepath.Join(base, "dpo")
	run(t, load(t, "dpo", append(append([]string{}, small...), "max_steps=1")...), dpo)
	_, err := OpenRewardModel(context.Background(), dpo, RewardOptions{})
	if !errors.Is(err, ErrNoRewardHead) || !strings.Contains(err.Error(), "dpo") || !strings.Contains(err.Error(), "--recipe reward") {
		t.Errorf("a DPO run as a reward model: %v", err)
	}
	if _, err := OpenRewardModel(context.Background(), filepath.Join(base, "none"), RewardOptions{}); err == nil || !strings.Contains(err.Error(), "run directory") {
		t.Errorf("a missing run: %v", err)
	}
	// online.judge.kind: reward on the DPO run: the stage's judge fails, naming the run.
	r := load(t, "quickstart", append(append([]string{}, small...), "online.judge.kind=reward", "online.judge.run="+dpo, "eval.held_out=0")...)
	_, err = Run(context.Background(), Options{Recipe: r, RunDir: filepath.Join(base, "qs"), CacheDir: filepath.Join(base, "cache")})
	if !errors.Is(err, ErrNoRewardHead) || !strings.Contains(err.Error(), "online.judge") {
		t.Errorf("online.judge.run without a head: %v", err)
	}
	// A reward judge needs its run.
	if _, err := recipes.Load("quickstart", []string{"online.judge.kind=reward"}); err == nil || !strings.Contains(err.Error(), "online.judge.run") {
		t.Errorf("reward judge without run: %v", err)
	}
}
