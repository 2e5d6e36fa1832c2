package pairs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/alignkit/align/data/curate"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/runtime"
)

// fakeBackend answers deterministically from its inputs. After cancelAfter calls (when > 0) it
// cancels the run's context, as a kill would stop it mid-stage.
type fakeBackend struct {
	gen, single, pair atomic.Int64
	cancelAfter       int64
	cancel            context.CancelFunc
	calls             atomic.Int64
	mu                sync.Mutex
	seen              map[string]int // generate requests by (model, prompt, seed)
	invalid           bool           // every grade fails to parse
}

func (f *fakeBackend) tick() {
	if n := f.calls.Add(1); f.cancelAfter > 0 && n == f.cancelAfter && f.cancel != nil {
		f.cancel()
	}
}

func (f *fakeBackend) Capacity() int { return 3 }

func (f *fakeBackend) Generate(ctx context.Context, req runtime.GenerateRequest) (runtime.GenerateResult, error) {
	if ctx.Err() != nil {
		return runtime.GenerateResult{}, ctx.Err()
	}
	f.tick()
	f.gen.Add(1)
	prompt := req.Prompt
	if len(req.Messages) > 0 {
		prompt = req.Messages[0].Content
	}
	f.mu.Lock()
	if f.seen == nil {
		f.seen = map[string]int{}
	}
	f.seen[fmt.Sprint(req.Model, prompt, req.Seed)]++
	f.mu.Unlock()
	res := runtime.GenerateResult{Model: req.Model, DoneReason: "stop", Seed: req.Seed}
	switch req.Seed % 7 {
	case 0:
		res.Text = ""
	case 1:
		res.Text, res.DoneReason = "cut off in the middle of", "length"
	case 2:
		res.Text = strings.Repeat("over and over again ", 12)
	default:
		res.Text = fmt.Sprintf("%s answers %q with idea number %d, which is distinct enough.", req.Model, prompt, req.Seed)
	}
	return res, ctx.Err()
}

func fakeScore(s string, lo, hi int) (float64, bool) {
	h := curate.TextHash(s)
	if h%5 == 0 {
		return math.NaN(), false // an unparsable judge answer
	}
	return float64(lo + int(h%uint64(hi-lo+1))), true
}

func (f *fakeBackend) JudgeSingle(ctx context.Context, req runtime.SingleRequest) (runtime.Game, error) {
	if ctx.Err() != nil {
		return runtime.Game{}, ctx.Err()
	}
	f.tick()
	f.single.Add(1)
	if req.Template.Parser == runtime.ParserXSTest {
		label := []string{runtime.FullCompliance, runtime.FullRefusal, runtime.PartialRefusal, "gibberish"}[curate.TextHash(req.Response)%4]
		v := runtime.ParseXSTest(label)
		return runtime.Game{Verdict: v, Raws: []string{label}, Attempts: 1, Seed: req.Seed}, ctx.Err()
	}
	lo, hi := 1, 10
	if req.Template.Parser == runtime.ParserAdditive6 {
		lo, hi = 0, 6
	}
	s, ok := fakeScore(req.Response, lo, hi)
	ok = ok && !f.invalid
	raw := fmt.Sprintf("Rating: [[%g]]", s)
	return runtime.Game{Verdict: runtime.Verdict{Valid: ok, Score: s, Raw: raw, Preference: math.NaN()}, Raws: []string{raw}, Attempts: 1, Seed: req.Seed}, ctx.Err()
}

func (f *fakeBackend) JudgePair(ctx context.Context, req runtime.JudgeRequest) (runtime.Judgment, error) {
	if ctx.Err() != nil {
		return runtime.Judgment{}, ctx.Err()
	}
	f.tick()
	f.pair.Add(1)
	a, _ := fakeScore(req.Output1, 0, 9)
	b, _ := fakeScore(req.Output2, 0, 9)
	p := 1.5
	switch {
	case a > b:
		p = 1
	case b > a:
		p = 2
	}
	g := runtime.Game{Preference: p, Verdict: runtime.Verdict{Valid: true, Preference: p}, Raws: []string{"[[A]]"}}
	return runtime.Judgment{Games: []runtime.Game{g, g}, Preference: p, Valid: true}, ctx.Err()
}

func testPrompts(n int) []curate.Text {
	topics := []string{"volcanoes", "binary search", "sourdough bread", "the French revolution", "tides",
		"photosynthesis", "compound interest", "jazz harmony", "glaciers", "public key cryptography"}
	var ps []curate.Text
	for i := range n {
		ps = append(ps, curate.Text{ID: fmt.Sprintf("p%d", i), Text: fmt.Sprintf("Explain %s to a curious student, question %d.", topics[i%len(topics)], i)})
	}
	return ps
}

func baseConfig(dir, rubric string) Config {
	return Config{Prompts: testPrompts(6), Models: []string{"m1", "m2"}, Students: []string{"m1"}, K: 4, Seed: 1,
		Judge: "j", Rubric: rubric, Out: filepath.Join(dir, "ranked.parquet"), Pairs: filepath.Join(dir, "pairs.jsonl"),
		DedupPrompts: true, Work: filepath.Join(dir, "work")}
}

