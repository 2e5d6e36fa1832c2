package pairs

import (
	"context"
	"errors"
	"fmt"
	"github.com/alignkit/align/data/curate"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/runtime"
)

// Rubrics of `align data curate`.
const (
	// RubricUltraFeedback rates each response 1–10 (MT-Bench's single-v1 prompt, [[rating]]).
	RubricUltraFeedback = "ultrafeedback"
	// RubricDNO scores each response on the 6-point additive rubric (0–6).
	RubricDNO = "dno"
	// RubricPairwise compares responses two at a time, both orders (a round robin or a
	// knockout tournament); a response's score is its win share or the rounds it won.
	RubricPairwise = "pairwise"
)

// Tournament formats of the pairwise rubric.
const (
	TournamentRoundRobin = "round-robin"
	TournamentKnockout   = "knockout"
)

// DefaultJudgeTemplate is the runtime judge template of each rubric.
func DefaultJudgeTemplate(rubric string) string {
	switch rubric {
	case RubricUltraFeedback:
		return "mt-bench/single-v1"
	case RubricDNO:
		return "dno-additive6"
	case RubricPairwise:
		return "mt-bench/pair-v2"
	}
	return ""
}

// Config is one `align data curate` run.
type Config struct {
	// Prompts to sample for (IDs unique).
	Prompts []curate.Text
	// Models sample K responses each; Students names those whose samples are DNO student
	// samples (the looser 1-point margin); the others are teachers.
	Models   []string
	Students []string
	K        int
	// Seed is the base of every sampling and judge seed (runtime.SampleSeeds).
	Seed    int64
	Options runtime.Options
	// Raw sends the prompt text without the model's chat template.
	Raw bool

	Judge string
	// Reward, when set, is the judge instead of an Ollama model (--judge rm:RUN): Judge becomes
	// its name, the rubric ultrafeedback grades each response with its reward (MinMargin is
	// then in reward units) and pairwise compares with σ(r_2 − r_1). The dno rubric is refused:
	// the DNO rule's thresholds are points of its 6-point rubric, which rewards do not have.
	Reward     *RewardJudge
	Rubric     string
	Template   string // judge template; empty means DefaultJudgeTemplate(Rubric)
	Tournament string // pairwise only: round-robin (default) or knockout
	// JudgeAttempts bounds the tries of a judge call whose answer does not parse (0 → 3).
	JudgeAttempts int
	// Structured constrains each judge answer to the template's verdict with Ollama's structured
	// outputs (runtime.StructuredFormat), so a small judge answers parseably.
	Structured bool
	// JudgeNumPredict, when > 0, caps the judge's answer in tokens (the templates' own
	// settings allow 512–2048, which a small local judge may fill with rambling).
	JudgeNumPredict int

	Filters FilterOptions

	// DedupPrompts drops exact and near-duplicate prompts; Exclude drops prompts that match
	// these texts (earlier runs' prompts); Eval reports prompts that match an evaluation set,
	// and DropContaminated drops them. Contamination sets the n-gram test of all three.
	DedupPrompts     bool
	Exclude          []curate.Text
	Eval             []curate.Text
	DropContaminated bool
	Contamination    curate.ContaminationOptions

	// Work is the folder of the logs (samples.jsonl, judgments.jsonl, meta.json) and the
	// report; Out the ranked file (.parquet or .jsonl); Pairs the optional pairs file.
	Work, Out, Pairs string
	// PairMode (ultrafeedback and pairwise rubrics), MinMargin and DNO shape the pairs.
	PairMode  string
	MinMargin float64
	DNO       DNORule

	// Concurrency bounds requests in flight; 0 means the backend's capacity.
	Concurrency int
	// Progress, when set, receives a snapshot after every sample and judgment.
	Progress func(Progress)
}

// Progress is a snapshot of a run.
type Progress struct {
	Stage       string        `json:"stage"` // "sampling" or "judging"
	Prompts     int           `json:"prompts"`
	PromptsDone int           `json:"prompts_done"` // prompts sampled (sampling) or judged (judging)
	Done        int           `json:"done"`         // calls of this stage done in this run
	Total       int           `json:"total"`        // calls of this stage to do in this run
	SamplesPS   float64       `json:"samples_per_s"`
	JudgePS     float64       `json:"judge_calls_per_s"`
	ETA         time.Duration `json:"eta_ns"` // of the current stage
}

