package eval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/alignkit/align/pairs"
	"github.com/alignkit/align/runtime"
)

// templateAlias maps the names the CLI accepts to runtime's template names.
func templateAlias(name string) string {
	switch name {
	case "alpaca_eval", "alpaca-eval":
		return "alpaca_eval_clf"
	case "mt_bench_pair_v2", "mt-bench-pair-v2", "pair-v2":
		return "mt-bench/pair-v2"
	case "arena_hard":
		return "arena-hard"
	}
	return name
}

// JudgeTemplate resolves a template name (CLI alias or runtime name).
func JudgeTemplate(name string) (runtime.JudgeTemplate, error) {
	name = templateAlias(name)
	t, err := runtime.Template(name)
	if err != nil {
		return t, fmt.Errorf("eval: judge template %q: %w", name, err)
	}
	return t, nil
}

// WinRateOptions configure RunWinRate.
type WinRateOptions struct {
	// Model is the evaluated model (generator_2); its outputs are generated through Ollama and
	// cached in Out/outputs/.
	Model string
	// Baseline is the baseline model (generator_1), generated likewise. Alternatively
	// Reference holds the baseline's outputs (AlpacaEval model_outputs.json), matched to the
	// prompts by instruction; ReferenceName names it (default: the file's generator field).
	Baseline      string
	Reference     []PromptItem
	ReferenceName string
	Prompts       []PromptItem
	Judge         string
	// Reward, when set, is the judge instead of an Ollama model (--judge rm:RUN): each pair
	// gets preference 1 + σ(r_2 − r_1) (1.5 under its tie threshold) from the two outputs'
	// rewards, judged once (order does not matter), the rewards in the raw field; Judge and
	// Template become the reward model's name and "reward".
	Reward *pairs.RewardJudge
	// Template is the judge template (default alpaca_eval_clf, the AlpacaEval 2 logprob
	// judge). Logprob templates judge each pair once, in AlpacaEval's instruction-seeded
	// random order; the others judge both orders.
	Template string
	// Generation settings of the evaluated models (default: greedy, 512 tokens).
	GenOptions runtime.Options
	// JudgeOptions replace the template's published sampling settings when set.
	JudgeOptions *runtime.Options
	// JudgeAttempts bounds the tries of a judge answer that does not parse (runtime's
	// default, 3, when 0); after the last the judgment is recorded invalid.
	JudgeAttempts int
	Seed          int64
	// SwitchSeed is the annotator seed of AlpacaEval's order randomisation (default 123).
	SwitchSeed  int
	Out         string
	Concurrency int
	Stats       StatsOptions
	// Progress, when set, is told each stage's progress.
	Progress func(stage string, done, total int)
}

// WinRateResult is what RunWinRate did.
type WinRateResult struct {
	Report    *Report
	Judgments string
	Judged    int // judged in this run
	Existing  int // already in the judgments file
	Failed    int // judge calls that failed (transport); a rerun retries them
	Generated map[string]runtime.SampleSummary
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileName(model string) string { return unsafeName.ReplaceAllString(model, "_") }

// generateOutputs fills a model's outputs for every prompt, generating only the missing ones
// (cached in dir/outputs/<model>.jsonl through runtime.SampleJob, which resumes).
func generateOutputs(ctx context.Context, pool *runtime.Pool, model string, prompts []PromptItem, opt WinRateOptions) (map[string]string, runtime.SampleSummary, error) {
	out := filepath.Join(opt.Out, "outputs", fileName(model)+".jsonl")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, runtime.SampleSummary{}, fmt.Errorf("eval: outputs: %w", err)
	}
	job := runtime.SampleJob{Model: model, K: 1, Seed: opt.Seed, Options: opt.GenOptions, Out: out, Concurrency: opt.Concurrency}
	for _, p := range prompts {
		msgs := p.Messages // a multi-turn prompt: the model answers its last user turn
		if len(msgs) == 0 {
			msgs = []runtime.Message{{Role: "user", Content: p.Instruction}}
		}
		job.Prompts = append(job.Prompts, runtime.Prompt{ID: p.ID, Messages: msgs})
	}
	var progress func(done, total int)
	if opt.Progress != nil {
		progress = func(done, total int) { opt.Progress("generate "+model, done, total) }
	}
	sum, err := job.Run(ctx, pool, progress)
	if err != nil {
		return nil, sum, fmt.Errorf("eval: generate %s: %w", model, err)
	}
	rows, err := runtime.ReadSamples(out)
	if err != nil {
		return nil, sum, fmt.Errorf("eval: outputs of %s: %w", model, err)
	}
	m := map[string]string{}
	for _, r := range rows {
		if r.Sample == 0 {
			m[r.PromptID] = r.Response
		}
	}
	if sum.Failed > 0 {
		return m, sum, fmt.Errorf("eval: generate %s: %d of %d prompts failed (a rerun retries them): %s", model, sum.Failed, sum.Total, strings.Join(sum.Errors, "; "))
	}
	return m, sum, nil
}

