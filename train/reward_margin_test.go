package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
)

// TestRewardLossUsesMarginAndCentring: the first step's logged loss of a reward run is TRL's
// loss on the run's own rewards, written out here in float64: mean(−log σ(r_c − r_r − m)) +
// coef·mean((r_c + r_r)²), with each pair's margin column m. The rewards are read back from the
// run's reward model; learning rate 1e-12 keeps the weights those of step 1 to float32
// precision. A loop that dropped the margins, or the centring term, or swapped chosen and
// rejected, gives another number.
func TestRewardLossUsesMarginAndCentring(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "pairs.jsonl")
	rows := []struct {
		p, c, r string
		m       float64
	}{
		{"Tom had a ball.", "He was happy with his friends.", "He sat.", 1.5},
		{"Lily saw a cat.", "They played and laughed.", "The cat ran.", -0.75},
		{"The sun was hot.", "They had fun in the park.", "It was hot.", 0.25},
		{"Sam was sad.", "His friend gave him a smile.", "He cried.", 3},
	}
	var lines []string
	for _, x := range rows {
		lines = append(lines, `{"prompt":`+strconv.Quote(x.p)+`,"chosen":`+strconv.Quote(x.c)+`,"rejected":`+strconv.Quote(x.r)+`,"margin":`+strconv.FormatFloat(x.m, 'g', -1, 64)+`}`)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const coef = 0.3
	dir := filepath.Join(base, "rm")
	run(t, load(t, "reward", "dataset.path="+path, "eval.held_out=0", "per_device_train_batch_size=4", "max_steps=1",
		"learning_rate=1e-12", "logging_steps=1", "max_length=64", "max_prompt_length=24",
		"objective.params.center_rewards_coefficient="+strconv.FormatFloat(coef, 'g', -1, 64)), dir)
	ms, err := ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil || len(ms) == 0 {
		t.Fatalf("metrics: %v", err)
	}
	logged := ms[0].Values["loss"]

	rm, err := OpenRewardModel(context.Background(), dir, RewardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	var want, noMargin, noCentre float64
	for _, x := range rows {
		s, err := rm.enc.encode([]data.Message{{Role: "user", Content: x.p}}, []data.Message{{Role: "assistant", Content: x.c}})
		if err != nil {
			t.Fatal(err)
		}
		u, err := rm.enc.encode([]data.Message{{Role: "user", Content: x.p}}, []data.Message{{Role: "assistant", Content: x.r}})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := rm.m.Rewards([]model.Sequence{s, u}, rm.head)
		if err != nil {
			t.Fatal(err)
		}
		rc, rr := float64(rs[0]), float64(rs[1])
		nll := func(m float64) float64 { return math.Log1p(math.Exp(-(rc - rr - m))) }
		want += (nll(x.m) + coef*(rc+rr)*(rc+rr)) / 4
		noMargin += (nll(0) + coef*(rc+rr)*(rc+rr)) / 4
		noCentre += nll(x.m) / 4
	}
	t.Logf("logged loss %.9g; TRL's %.9g (without margins %.9g, without centring %.9g)", logged, want, noMargin, noCentre)
	if math.Abs(logged-want) > 1e-5*(1+math.Abs(want)) {
		t.Errorf("step 1 loss %.9g, TRL's loss on the run's rewards is %.9g", logged, want)
	}
	if math.Abs(want-noMargin) < 1e-3 || math.Abs(want-noCentre) < 1e-3 {
		t.Fatalf("the test cannot tell: %g vs %g vs %g", want, noMargin, noCentre)
	}
}