// String is the progress line.
func (p Progress) String() string {
	eta := "?"
	if p.ETA > 0 || p.Done == p.Total {
		eta = p.ETA.Round(time.Second).String()
	}
	return fmt.Sprintf("%s: prompts %d/%d, calls %d/%d, %.2f samples/s, %.2f judge calls/s, ETA %s",
		p.Stage, p.PromptsDone, p.Prompts, p.Done, p.Total, p.SamplesPS, p.JudgePS, eta)
}

func (c *Config) validate() error {
	if c.Reward != nil {
		if c.Rubric == RubricDNO {
			return fmt.Errorf("curate: judge %s is a reward model: the dno rubric's rule counts points of its 6-point rubric, which rewards do not have; use --rubric ultrafeedback (the reward as each response's score) or pairwise", c.Reward.Name())
		}
		c.Judge, c.Template = c.Reward.Name(), RewardTemplate
	}
	switch {
	case len(c.Models) == 0:
		return errors.New("curate: no models given")
	case c.K < 1:
		return fmt.Errorf("curate: k must be ≥ 1 (got %d)", c.K)
	case c.Judge == "":
		return errors.New("curate: no judge model given")
	case c.Out == "":
		return errors.New("curate: no output file given")
	}
	switch c.Rubric {
	case RubricUltraFeedback, RubricDNO, RubricPairwise:
	default:
		return fmt.Errorf("curate: rubric %q: want ultrafeedback, dno or pairwise", c.Rubric)
	}
	if c.Tournament == "" {
		c.Tournament = TournamentRoundRobin
	}
	if c.Tournament != TournamentRoundRobin && c.Tournament != TournamentKnockout {
		return fmt.Errorf("curate: tournament %q: want round-robin or knockout", c.Tournament)
	}
	if c.Template == "" {
		c.Template = DefaultJudgeTemplate(c.Rubric)
	}
	if c.DNO == (DNORule{}) {
		c.DNO = PaperDNORule()
	}
	if c.Work == "" {
		c.Work = c.Out + ".work"
	}
	seen := map[string]bool{}
	for _, m := range c.Models {
		if seen[m] {
			return fmt.Errorf("curate: model %q listed twice", m)
		}
		seen[m] = true
	}
	for _, s := range c.Students {
		if !seen[s] {
			return fmt.Errorf("curate: student %q is not among the models %v", s, c.Models)
		}
	}
	return c.Filters.Validate()
}

// Summary is the result of a run, also written as report.json.
type Summary struct {
	Out      string   `json:"out"`
	Pairs    string   `json:"pairs,omitempty"`
	Work     string   `json:"work"`
	Rubric   string   `json:"rubric"`
	Judge    string   `json:"judge"`
	Template string   `json:"template"`
	Models   []string `json:"models"`
	K        int      `json:"k"`

	PromptsIn int `json:"prompts_in"`
	Prompts   int `json:"prompts"`
	// PromptsRemoved lists prompts left out as duplicates, excluded or contaminated.
	PromptsRemoved []curate.ContaminationHit   `json:"prompts_removed"`
	Contamination  *curate.ContaminationReport `json:"contamination,omitempty"`

	Samples        int                     `json:"samples"`
	SamplesNew     int                     `json:"samples_new"`
	Filters        FilterCounts            `json:"filters"`
	FiltersByModel map[string]FilterCounts `json:"filters_by_model"`

	JudgeCalls       int     `json:"judge_calls"`
	JudgeNew         int     `json:"judge_calls_new"`
	JudgeInvalid     int     `json:"judge_invalid"`
	JudgeInvalidRate float64 `json:"judge_invalid_rate"`

	Scores     map[string]ScoreStats `json:"scores_by_model"`
	RankedRows int                   `json:"ranked_rows"`
	// PromptsUnranked counts prompts left with fewer than two scored responses (filters and
	// invalid judgments took the rest): they are not in the ranked file.
	PromptsUnranked int           `json:"prompts_unranked"`
	PairCount       int           `json:"pair_count"`
	Elapsed         time.Duration `json:"elapsed_ns"`
}

// ScoreStats describes one model's scores.
type ScoreStats struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	// Histogram counts scores by value, rounded to the nearest integer ("3") for ratings and
	// rubric points, by tenth ("0.5") for pairwise win shares.
	Histogram map[string]int `json:"histogram"`
}

type promptState struct {
	text    curate.Text
	cands   []Candidate
	verdict []Verdict
	scored  []Scored
	raws    [][]string
	invalid []bool
}