// taskSeed derives a judge seed from a task's key, so that a rerun asks a missing game with
// the seed a full run would have used.
func taskSeed(key string) int64 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int64(h.Sum32() & 0x7fffffff)
}

// isLogprobTemplate says whether t is judged once per pair in AlpacaEval's random order.
func isLogprobTemplate(t runtime.JudgeTemplate) bool {
	return t.Parser == runtime.ParserLogprobMM || t.Parser == runtime.ParserLastCharMM
}

// RunWinRate generates what is missing, judges every pair that judgments.jsonl lacks, and
// computes the statistics of all judgments of (baseline, model, judge, template) in it. It
// writes Out/judgments.jsonl, Out/report.json and Out/report.html.
func RunWinRate(ctx context.Context, pool *runtime.Pool, opt WinRateOptions) (*WinRateResult, error) {
	if opt.Reward != nil {
		opt.Judge, opt.Template = opt.Reward.Name(), pairs.RewardTemplate
	}
	if opt.Model == "" || opt.Judge == "" || len(opt.Prompts) == 0 || opt.Out == "" {
		return nil, errors.New("eval: win rate needs a model, a judge, prompts and an output directory")
	}
	if opt.Template == "" {
		opt.Template = "alpaca_eval_clf"
	}
	if opt.SwitchSeed == 0 {
		opt.SwitchSeed = 123
	}
	if opt.GenOptions.NumPredict == 0 {
		opt.GenOptions = runtime.GreedyOptions(512)
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = max(1, pool.Capacity())
	}
	tpl, err := winRateTemplate(opt)
	if err != nil {
		return nil, err
	}
	if tpl.Kind != runtime.Pairwise {
		return nil, fmt.Errorf("eval: judge template %s is not pairwise", tpl.Name)
	}
	res := &WinRateResult{Generated: map[string]runtime.SampleSummary{}}

	// 1. outputs
	modelOut, sum, err := generateOutputs(ctx, pool, opt.Model, opt.Prompts, opt)
	res.Generated[opt.Model] = sum
	if err != nil {
		return res, err
	}
	baseName := opt.Baseline
	baseOut := map[string]string{}
	switch {
	case opt.Baseline != "":
		baseOut, sum, err = generateOutputs(ctx, pool, opt.Baseline, opt.Prompts, opt)
		res.Generated[opt.Baseline] = sum
		if err != nil {
			return res, err
		}
	case len(opt.Reference) > 0:
		byInstr := map[string]PromptItem{}
		for _, r := range opt.Reference {
			byInstr[r.Instruction] = r
		}
		baseName = opt.ReferenceName
		for _, p := range opt.Prompts {
			r, ok := byInstr[p.Instruction]
			if !ok || !r.HasOutput {
				return res, fmt.Errorf("eval: reference outputs lack instruction %q", truncate(p.Instruction, 80))
			}
			baseOut[p.ID] = r.Output
			if baseName == "" {
				baseName = r.Generator
			}
		}
		if baseName == "" {
			baseName = "reference"
		}
	default:
		return res, errors.New("eval: win rate needs --baseline or --reference-outputs")
	}

	// 2. judge what is missing
	path := filepath.Join(opt.Out, "judgments.jsonl")
	res.Judgments = path
	log, err := OpenJudgmentLog(path)
	if err != nil {
		return res, err
	}
	defer log.Close()
	type task struct {
		j       Judgment
		swapped bool
	}
	var tasks []task
	logprob := isLogprobTemplate(tpl)
	for _, p := range opt.Prompts {
		o2, ok := modelOut[p.ID]
		if !ok {
			continue
		}
		o1 := baseOut[p.ID]
		base := Judgment{Instruction: p.Instruction, Output1: o1, Output2: o2, Generator1: baseName, Generator2: opt.Model,
			Judge: opt.Judge, Template: tpl.Name, Dataset: p.Dataset, Preference: math.NaN()}
		s1, err := StyleOf(o1)
		if err != nil {
			return nil, err
		}
		s2, err := StyleOf(o2)
		if err != nil {
			return nil, err
		}
		base.Style1, base.Style2 = &s1, &s2
		orders := []bool{false, true}
		if logprob {
			orders = []bool{alpacaEvalIsSwitched(p.Instruction, opt.SwitchSeed)}
		}
		if opt.Reward != nil {
			orders = []bool{false}
		}
		for _, sw := range orders {
			j := base
			j.Swapped = sw
			if log.Has(j) {
				res.Existing++
				continue
			}
			tasks = append(tasks, task{j, sw})
		}
	}
	var mu sync.Mutex
	done := 0
	var failures []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Concurrency)
	if opt.Reward != nil {
		g.SetLimit(rewardConcurrency) // the reward model batches concurrent questions
	}
	for _, tk := range tasks {
		g.Go(func() error {
			j := tk.j
			shown1, shown2 := j.Output1, j.Output2
			if tk.swapped {
				shown1, shown2 = shown2, shown1
			}
			if opt.Reward != nil {
				return judgeReward(gctx, opt.Reward, j, log, func(err error) {
					mu.Lock()
					defer mu.Unlock()
					done++
					if opt.Progress != nil {
						opt.Progress("judge", done, len(tasks))
					}
					if err == nil {
						res.Judged++
					}
				})
			}
			jr, err := runtime.JudgePair(gctx, pool, runtime.JudgeRequest{Judge: opt.Judge, Template: tpl, Instruction: j.Instruction,
				Output1: shown1, Output2: shown2, NoSwap: true, Seed: opt.Seed + taskSeed(j.Key()), Options: opt.JudgeOptions, Attempts: opt.JudgeAttempts})
			mu.Lock()
			defer mu.Unlock()
			done++
			if opt.Progress != nil {
				opt.Progress("judge", done, len(tasks))
			}
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				res.Failed++
				if len(failures) < 5 {
					failures = append(failures, err.Error())
				}
				return nil
			}
			p := math.NaN()
			if len(jr.Games) > 0 {
				gm := jr.Games[0]
				j.Raw = gm.Verdict.Raw
				if gm.Verdict.Valid {
					p = gm.Preference // in shown order (NoSwap)
					if tk.swapped {
						p = 3 - p
					}
				}
			}
			if jr.Identical {
				p, j.Raw = 1.5, ""
			}
			j.Preference = p
			if err := log.Append(j); err != nil {
				return err
			}
			res.Judged++
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}

	// 3. statistics over every judgment of this (baseline, model, judge, template)
	all, _, err := ReadJudgments(path)
	if err != nil {
		return res, err
	}
	var mine []Judgment
	for _, j := range all {
		if j.Generator1 == baseName && j.Generator2 == opt.Model && j.Judge == opt.Judge && (j.Template == "" || j.Template == tpl.Name) {
			mine = append(mine, j)
		}
	}
	rep := &Report{Kind: "win-rate", Source: map[string]string{
		"model": opt.Model, "baseline": baseName, "judge": opt.Judge, "template": tpl.Name, "judgments": path}}
	rep.Stats = Stats(mine, opt.Stats)
	rep.Examples = PickExamples(mine, 10)
	if res.Failed > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d judge calls failed and are missing (a rerun retries them): %s", res.Failed, strings.Join(failures, "; ")))
	}
	if !logprob {
		if games, _ := PairGamesFromJudgments(mine); len(games) > 0 {
			rep.MTBench = MTBenchPairwise(games, baseName)
		}
	}
	res.Report = rep
	if err := rep.Write(opt.Out); err != nil {
		return res, err
	}
	return res, nil
}