func countLines(t *testing.T, path string) (lines int, keys map[string]int) {
	t.Helper()
	keys = map[string]int{}
	_, err := runtime.ScanAppendLog(path, func(b []byte) error {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		k := fmt.Sprint(m["prompt_id"], m["model"], m["sample"], m["a"], m["b"])
		keys[k]++
		lines++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines, keys
}

func TestCurateEndToEndFake(t *testing.T) {
	for _, tc := range []struct{ rubric, tournament string }{
		{RubricUltraFeedback, ""}, {RubricDNO, ""}, {RubricPairwise, TournamentRoundRobin}, {RubricPairwise, TournamentKnockout},
	} {
		t.Run(tc.rubric+tc.tournament, func(t *testing.T) {
			dir := t.TempDir()
			cfg := baseConfig(dir, tc.rubric)
			cfg.Tournament = tc.tournament
			var progress []Progress
			var pmu sync.Mutex
			cfg.Progress = func(p Progress) { pmu.Lock(); progress = append(progress, p); pmu.Unlock() }
			fb := &fakeBackend{}
			sum, err := Curate(context.Background(), fb, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if fb.gen.Load() != 6*2*4 || sum.Samples != 48 || sum.SamplesNew != 48 {
				t.Errorf("generate calls %d, summary samples %d new %d; want 48", fb.gen.Load(), sum.Samples, sum.SamplesNew)
			}
			if f := sum.Filters; f.Total != 48 || f.Dropped[ReasonEmpty] == 0 || f.Dropped[ReasonTruncated] == 0 || f.AutoNegative+f.Dropped[ReasonDuplicate] == 0 {
				t.Errorf("filter counts %+v", f)
			}
			rows, err := curate.ReadRanked(cfg.Out)
			if err != nil {
				t.Fatal(err)
			}
			// A prompt left with fewer than two scored responses is counted and left out.
			if len(rows)+sum.PromptsUnranked != 6 || sum.RankedRows != len(rows) {
				t.Fatalf("%d ranked rows and %d unranked prompts, want 6 in all", len(rows), sum.PromptsUnranked)
			}
			n := 0
			for _, r := range rows {
				n += len(r.Responses) + len(r.Filtered)
				for i := 1; i < len(r.Responses); i++ {
					if r.Responses[i].Score > r.Responses[i-1].Score {
						t.Errorf("row %s not sorted by score", r.ID)
					}
				}
				for _, x := range r.Responses {
					if x.Seed == 0 || x.Model == "" || (!x.AutoNegative && x.JudgeRaw == "" && tc.rubric != RubricPairwise) {
						t.Errorf("row %s response lacks seed, model or judge text: %+v", r.ID, x)
					}
				}
			}
			if n > 8*len(rows) || n < 48-8*sum.PromptsUnranked {
				t.Errorf("ranked rows hold %d responses, want all 8 of each of the %d rows", n, len(rows))
			}
			for _, r := range rows {
				if len(r.Responses) < 2 {
					t.Errorf("row %s has %d scored responses", r.ID, len(r.Responses))
				}
			}
			// The ranked Parquet reads through the data package as ranked data: prompt, responses
			// with score and model, best first. (Rows with fewer than two scored responses are
			// row-level issues there, not fatal.)
			checkDataReadsRanked(t, cfg.Out, rows)
			if sum.JudgeCalls == 0 || (tc.rubric != RubricPairwise && sum.JudgeInvalid == 0) {
				t.Errorf("judge calls %d invalid %d", sum.JudgeCalls, sum.JudgeInvalid)
			}
			if len(progress) == 0 || progress[len(progress)-1].Stage != "judging" || progress[len(progress)-1].PromptsDone != 6 {
				t.Errorf("progress did not end with all prompts judged: %v", progress[len(progress)-1])
			}
			for _, f := range []string{"report.json", "report.html", "samples.jsonl", "judgments.jsonl", "meta.json"} {
				if _, err := os.Stat(filepath.Join(cfg.Work, f)); err != nil {
					t.Error(err)
				}
			}
			pairs, err := data.ReadPairs(cfg.Pairs, data.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(pairs) != sum.PairCount || len(pairs) == 0 {
				t.Errorf("%d pairs on disk, summary says %d", len(pairs), sum.PairCount)
			}
			for _, p := range pairs {
				if *p.ScoreChosen <= *p.ScoreRejected {
					t.Errorf("pair %s: chosen score %g not above rejected %g", p.ID, *p.ScoreChosen, *p.ScoreRejected)
				}
			}

			// The ranked output reads back as prompts (--exclude of a later run).
			if ts, err := curate.ReadTexts(cfg.Out); err != nil || len(ts) != len(rows) || ts[0].ID != rows[0].ID {
				t.Errorf("ranked output as prompts: %d, %v", len(ts), err)
			}
			// A rerun asks for nothing and writes the same output.
			before, _ := os.ReadFile(cfg.Out)
			fb2 := &fakeBackend{}
			sum2, err := Curate(context.Background(), fb2, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if fb2.calls.Load() != 0 || sum2.SamplesNew != 0 || sum2.JudgeNew != 0 {
				t.Errorf("rerun made %d calls", fb2.calls.Load())
			}
			after, _ := os.ReadFile(cfg.Out)
			if string(before) != string(after) {
				t.Error("rerun changed the ranked output")
			}
			// Other settings in the same work folder are refused.
			cfg.K = 5
			if _, err := Curate(context.Background(), &fakeBackend{}, cfg); err == nil || !strings.Contains(err.Error(), "other settings") {
				t.Errorf("changed settings accepted: %v", err)
			}
		})
	}
}

// TestCurateResume kills (cancels) the run after N backend calls, during sampling and during
// judging, reruns to the end, and checks that every sample and judgment is in the logs exactly
// once and the output equals an uninterrupted run's.
func TestCurateResume(t *testing.T) {
	ref := t.TempDir()
	refCfg := baseConfig(ref, RubricDNO)
	if _, err := Curate(context.Background(), &fakeBackend{}, refCfg); err != nil {
		t.Fatal(err)
	}
	want, err := curate.ReadRanked(refCfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	// 48 samples, then judge calls: stop at 10 and 30 (sampling), 55 and 60 (judging).
	for _, stops := range [][]int64{{10, 30}, {55}, {20, 60}} {
		t.Run(fmt.Sprint(stops), func(t *testing.T) {
			dir := t.TempDir()
			cfg := baseConfig(dir, RubricDNO)
			total := int64(0)
			for _, stop := range stops {
				ctx, cancel := context.WithCancel(context.Background())
				fb := &fakeBackend{cancelAfter: stop - total, cancel: cancel}
				_, err := Curate(ctx, fb, cfg)
				cancel()
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("stopped run: err %v, want context.Canceled", err)
				}
				total += fb.calls.Load()
				if _, err := os.Stat(cfg.Out); err == nil {
					t.Fatal("an interrupted run wrote the output")
				}
			}
			fb := &fakeBackend{}
			sum, err := Curate(context.Background(), fb, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if sum.SamplesNew == 48 && stops[0] > 10 {
				t.Error("the rerun sampled everything again")
			}
			n, keys := countLines(t, filepath.Join(cfg.Work, "samples.jsonl"))
			if n != 48 || len(keys) != 48 {
				t.Errorf("samples log: %d lines, %d keys; want 48 each", n, len(keys))
			}
			n, keys = countLines(t, filepath.Join(cfg.Work, "judgments.jsonl"))
			if n != sum.JudgeCalls || len(keys) != n {
				t.Errorf("judgments log: %d lines, %d keys, %d judge calls", n, len(keys), sum.JudgeCalls)
			}
			got, err := curate.ReadRanked(cfg.Out)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(want)
			if string(a) != string(b) {
				t.Error("resumed output differs from an uninterrupted run's")
			}
		})
	}
}

func checkDataReadsRanked(t *testing.T, path string, rows []curate.RankedRow) {
	t.Helper()
	r, err := data.Open(path, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	byID := map[string]curate.RankedRow{}
	for _, row := range rows {
		byID[row.ID] = row
	}
	good := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if data.IsFatal(err) {
				t.Fatal(err)
			}
			continue
		}
		if rec.Ranked == nil {
			t.Fatalf("data reads %s as %+v, not ranked", path, rec)
		}
		row := byID[rec.Ranked.ID]
		if len(rec.Ranked.Responses) != len(row.Responses) {
			t.Errorf("row %s: data reads %d responses, curate wrote %d", row.ID, len(rec.Ranked.Responses), len(row.Responses))
			continue
		}
		for i, x := range rec.Ranked.Responses {
			if x.Score != row.Responses[i].Score || x.Model != row.Responses[i].Model {
				t.Errorf("row %s response %d: data reads %v/%s, curate wrote %v/%s", row.ID, i, x.Score, x.Model, row.Responses[i].Score, row.Responses[i].Model)
			}
		}
		good++
	}
	if good == 0 {
		t.Error("data read no ranked record of the output")
	}
}

// TestCurateUnusableFails: a judge whose every grade is invalid, or filters that leave no
// prompt two responses, make the run fail with the cause named and no ranked file written.
func TestCurateUnusableFails(t *testing.T) {
	dir := t.TempDir()
	cfg := baseConfig(dir, RubricUltraFeedback)
	_, err := Curate(context.Background(), &fakeBackend{invalid: true}, cfg)
	if err == nil || !strings.Contains(err.Error(), "did not parse") {
		t.Fatalf("all-invalid judge: %v", err)
	}
	if _, serr := os.Stat(cfg.Out); serr == nil {
		t.Error("a ranked file was written")
	}
	if _, serr := os.Stat(filepath.Join(cfg.Work, "report.json")); serr != nil {
		t.Error("no report of the failed run")
	}
	dir = t.TempDir()
	cfg = baseConfig(dir, RubricUltraFeedback)
	cfg.Filters.MinChars = 1 << 20
	_, err = Curate(context.Background(), &fakeBackend{}, cfg)
	if err == nil || !strings.Contains(err.Error(), "no prompt has two scored responses") {
		t.Fatalf("everything filtered: %v", err)
	}
}