// Curate runs sampling, filters, judging and output. Every sample and judgment is appended to
// the logs in Work as it arrives; a rerun with the same settings asks only for what is missing
// and writes the same outputs, each row once.
func Curate(ctx context.Context, b Backend, cfg Config) (Summary, error) {
	start := time.Now()
	if err := cfg.validate(); err != nil {
		return Summary{}, err
	}
	sum := Summary{Out: cfg.Out, Pairs: cfg.Pairs, Work: cfg.Work, Rubric: cfg.Rubric, Judge: cfg.Judge,
		Template: cfg.Template, Models: cfg.Models, K: cfg.K, PromptsIn: len(cfg.Prompts)}
	wantKind := runtime.Single
	if cfg.Rubric == RubricPairwise {
		wantKind = runtime.Pairwise
	}
	tpl := runtime.JudgeTemplate{Name: RewardTemplate, Kind: wantKind}
	var err error
	if cfg.Reward != nil {
		b = rewardBackend{Backend: b, j: cfg.Reward}
	} else if tpl, err = runtime.Template(cfg.Template); err != nil {
		return sum, fmt.Errorf("curate: judge template: %w", err)
	}
	if tpl.Kind != wantKind {
		return sum, fmt.Errorf("curate: judge template %s is %s; rubric %s needs a %s template", tpl.Name, tpl.Kind, cfg.Rubric, wantKind)
	}

	prompts, removed, contam, err := curate.SelectPrompts(cfg.Prompts, cfg.DedupPrompts, cfg.Exclude, cfg.Eval, cfg.DropContaminated, cfg.Contamination)
	if err != nil {
		return sum, err
	}
	sum.Prompts, sum.PromptsRemoved, sum.Contamination = len(prompts), removed, contam

	conc := cfg.Concurrency
	if conc <= 0 {
		conc = b.Capacity()
	}
	opt := cfg.Options
	if opt.NumPredict == 0 {
		opt = runtime.PolicyOptions()
	}
	meta := map[string]any{"kind": "curate", "models": cfg.Models, "k": cfg.K, "seed": cfg.Seed, "options": opt,
		"raw": cfg.Raw, "judge": cfg.Judge, "template": cfg.Template, "rubric": cfg.Rubric, "tournament": cfg.Tournament,
		"judge_num_predict": cfg.JudgeNumPredict, "structured": cfg.Structured}
	if err := checkMeta(filepath.Join(cfg.Work, "meta.json"), meta); err != nil {
		return sum, err
	}

	// Sampling.
	var tasks []sampleTask
	for _, p := range prompts {
		seeds := runtime.SampleSeeds(cfg.Seed, p.ID, cfg.K)
		for _, m := range cfg.Models {
			for k := range cfg.K {
				tasks = append(tasks, sampleTask{key: Candidate{PromptID: p.ID, Model: m, Sample: k}.Key(),
					promptID: p.ID, model: m, sample: k, seed: seeds[k], prompt: p.Text, raw: cfg.Raw, options: opt})
			}
		}
	}
	perPrompt := len(cfg.Models) * cfg.K
	emit := func(p Progress) {
		if cfg.Progress != nil {
			cfg.Progress(p)
		}
	}
	var pmu sync.Mutex
	perPromptDone := map[string]int{}
	promptsDone := 0
	stageStart := time.Now()
	have, err := runSamples(ctx, b, filepath.Join(cfg.Work, "samples.jsonl"), tasks, conc,
		func(old map[string]SampleRecord) {
			for _, r := range old {
				perPromptDone[r.PromptID]++
			}
			for _, n := range perPromptDone {
				if n >= perPrompt {
					promptsDone++
				}
			}
			sum.Samples = len(old)
		},
		func(rec SampleRecord, done, total int, rate float64) {
			pmu.Lock()
			defer pmu.Unlock()
			perPromptDone[rec.PromptID]++
			if perPromptDone[rec.PromptID] == perPrompt {
				promptsDone++
			}
			sum.SamplesNew = done
			emit(Progress{Stage: "sampling", Prompts: len(prompts), PromptsDone: promptsDone, Done: done, Total: total,
				SamplesPS: rate, ETA: eta(done, total, stageStart)})
		})
	if err != nil {
		return sum, err
	}
	sum.Samples = len(tasks)

	// Filters.
	students := map[string]bool{}
	for _, s := range cfg.Students {
		students[s] = true
	}
	states := make([]*promptState, len(prompts))
	sum.FiltersByModel = map[string]FilterCounts{}
	sum.Filters = FilterCounts{Dropped: map[string]int{}}
	for i, p := range prompts {
		st := &promptState{text: p}
		for _, m := range cfg.Models {
			for k := range cfg.K {
				st.cands = append(st.cands, have[Candidate{PromptID: p.ID, Model: m, Sample: k}.Key()].candidate(students[m]))
			}
		}
		var c FilterCounts
		st.verdict, c = Filter(st.cands, cfg.Filters)
		sum.Filters.Add(c)
		for ci, cand := range st.cands {
			mc := sum.FiltersByModel[cand.Model]
			one := FilterCounts{Total: 1, Dropped: map[string]int{}}
			v := st.verdict[ci]
			switch {
			case v.Reason != ReasonKept:
				one.Dropped[v.Reason] = 1
			case v.AutoNegative:
				one.AutoNegative = 1
			default:
				one.Judged = 1
			}
			mc.Add(one)
			sum.FiltersByModel[cand.Model] = mc
		}
		states[i] = st
	}

	// Judging.
	jl, err := openJudgeLog(filepath.Join(cfg.Work, "judgments.jsonl"))
	if err != nil {
		return sum, err
	}
	defer jl.log.Close()
	if err := judgeAll(ctx, b, jl, cfg, tpl, states, conc, emit, &sum); err != nil {
		return sum, err
	}

	// Outputs.
	rows, pairs, err := buildOutputs(cfg, states, jl, &sum)
	if err != nil {
		return sum, err
	}
	if err := usable(sum, len(rows)); err != nil {
		sum.Elapsed = time.Since(start)
		if rerr := WriteCurateReport(cfg.Work, sum); rerr != nil {
			return sum, errors.Join(err, rerr)
		}
		return sum, err
	}
	if err := curate.WriteRanked(cfg.Out, rows); err != nil {
		return sum, err
	}
	sum.RankedRows = len(rows)
	if cfg.Pairs != "" {
		if err := curate.WritePairs(cfg.Pairs, pairs); err != nil {
			return sum, err
		}
	}
	sum.PairCount = len(pairs)
	sum.Elapsed = time.Since(start)
	if err := WriteCurateReport(cfg.Work, sum); err != nil {
		return sum, err
	}
	return sum, nil
}

