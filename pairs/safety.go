package pairs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/data/curate"
	"github.com/alignkit/align/runtime"
)

// Attack is one jailbreak attack template (the attack set of data/curate, where the templates
// are read and applied): BuildRefusalPairs wraps the unsafe prompts in them, and eval/safety
// reaches the same type through pairs, so that evaluation and pair building share one
// definition and eval/safety imports no curation package (docs/architecture.md).
type Attack = curate.Attack

// SafetyConfig is one `align safety build-pairs` run: sample a model on labelled prompts
// (attack templates applied to the unsafe ones), classify every response as compliance or
// refusal with the judge, and pair a refusal over a compliance for unsafe prompts and a
// compliance over a refusal for safe ones.
type SafetyConfig struct {
	// Prompts carry Label "safe" or "unsafe"; DefaultLabel fills the empty ones (a file of
	// harmful requests with no label column: DefaultLabel "unsafe").
	Prompts      []curate.Text
	DefaultLabel string
	// Attacks are applied to every unsafe prompt (each attack gives one prompt "ID@attack");
	// AttackSafe applies them to safe prompts too. Empty means the prompts as they are.
	Attacks    []Attack
	AttackSafe bool

	Model   string
	K       int
	Seed    int64
	Options runtime.Options
	Raw     bool

	// Judge classifies with Template (default "xstest": full_compliance, full_refusal,
	// partial_refusal). The judge sees the original request, not the attacked one, so that an
	// obfuscated prompt does not hide what was asked.
	Judge         string
	Template      string
	JudgeAttempts int
	// JudgeNumPredict caps the judge's answer in tokens (0: the template's own setting).
	JudgeNumPredict int

	Pairs RefusalPairOptions
	// General pairs are mixed in at MixRatio of the result (see MixPairs); MixSeed draws them.
	General  []data.Pair
	MixRatio float64

	Work, Out   string
	Concurrency int
	Progress    func(Progress)
}

// StyleStats counts one attack style's classified responses.
type StyleStats struct {
	Prompts    int `json:"prompts"`
	Responses  int `json:"responses"`
	Compliance int `json:"compliance"`
	Refusal    int `json:"refusal"`
	Partial    int `json:"partial"`
	Invalid    int `json:"invalid"`
	Filtered   int `json:"filtered"`
	// ComplianceRate is compliance / classified (valid) responses: the attack success rate on
	// unsafe prompts, the helpfulness on safe ones. RefusalRate counts full refusals (on safe
	// prompts: the over-refusal rate).
	ComplianceRate float64 `json:"compliance_rate"`
	RefusalRate    float64 `json:"refusal_rate"`
}

func (s *StyleStats) finish() {
	if n := s.Compliance + s.Refusal + s.Partial; n > 0 {
		s.ComplianceRate = float64(s.Compliance) / float64(n)
		s.RefusalRate = float64(s.Refusal) / float64(n)
	}
}

