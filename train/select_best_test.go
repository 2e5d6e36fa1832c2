package train

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alignkit/align/assets"
	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
)

// selectFixture is a trainer with just what online.select_best uses: the quickstart recipe
// with select_best on, a LoRA policy and the frozen base (stories260K), 8 prompts of which the
// last 4 are held out, and the rule judge.
func selectFixture(t *testing.T) *trainer {
	t.Helper()
	r := load(t, "quickstart", "online.select_best=true", "eval.held_out=4", "eval.samples=1", "online.sampling.max_tokens=16")
	dir := t.TempDir()
	gguf, err := assets.Path("stories260K.gguf", filepath.Join(dir, "assets"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := model.Load(gguf, model.LoadOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	pol, err := model.Load(gguf, model.LoadOptions{Threads: 1, LoRA: &model.LoRAConfig{Rank: r.LoraR, Alpha: float32(r.LoraAlpha), Targets: r.LoraTargetModules, Seed: r.Seed}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pol.Close() })
	openings := []string{"Once upon a time", "The little dog", "One day, Lily", "Tom had a red ball",
		"The sun was hot", "A bird sat on", "Mia went to the park", "There was a big tree"}
	recs := &Records{Kind: "prompts"}
	for _, o := range openings {
		recs.Prompts = append(recs.Prompts, []data.Message{{Role: "user", Content: o}})
	}
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	return &trainer{r: r, dir: run, policy: pol, base: base, recs: recs, prog: NewProgress(nil, 0, "", true),
		enc: &encoder{m: pol, maxPrompt: r.MaxPromptLength, maxLength: r.MaxLength}}
}

// mkStage makes a stage's folder, as preparing the stage does.
func mkStage(t *testing.T, tr *trainer, stage int) {
	t.Helper()
	if err := os.MkdirAll(tr.stageDir(stage), 0o755); err != nil {
		t.Fatal(err)
	}
}

// writeSelect records a stage's held-out win rate as an earlier selectIterate would have.
func writeSelect(t *testing.T, tr *trainer, stage int, winRate float64) {
	t.Helper()
	mkStage(t, tr, stage)
	b, _ := json.Marshal(map[string]any{"stage": stage + 1, "win_rate": winRate, "games": 4})
	if err := os.WriteFile(filepath.Join(tr.stageDir(stage), "select.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type selected struct {
	Stage   int     `json:"stage"`
	WinRate float64 `json:"win_rate"`
	Games   int     `json:"games"`
}

func readSelected(t *testing.T, path string) (selected, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return selected{}, false
	}
	var s selected
	if err != nil || json.Unmarshal(b, &s) != nil {
		t.Fatalf("%s: %v %s", path, err, b)
	}
	return s, true
}

// TestSelectBestPick: online.select_best keeps the iterate with the highest held-out win rate
// over all earlier iterations. The policy here equals the base (LoRA starts at zero), so at the
// same seeds both sample the same text and every game is a tie: the win rate is exactly 0.5,
// known without the code under test. Against earlier iterates at 0.8 then 0.2 it must not be
// kept (the best is 0.8, not the latest); against 0.3 then 0.45 it must.
func TestSelectBestPick(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		earlier []float64
		keep    bool
	}{
		{[]float64{0.8, 0.2}, false},
		{[]float64{0.2, 0.8}, false},
		{[]float64{0.3, 0.45}, true},
		{[]float64{0.5}, false}, // a tie keeps the earlier iterate
		{nil, true},             // the first iterate is the best so far
	} {
		tr := selectFixture(t)
		for j, w := range tc.earlier {
			writeSelect(t, tr, j, w)
		}
		stage := len(tc.earlier)
		mkStage(t, tr, stage)
		if err := tr.selectIterate(ctx, stage); err != nil {
			t.Fatal(err)
		}
		got, ok := readSelected(t, filepath.Join(tr.stageDir(stage), "select.json"))
		if !ok || got.WinRate != 0.5 || got.Games != 4 || got.Stage != stage+1 {
			t.Fatalf("earlier %v: select.json %+v (present %v), want stage %d, win rate 0.5 over 4 games", tc.earlier, got, ok, stage+1)
		}
		best, kept := readSelected(t, filepath.Join(tr.dir, "best-iterate.json"))
		_, werr := os.Stat(filepath.Join(tr.dir, "best-weights.bin"))
		if kept != tc.keep || (werr == nil) != tc.keep {
			t.Fatalf("earlier %v, current 0.5: best-iterate.json %v, best-weights.bin %v; want kept = %v", tc.earlier, kept, werr == nil, tc.keep)
		}
		if kept && (best.Stage != stage+1 || best.WinRate != 0.5) {
			t.Fatalf("earlier %v: best-iterate.json %+v, want stage %d at 0.5", tc.earlier, best, stage+1)
		}
	}
}

// ruleCompare is the quickstart's rule judge written again here (not pairs.RuleJudge): target
// words counted case-insensitively as whole words, then the length in words closer to target.
func ruleCompare(words []string, target int, a, b string) int {
	re := regexp.MustCompile(`[\p{L}']+`)
	score := func(s string) (int, int) {
		toks := re.FindAllString(strings.ToLower(s), -1)
		n := 0
		for _, tok := range toks {
			for _, w := range words {
				if tok == strings.ToLower(w) {
					n++
				}
			}
		}
		d := len(toks) - target
		if d < 0 {
			d = -d
		}
		return n, d
	}
	na, da := score(a)
	nb, db := score(b)
	switch {
	case na != nb:
		if na > nb {
			return 1
		}
		return -1
	case da != db:
		if da < db {
			return 1
		}
		return -1
	}
	return 0
}

// TestSelectBestWinRateAndRestore: with a perturbed policy, the recorded win rate is the
// policy's games against the base at the documented seeds (win 1, tie ½, loss 0), recomputed
// here with an independent rule judge; best-weights.bin holds the selected iterate, and
// useBestIterate puts exactly those weights back into the policy.
func TestSelectBestWinRateAndRestore(t *testing.T) {
	ctx := context.Background()
	tr := selectFixture(t)
	tr.r.Eval.Samples = 2
	rng := rand.New(rand.NewPCG(7, 11))
	for _, p := range tr.policy.Params() {
		for i := range p.Data {
			p.Data[i] += float32(rng.NormFloat64() * 0.5)
		}
	}
	selectedW := cloneParams(tr.policy.Params())
	_, held := tr.splitPrompts()
	if len(held) != 4 {
		t.Fatalf("%d held-out prompts, want 4", len(held))
	}
	tr.policy.SetTraining(false)
	want, games, decided := 0.0, 0, 0
	j := tr.r.Online.Judge
	for i, p := range held {
		for s := 0; s < 2; s++ {
			seed := seedFor(tr.r.Seed, 9, i, s)
			a, err := tr.sampleText(ctx, tr.policy, p, seed)
			if err != nil {
				t.Fatal(err)
			}
			b, err := tr.sampleText(ctx, tr.base, p, seed)
			if err != nil {
				t.Fatal(err)
			}
			c := ruleCompare(j.Words, j.TargetLength, a, b)
			want += float64(c+1) / 2
			games++
			if c != 0 {
				decided++
			}
		}
	}
	want /= float64(games)
	if decided == 0 {
		t.Fatal("every game is a tie: the perturbation did not change the policy's samples")
	}
	writeSelect(t, tr, 0, want-0.01) // an earlier iterate just below: this one is kept
	mkStage(t, tr, 1)
	if err := tr.selectIterate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	got, _ := readSelected(t, filepath.Join(tr.stageDir(1), "select.json"))
	if math.Abs(got.WinRate-want) > 1e-12 || got.Games != 8 {
		t.Fatalf("select.json %+v, want win rate %g over 8 games (%d decided)", got, want, decided)
	}
	best, ok := readSelected(t, filepath.Join(tr.dir, "best-iterate.json"))
	if !ok || best.Stage != 2 {
		t.Fatalf("best-iterate.json %+v (present %v), want stage 2", best, ok)
	}
	// A later stage trains on: the policy moves away; the run ends with the selected weights.
	for _, p := range tr.policy.Params() {
		for i := range p.Data {
			p.Data[i] = 0
		}
	}
	if err := tr.useBestIterate(); err != nil {
		t.Fatal(err)
	}
	for k, p := range tr.policy.Params() {
		if !slices.Equal(p.Data, selectedW[k]) {
			t.Fatalf("param %d: useBestIterate did not restore the selected iterate's weights", k)
		}
	}
	// A resumed run does not measure a stage again (select.json is kept as it is).
	var buf bytes.Buffer
	if b, err := os.ReadFile(filepath.Join(tr.stageDir(1), "select.json")); err == nil {
		buf.Write(b)
	}
	if err := tr.selectIterate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(tr.stageDir(1), "select.json")); !bytes.Equal(b, buf.Bytes()) {
		t.Fatal("select.json changed on a second call for the same stage")
	}
}