func eta(done, total int, start time.Time) time.Duration {
	if done <= 0 {
		return 0
	}
	el := time.Since(start)
	return time.Duration(float64(el) / float64(done) * float64(total-done))
}

func (c Config) judgeSeed(key string) int64 {
	return runtime.SampleSeeds(c.Seed, "judge\x00"+key, 1)[0]
}

// judgeAll asks the judge for everything the rubric needs and fills each prompt's scores.
func judgeAll(ctx context.Context, b Backend, jl *judgeLog, cfg Config, tpl runtime.JudgeTemplate,
	states []*promptState, conc int, emit func(Progress), sum *Summary) error {
	stageStart := time.Now()
	pending := map[string]int{}
	promptsDone := 0
	var mu sync.Mutex
	knockout := cfg.Rubric == RubricPairwise && cfg.Tournament == TournamentKnockout
	onDone := func(t judgeTask, done, total int, rate float64) {
		mu.Lock()
		defer mu.Unlock()
		if !knockout {
			pending[t.promptID]--
			if pending[t.promptID] == 0 {
				promptsDone++
			}
		}
		sum.JudgeNew = done
		emit(Progress{Stage: "judging", Prompts: len(states), PromptsDone: promptsDone, Done: done, Total: total,
			JudgePS: rate, ETA: eta(done, total, stageStart)})
	}
	single := func(st *promptState, i int) judgeTask {
		c := st.cands[i]
		key := JudgeRecord{PromptID: c.PromptID, A: CandRef{c.Model, c.Sample}}.key()
		return judgeTask{key: key, promptID: c.PromptID, run: func(ctx context.Context) (JudgeRecord, error) {
			g, err := b.JudgeSingle(ctx, runtime.SingleRequest{Judge: cfg.Judge, Template: tpl, Instruction: st.text.Text,
				Response: c.Text, Attempts: cfg.JudgeAttempts, Seed: cfg.judgeSeed(key), Options: judgeOptions(tpl, cfg.JudgeNumPredict), Structured: cfg.Structured})
			if err != nil {
				return JudgeRecord{}, fmt.Errorf("curate: judge prompt %s %s/%d: %w", c.PromptID, c.Model, c.Sample, err)
			}
			r := JudgeRecord{Kind: "single", PromptID: c.PromptID, A: CandRef{c.Model, c.Sample}, Judge: cfg.Judge,
				Template: tpl.Name, Valid: g.Verdict.Valid, Label: g.Verdict.Label, Raws: g.Raws, Seed: g.Seed}
			if g.Verdict.Valid && !math.IsNaN(g.Verdict.Score) {
				r.Score = ptr(g.Verdict.Score)
			} else {
				r.Valid = false
			}
			return r, nil
		}}
	}
	pair := func(st *promptState, i, j int) judgeTask {
		a, c := st.cands[i], st.cands[j]
		key := JudgeRecord{PromptID: a.PromptID, A: CandRef{a.Model, a.Sample}, B: &CandRef{c.Model, c.Sample}}.key()
		return judgeTask{key: key, promptID: a.PromptID, run: func(ctx context.Context) (JudgeRecord, error) {
			jg, err := b.JudgePair(ctx, runtime.JudgeRequest{Judge: cfg.Judge, Template: tpl, Instruction: st.text.Text,
				Output1: a.Text, Output2: c.Text, Attempts: cfg.JudgeAttempts, Seed: cfg.judgeSeed(key), Options: judgeOptions(tpl, cfg.JudgeNumPredict), Structured: cfg.Structured})
			if err != nil {
				return JudgeRecord{}, fmt.Errorf("curate: judge prompt %s %s/%d vs %s/%d: %w", a.PromptID, a.Model, a.Sample, c.Model, c.Sample, err)
			}
			r := JudgeRecord{Kind: "pair", PromptID: a.PromptID, A: CandRef{a.Model, a.Sample}, B: &CandRef{c.Model, c.Sample},
				Judge: cfg.Judge, Template: tpl.Name, Valid: jg.Valid}
			for _, g := range jg.Games {
				r.Raws = append(r.Raws, g.Raws...)
				r.Seed = g.Seed
			}
			if jg.Valid && !math.IsNaN(jg.Preference) {
				r.Preference = ptr(jg.Preference)
			} else {
				r.Valid = false
			}
			return r, nil
		}}
	}
	judged := func(st *promptState) []int {
		var idx []int
		for i, v := range st.verdict {
			if v.Judged() {
				idx = append(idx, i)
			}
		}
		return idx
	}

	if !knockout {
		var tasks []judgeTask
		for _, st := range states {
			idx := judged(st)
			if cfg.Rubric != RubricPairwise {
				for _, i := range idx {
					tasks = append(tasks, single(st, i))
				}
				continue
			}
			for x := range idx {
				for y := x + 1; y < len(idx); y++ {
					tasks = append(tasks, pair(st, idx[x], idx[y]))
				}
			}
		}
		for _, t := range tasks {
			if _, ok := jl.get(t.key); !ok {
				pending[t.promptID]++
			}
		}
		promptsDone = len(states) - len(pending)
		if err := jl.runAll(ctx, tasks, conc, onDone); err != nil {
			return err
		}
		sum.JudgeCalls = len(tasks)
		for _, t := range tasks {
			if r, _ := jl.get(t.key); !r.Valid {
				sum.JudgeInvalid++
			}
		}
		for _, st := range states {
			scoreState(cfg, st, jl, judged(st), nil)
		}
	} else {
		// Knockout: one prompt at a time per worker, matches in bracket order, each from the log
		// when an earlier run judged it. The call total is an upper bound (n−1 per prompt,
		// cached matches included).
		var cmu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(max(conc, 1))
		cnt := &counter{start: time.Now()}
		for _, st := range states {
			cnt.total += max(len(judged(st))-1, 0)
		}
		for _, st := range states {
			g.Go(func() error {
				idx := judged(st)
				scores, err := KnockoutScores(len(idx), func(x, y int) (float64, error) {
					t := pair(st, idx[x], idx[y])
					r, err := jl.do(gctx, t, func() {
						d, n, rate := cnt.add()
						onDone(t, d, n, rate)
					})
					if err != nil {
						return 0, err
					}
					cmu.Lock()
					sum.JudgeCalls++
					if !r.Valid {
						sum.JudgeInvalid++
					}
					cmu.Unlock()
					return val(r.Preference), nil
				})
				if err != nil {
					return err
				}
				scoreState(cfg, st, jl, idx, scores)
				mu.Lock()
				promptsDone++
				cnt.mu.Lock()
				d, n := cnt.done, cnt.total
				cnt.mu.Unlock()
				emit(Progress{Stage: "judging", Prompts: len(states), PromptsDone: promptsDone, Done: d, Total: n,
					JudgePS: float64(d) / time.Since(stageStart).Seconds(), ETA: eta(d, n, stageStart)})
				mu.Unlock()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	if sum.JudgeCalls > 0 {
		sum.JudgeInvalidRate = float64(sum.JudgeInvalid) / float64(sum.JudgeCalls)
	}
	return nil
}

// judgeOptions returns the template's sampling settings with num_predict capped at n, or nil
// (the template's own) when n ≤ 0.
func judgeOptions(t runtime.JudgeTemplate, n int) *runtime.Options {
	if n <= 0 {
		return nil
	}
	o := t.Options
	o.NumPredict = n
	return &o
}

// rubricMin is the score given to automatic negatives.
func rubricMin(rubric string) float64 {
	if rubric == RubricUltraFeedback {
		return 1
	}
	return 0
}

// scoreState turns a prompt's judgments into scores. knockout holds the knockout scores of the
// judged candidates idx (nil for the other formats).
func scoreState(cfg Config, st *promptState, jl *judgeLog, idx []int, knockout []float64) {
	n := len(st.cands)
	st.scored = make([]Scored, n)
	st.raws = make([][]string, n)
	st.invalid = make([]bool, n)
	for i, c := range st.cands {
		st.scored[i] = Scored{Candidate: c, Score: math.NaN()}
		if st.verdict[i].AutoNegative {
			st.scored[i].Score, st.scored[i].Valid, st.scored[i].AutoNegative = rubricMin(cfg.Rubric), true, true
		}
	}
	ref := func(i int) CandRef { return CandRef{st.cands[i].Model, st.cands[i].Sample} }
	if cfg.Rubric != RubricPairwise {
		for _, i := range idx {
			r, _ := jl.get(JudgeRecord{PromptID: st.text.ID, A: ref(i)}.key())
			st.raws[i] = r.Raws
			if r.Valid {
				st.scored[i].Score, st.scored[i].Valid = *r.Score, true
			} else {
				st.invalid[i] = true
			}
		}
		return
	}
	if len(idx) == 1 {
		// A lone judged candidate has nobody to play: it wins by default.
		st.scored[idx[0]].Score, st.scored[idx[0]].Valid = 1, true
		return
	}
	// Collect each candidate's games.
	for x := range idx {
		for y := x + 1; y < len(idx); y++ {
			rb := ref(idx[y])
			r, ok := jl.get(JudgeRecord{PromptID: st.text.ID, A: ref(idx[x]), B: &rb}.key())
			if !ok {
				continue
			}
			for _, side := range []int{x, y} {
				other := idx[x+y-side]
				st.raws[idx[side]] = append(st.raws[idx[side]],
					fmt.Sprintf("[vs %s/%d] %s", st.cands[other].Model, st.cands[other].Sample, strings.Join(r.Raws, "\n---\n")))
			}
		}
	}
	if knockout != nil {
		for x, i := range idx {
			st.scored[i].Score, st.scored[i].Valid = knockout[x], true
		}
		return
	}
	scores, _, _ := RoundRobin(len(idx), func(x, y int) (float64, error) {
		rb := ref(idx[y])
		r, _ := jl.get(JudgeRecord{PromptID: st.text.ID, A: ref(idx[x]), B: &rb}.key())
		return val(r.Preference), nil
	})
	for x, i := range idx {
		if math.IsNaN(scores[x]) {
			st.invalid[i] = true
			continue
		}
		st.scored[i].Score, st.scored[i].Valid = scores[x], true
	}
}

// buildOutputs makes the ranked rows and the pairs, and the score statistics.
func buildOutputs(cfg Config, states []*promptState, jl *judgeLog, sum *Summary) ([]curate.RankedRow, []data.Pair, error) {
	var rows []curate.RankedRow
	var pairs []data.Pair
	byModel := map[string][]float64{}
	for _, st := range states {
		row := curate.RankedRow{ID: st.text.ID, Prompt: UserPrompt(st.text.Text), Rubric: cfg.Rubric, Judge: cfg.Judge,
			Responses: []curate.RankedResponse{}, Filtered: []curate.FilteredResponse{}}
		for i, c := range st.cands {
			v := st.verdict[i]
			raw := strings.Join(st.raws[i], "\n---\n")
			switch {
			case v.Reason != ReasonKept:
				row.Filtered = append(row.Filtered, curate.FilteredResponse{Messages: curate.Assistant(c.Text), Model: c.Model, Seed: c.Seed,
					Sample: int32(c.Sample), Reason: v.Reason, DoneReason: c.DoneReason})
			case st.invalid[i]:
				row.Filtered = append(row.Filtered, curate.FilteredResponse{Messages: curate.Assistant(c.Text), Model: c.Model, Seed: c.Seed,
					Sample: int32(c.Sample), Reason: "judge_invalid", DoneReason: c.DoneReason, JudgeRaw: raw})
			case st.scored[i].Valid:
				s := st.scored[i]
				row.Responses = append(row.Responses, curate.RankedResponse{Messages: curate.Assistant(c.Text), Score: s.Score, Model: c.Model,
					Seed: c.Seed, Sample: int32(c.Sample), JudgeRaw: raw, AutoNegative: s.AutoNegative,
					Student: c.Student, DoneReason: c.DoneReason})
				byModel[c.Model] = append(byModel[c.Model], s.Score)
			}
		}
		sort.SliceStable(row.Responses, func(a, b int) bool { return row.Responses[a].Score > row.Responses[b].Score })
		if len(row.Responses) < 2 {
			sum.PromptsUnranked++ // nothing to rank: `align data convert` would refuse the row
		} else {
			rows = append(rows, row)
		}

		prompt := UserPrompt(st.text.Text)
		var ps []data.Pair
		var err error
		if cfg.Rubric == RubricDNO {
			ps = ScoredDNOPairs(st.text.ID, prompt, st.scored, cfg.DNO)
		} else {
			ps, err = RatedPairs(st.text.ID, prompt, st.scored, RatedPairOptions{Mode: cfg.PairMode, MinMargin: cfg.MinMargin, Seed: uint64(cfg.Seed)})
			if err != nil {
				return nil, nil, err
			}
		}
		pairs = append(pairs, ps...)
	}
	sum.Scores = map[string]ScoreStats{}
	for _, m := range cfg.Models {
		sum.Scores[m] = scoreStats(byModel[m], cfg.Rubric == RubricPairwise && cfg.Tournament == TournamentRoundRobin)
	}
	return rows, pairs, nil
}

func scoreStats(xs []float64, tenths bool) ScoreStats {
	st := ScoreStats{N: len(xs), Histogram: map[string]int{}}
	if len(xs) == 0 {
		return st
	}
	st.Min, st.Max = xs[0], xs[0]
	for _, x := range xs {
		st.Mean += x
		st.Min, st.Max = min(st.Min, x), max(st.Max, x)
		if tenths {
			st.Histogram[fmt.Sprintf("%.1f", math.Round(x*10)/10)]++
		} else {
			st.Histogram[fmt.Sprintf("%d", int(math.Round(x)))]++
		}
	}
	st.Mean /= float64(len(xs))
	return st
}

// usable says why a run's outputs must not be used: no prompt kept two scored responses, or
// more than half of the judgments did not parse (the judge does not follow the template, and
// what did parse is not to be trusted).
func usable(sum Summary, rows int) error {
	if sum.JudgeCalls > 0 && 2*sum.JudgeInvalid > sum.JudgeCalls {
		return fmt.Errorf("curate: %d of %d judgments (%.0f%%) did not parse: the judge %s does not answer in %s's format; try --judge-attempts, a larger judge, or structured outputs; nothing was written to %s (see %s)",
			sum.JudgeInvalid, sum.JudgeCalls, 100*sum.JudgeInvalidRate, sum.Judge, sum.Template, sum.Out, filepath.Join(sum.Work, "report.json"))
	}
	if rows == 0 {
		return fmt.Errorf("curate: no prompt has two scored responses (%d prompts: %d filtered or unscored down to fewer than two; %d of %d judgments invalid); nothing was written to %s (see %s)",
			sum.Prompts, sum.PromptsUnranked, sum.JudgeInvalid, sum.JudgeCalls, sum.Out, filepath.Join(sum.Work, "report.json"))
	}
	return nil
}