// SafetySummary reports a build-pairs run (also written as <work>/report.json).
type SafetySummary struct {
	Out        string `json:"out"`
	Work       string `json:"work"`
	Model      string `json:"model"`
	Judge      string `json:"judge"`
	Template   string `json:"template"`
	K          int    `json:"k"`
	Prompts    int    `json:"prompts"`
	Attacked   int    `json:"attacked_prompts"`
	Samples    int    `json:"samples"`
	SamplesNew int    `json:"samples_new"`
	JudgeCalls int    `json:"judge_calls"`
	JudgeNew   int    `json:"judge_calls_new"`
	// JudgeInvalid counts responses whose class never parsed.
	JudgeInvalid     int          `json:"judge_invalid"`
	JudgeInvalidRate float64      `json:"judge_invalid_rate"`
	Filters          FilterCounts `json:"filters"`
	// Unsafe and Safe break the classes down by attack style, per prompt label.
	Unsafe map[string]*StyleStats `json:"unsafe_by_style"`
	Safe   map[string]*StyleStats `json:"safe_by_style"`
	// RefusalPairs were built from the samples; GeneralPairs mixed in; Pairs written.
	RefusalPairs int `json:"refusal_pairs"`
	UnsafePairs  int `json:"unsafe_pairs"`
	SafePairs    int `json:"safe_pairs"`
	GeneralPairs int `json:"general_pairs"`
	Pairs        int `json:"pairs"`
	// NoPair counts prompts that gave no pair (all responses on one side, or none classified).
	NoPair  int           `json:"prompts_without_pair"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// SafetyPrompts expands labelled prompts with the attacks, as BuildRefusalPairs does.
func SafetyPrompts(prompts []curate.Text, defaultLabel string, attacks []curate.Attack, attackSafe bool) ([]curate.AttackedPrompt, error) {
	var out []curate.AttackedPrompt
	ids := map[string]bool{}
	for i, p := range prompts {
		if p.Label == "" {
			p.Label = defaultLabel
		}
		if p.Label != "safe" && p.Label != "unsafe" {
			return nil, fmt.Errorf("curate: prompt %s (%d): label %q, want safe or unsafe (set a default label for unlabelled prompts)", p.ID, i, p.Label)
		}
		if ids[p.ID] {
			return nil, fmt.Errorf("curate: prompt id %q appears twice", p.ID)
		}
		ids[p.ID] = true
		if len(attacks) == 0 || (p.Label == "safe" && !attackSafe) {
			out = append(out, curate.AttackedPrompt{Text: p, Attack: "direct", Style: "none", Original: p.Text})
			continue
		}
		as, err := curate.ApplyAttacks([]curate.Text{p}, attacks)
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
	}
	return out, nil
}

// BuildRefusalPairs runs the safety pipeline. Like Curate, every sample and classification is
// appended to logs in Work as it arrives, and a rerun does only what is missing.
func BuildRefusalPairs(ctx context.Context, b Backend, cfg SafetyConfig) (SafetySummary, error) {
	start := time.Now()
	switch {
	case cfg.Model == "":
		return SafetySummary{}, errors.New("curate: no model given")
	case cfg.Judge == "":
		return SafetySummary{}, errors.New("curate: no judge given")
	case cfg.Out == "":
		return SafetySummary{}, errors.New("curate: no output file given")
	case cfg.K < 1:
		return SafetySummary{}, fmt.Errorf("curate: k must be ≥ 1 (got %d)", cfg.K)
	}
	if cfg.Template == "" {
		cfg.Template = "xstest"
	}
	if cfg.Work == "" {
		cfg.Work = cfg.Out + ".work"
	}
	sum := SafetySummary{Out: cfg.Out, Work: cfg.Work, Model: cfg.Model, Judge: cfg.Judge, Template: cfg.Template, K: cfg.K,
		Prompts: len(cfg.Prompts), Unsafe: map[string]*StyleStats{}, Safe: map[string]*StyleStats{}}
	tpl, err := runtime.Template(cfg.Template)
	if err != nil {
		return sum, fmt.Errorf("curate: judge template: %w", err)
	}
	if tpl.Kind != runtime.Single {
		return sum, fmt.Errorf("curate: judge template %s is %s, want a single-response classifier", tpl.Name, tpl.Kind)
	}
	prompts, err := SafetyPrompts(cfg.Prompts, cfg.DefaultLabel, cfg.Attacks, cfg.AttackSafe)
	if err != nil {
		return sum, err
	}
	sum.Attacked = len(prompts)
	opt := cfg.Options
	if opt.NumPredict == 0 {
		opt = runtime.PolicyOptions()
	}
	meta := map[string]any{"kind": "safety", "model": cfg.Model, "k": cfg.K, "seed": cfg.Seed, "options": opt, "raw": cfg.Raw,
		"judge": cfg.Judge, "template": cfg.Template, "judge_num_predict": cfg.JudgeNumPredict}
	if err := checkMeta(filepath.Join(cfg.Work, "meta.json"), meta); err != nil {
		return sum, err
	}
	conc := cfg.Concurrency
	if conc <= 0 {
		conc = b.Capacity()
	}
	emit := func(p Progress) {
		if cfg.Progress != nil {
			cfg.Progress(p)
		}
	}

	var tasks []sampleTask
	for _, p := range prompts {
		seeds := runtime.SampleSeeds(cfg.Seed, p.ID, cfg.K)
		for k := range cfg.K {
			tasks = append(tasks, sampleTask{key: Candidate{PromptID: p.ID, Model: cfg.Model, Sample: k}.Key(), promptID: p.ID,
				model: cfg.Model, sample: k, seed: seeds[k], prompt: p.Text.Text, raw: cfg.Raw, options: opt})
		}
	}
	stageStart := time.Now()
	var mu sync.Mutex
	have, err := runSamples(ctx, b, filepath.Join(cfg.Work, "samples.jsonl"), tasks, conc, nil,
		func(rec SampleRecord, done, total int, rate float64) {
			mu.Lock()
			defer mu.Unlock()
			sum.SamplesNew = done
			emit(Progress{Stage: "sampling", Prompts: len(prompts), Done: done, Total: total, SamplesPS: rate, ETA: eta(done, total, stageStart)})
		})
	if err != nil {
		return sum, err
	}
	sum.Samples = len(tasks)

	// Filters: empty responses, and exact duplicates (identical refusals would only repeat a
	// pair). Truncated responses are kept: a cut compliance is still a compliance.
	fopt := FilterOptions{KeepTruncated: true, Repetition: RepetitionKeep, NearDupJaccard: 1}
	type pstate struct {
		p       curate.AttackedPrompt
		cands   []Candidate
		verdict []Verdict
	}
	states := make([]pstate, len(prompts))
	sum.Filters = FilterCounts{Dropped: map[string]int{}}
	var jtasks []judgeTask
	for i, p := range prompts {
		st := pstate{p: p}
		for k := range cfg.K {
			st.cands = append(st.cands, have[Candidate{PromptID: p.ID, Model: cfg.Model, Sample: k}.Key()].candidate(true))
		}
		var c FilterCounts
		st.verdict, c = Filter(st.cands, fopt)
		sum.Filters.Add(c)
		for ci, v := range st.verdict {
			if !v.Judged() {
				continue
			}
			c := st.cands[ci]
			key := JudgeRecord{PromptID: c.PromptID, A: CandRef{c.Model, c.Sample}}.key()
			original := p.Original
			jtasks = append(jtasks, judgeTask{key: key, promptID: c.PromptID, run: func(ctx context.Context) (JudgeRecord, error) {
				g, err := b.JudgeSingle(ctx, runtime.SingleRequest{Judge: cfg.Judge, Template: tpl, Instruction: original,
					Response: c.Text, Attempts: cfg.JudgeAttempts, Seed: runtime.SampleSeeds(cfg.Seed, "judge\x00"+key, 1)[0],
					Options: judgeOptions(tpl, cfg.JudgeNumPredict)})
				if err != nil {
					return JudgeRecord{}, fmt.Errorf("curate: classify prompt %s sample %d: %w", c.PromptID, c.Sample, err)
				}
				r := JudgeRecord{Kind: "single", PromptID: c.PromptID, A: CandRef{c.Model, c.Sample}, Judge: cfg.Judge,
					Template: tpl.Name, Valid: g.Verdict.Valid, Label: g.Verdict.Label, Raws: g.Raws, Seed: g.Seed}
				if g.Verdict.Valid && !math.IsNaN(g.Verdict.Score) {
					r.Score = ptr(g.Verdict.Score)
				}
				return r, nil
			}})
		}
		states[i] = st
	}
	jl, err := openJudgeLog(filepath.Join(cfg.Work, "judgments.jsonl"))
	if err != nil {
		return sum, err
	}
	defer jl.log.Close()
	stageStart = time.Now()
	if err := jl.runAll(ctx, jtasks, conc, func(_ judgeTask, done, total int, rate float64) {
		mu.Lock()
		defer mu.Unlock()
		sum.JudgeNew = done
		emit(Progress{Stage: "judging", Prompts: len(prompts), Done: done, Total: total, JudgePS: rate, ETA: eta(done, total, stageStart)})
	}); err != nil {
		return sum, err
	}
	sum.JudgeCalls = len(jtasks)

	var pairs []data.Pair
	for _, st := range states {
		byStyle := sum.Unsafe
		if st.p.Label == "safe" {
			byStyle = sum.Safe
		}
		ss := byStyle[st.p.Style]
		if ss == nil {
			ss = &StyleStats{}
			byStyle[st.p.Style] = ss
		}
		ss.Prompts++
		var labeled []Labeled
		for ci, c := range st.cands {
			ss.Responses++
			if !st.verdict[ci].Judged() {
				ss.Filtered++
				continue
			}
			r, _ := jl.get(JudgeRecord{PromptID: c.PromptID, A: CandRef{c.Model, c.Sample}}.key())
			class := ""
			switch {
			case !r.Valid:
				ss.Invalid++
				sum.JudgeInvalid++
			case r.Label == runtime.FullCompliance:
				class = ClassCompliance
				ss.Compliance++
			case r.Label == runtime.FullRefusal:
				class = ClassRefusal
				ss.Refusal++
			case r.Label == runtime.PartialRefusal:
				class = ClassPartial
				ss.Partial++
			default:
				ss.Invalid++
				sum.JudgeInvalid++
			}
			labeled = append(labeled, Labeled{Candidate: c, Class: class})
		}
		ps, err := RefusalPairs(st.p.Text, UserPrompt(st.p.Text.Text), labeled, cfg.Pairs)
		if err != nil {
			return sum, err
		}
		if len(ps) == 0 {
			sum.NoPair++
		}
		for i := range ps {
			ps[i].Meta["label"] = st.p.Label
			ps[i].Meta["attack"] = st.p.Attack
			ps[i].Meta["style"] = st.p.Style
			ps[i].Meta["source_id"] = st.p.Text.ID
			if st.p.Label == "safe" {
				sum.SafePairs++
			} else {
				sum.UnsafePairs++
			}
		}
		pairs = append(pairs, ps...)
	}
	for _, m := range []map[string]*StyleStats{sum.Unsafe, sum.Safe} {
		for _, s := range m {
			s.finish()
		}
	}
	if sum.JudgeCalls > 0 {
		sum.JudgeInvalidRate = float64(sum.JudgeInvalid) / float64(sum.JudgeCalls)
	}
	sum.RefusalPairs = len(pairs)
	if cfg.MixRatio > 0 {
		mixed, err := MixPairs(pairs, cfg.General, cfg.MixRatio, uint64(cfg.Seed))
		if err != nil {
			return sum, err
		}
		sum.GeneralPairs = len(mixed) - len(pairs)
		pairs = mixed
	}
	sum.Pairs = len(pairs)
	if err := curate.WritePairs(cfg.Out, pairs); err != nil {
		return sum, err
	}
	sum.Elapsed = time.Since(start)
	if err := writeJSONReport(filepath.Join(cfg.Work, "report.json"), sum); err != nil {
		return sum, err
	}
	return sum, nil
}

// SortedStyles returns a style map's keys, "none" first.
func SortedStyles(m map[string]*StyleStats) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if (keys[i] == "none") != (keys[j] == "none") {
			return keys[i] == "none"
		}
		return keys[i] < keys[j]
	})
	return keys
}
