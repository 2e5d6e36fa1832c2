package train

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/objectives"
	"github.com/alignkit/align/pairs"
	"github.com/alignkit/align/runtime"
)

// The online loop (INPO, DNO, APO, HyPO, iterative DPO) is an iteration driver: each stage
// exports pi_t (or uses it in place with the local sampler), asks pairs.Build for the stage's
// pairs (sampling, automatic negatives, judging, the pair rule, replay: all in package pairs),
// then trains the stage from pi_t with prev = pi_t. See docs/objectives.md, "Online methods".

// splitPrompts returns the training prompts and the held-out evaluation prompts: the last
// eval.held_out prompts of the dataset are held out and never trained on, or, with eval.prompts,
// the first eval.held_out prompts of that file (the dataset is then all training data).
func (t *trainer) splitPrompts() (train, heldOut [][]data.Message) {
	ps := t.recs.Prompts
	if t.evalPrompts != nil {
		return ps, t.evalPrompts[:min(t.r.Eval.HeldOut, len(t.evalPrompts))]
	}
	h := min(t.r.Eval.HeldOut, len(ps)/2)
	return ps[:len(ps)-h], ps[len(ps)-h:]
}

// sampleText generates one response to prompt with m (the local sampler).
func (t *trainer) sampleText(ctx context.Context, m *model.Model, prompt []data.Message, seed uint64) (string, error) {
	s, err := t.enc.encode(prompt, nil)
	if err != nil {
		return "", err
	}
	sp := t.r.Online.Sampling
	toks, err := m.Generate(ctx, s.Tokens, model.SampleOptions{MaxTokens: sp.MaxTokens, Temperature: float32(sp.Temperature), TopP: float32(sp.TopP), TopK: sp.TopK, Seed: seed})
	if err != nil {
		return "", fmt.Errorf("train: sample: %w", err)
	}
	return m.Detokenize(toks)
}

// localSampler samples a model with align's own engine (online.local_sampler).
type localSampler struct {
	t *trainer
	m *model.Model
}

// Sample implements pairs.Sampler: each response has its planned seed, so the parallel order
// does not change the result.
func (s localSampler) Sample(ctx context.Context, todo []pairs.Planned, done func(int, []string) error) error {
	s.m.SetTraining(false)
	return parallel(ctx, len(todo), func(i int) error {
		texts := make([]string, len(todo[i].Seeds))
		for j, seed := range todo[i].Seeds {
			var err error
			if texts[j], err = s.t.sampleText(ctx, s.m, todo[i].Messages, uint64(seed)); err != nil {
				return err
			}
		}
		return done(i, texts)
	})
}

// sampleSeed is the base of every online sampling plan (pairs.Plan): the run's, not the
// stage's, so that a prompt sampled in two iterations has the same seeds and its samples differ
// only by the policy.
func (t *trainer) sampleSeed() int64 { return int64(seedFor(t.r.Seed, 1) >> 33) }

// onlinePrompts lists the training prompts as pairs.Prompt, with stable ids (p1, p2, ... in
// dataset order) and the dataset's reference responses.
func (t *trainer) onlinePrompts() []pairs.Prompt {
	train, _ := t.splitPrompts()
	out := make([]pairs.Prompt, len(train))
	for i, p := range train {
		out[i] = pairs.Prompt{ID: fmt.Sprintf("p%d", i+1), Messages: p}
		if i < len(t.recs.Teachers) {
			out[i].Teacher = t.recs.Teachers[i]
		}
	}
	return out
}

// iterationPrompts returns the prompts of one online iteration. By default each iteration
// takes fresh prompts, as INPO and DNO do: the training prompts split into online.iterations
// consecutive parts, or consecutive slices of online.prompts_per_iteration (wrapping around when
// the file runs out). online.reuse_prompts gives every iteration all the training prompts.
func (t *trainer) iterationPrompts(stage int) ([]pairs.Prompt, error) {
	all := t.onlinePrompts()
	o := t.r.Online
	if o.ReusePrompts || len(all) == 0 {
		return all, nil
	}
	n := o.PromptsPerIteration
	if n <= 0 {
		n = len(all) / max(o.Iterations, 1)
		if n == 0 {
			return nil, fmt.Errorf("train: %d training prompts cannot give each of %d iterations fresh prompts; add prompts, set online.prompts_per_iteration (prompts are then reused), or online.reuse_prompts: true", len(all), o.Iterations)
		}
	}
	n = min(n, len(all))
	out := make([]pairs.Prompt, n)
	for k := range out {
		out[k] = all[(stage*n+k)%len(all)]
	}
	return out, nil
}

// policySampler is the sampler of pi_t for a stage (APO: of its extrapolation; restore puts the
// trained weights back, and must run before anything else uses the policy). Through Ollama,
// the iterate is exported as a merged F16 GGUF and created as NAME-iter-T the first time the
// stage samples; the runtime.SampleJob then resumes from its results file.
func (t *trainer) policySampler(ctx context.Context, stage int, out string) (pairs.Sampler, func(), error) {
	restore, err := t.samplerWeights(stage)
	if err != nil {
		return nil, nil, err
	}
	if t.r.Online.LocalSampler {
		return localSampler{t: t, m: t.policy}, restore, nil
	}
	pool, err := runtime.NewPool(t.opt.OllamaHosts, runtime.PoolOptions{})
	if err != nil {
		restore()
		return nil, nil, fmt.Errorf("train: sampler: %w", err)
	}
	name := t.r.Output.OllamaModel
	if name == "" {
		name = "align-" + strings.ReplaceAll(t.r.Name, "_", "-")
	}
	name = fmt.Sprintf("%s-iter-%d", name, stage+1)
	sp := t.r.Online.Sampling
	return &pushSampler{t: t, stage: stage, pool: pool, name: name, inner: pairs.OllamaSampler{Pool: pool, Model: name, Seed: t.sampleSeed(), Raw: t.policy.TemplateName() == "", Out: out,
		Options: runtime.Options{Temperature: sp.Temperature, TopP: sp.TopP, TopK: sp.TopK, NumPredict: sp.MaxTokens, RepeatPenalty: 1}}}, restore, nil
}

// pushSampler pushes the policy to Ollama before its first request, then samples it there.
type pushSampler struct {
	t      *trainer
	stage  int
	pool   *runtime.Pool
	name   string
	pushed bool
	inner  pairs.OllamaSampler
}

func (s *pushSampler) Sample(ctx context.Context, todo []pairs.Planned, done func(int, []string) error) error {
	if !s.pushed {
		tmp := filepath.Join(s.t.stageDir(s.stage), "policy.gguf")
		if err := exportTo(ctx, s.t.policy, nil, "gguf:"+tmp, nil, io.Discard); err != nil {
			return err
		}
		defer os.Remove(tmp)
		if _, err := s.pool.Create(ctx, runtime.CreateRequest{Name: s.name, GGUF: tmp}); err != nil {
			return fmt.Errorf("train: push the policy to Ollama as %s: %w", s.name, err)
		}
		s.pushed = true
		s.t.prog.Log("stage %d: pushed the policy to Ollama as %s", s.stage+1, s.name)
	}
	return s.inner.Sample(ctx, todo, done)
}

// stageJudge opens the stage's judge: the rule judge, or the LLM judge with its judgments in
// stage-K/judgments.jsonl.
func (t *trainer) stageJudge(stage int, logName string) (pairs.Judge, func(), error) {
	j := t.r.Online.Judge
	if j.Kind == "reward" {
		return t.rewardJudge(stage, logName)
	}
	if j.Kind != "llm" {
		return pairs.RuleJudge{Words: j.Words, TargetLength: j.TargetLength}, func() {}, nil
	}
	pool, err := runtime.NewPool(t.opt.OllamaHosts, runtime.PoolOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("train: judge: %w", err)
	}
	lj, err := pairs.OpenLLMJudge(pool, j.Model, j.Template, j.Structured, j.Temperature, j.Mode, int64(t.r.Seed>>1), filepath.Join(t.stageDir(stage), logName))
	if err != nil {
		return nil, nil, fmt.Errorf("train: online.judge: %w", err)
	}
	how := ""
	if j.Structured {
		how = ", structured outputs"
	}
	if j.Temperature != nil {
		how += fmt.Sprintf(", temperature %g", *j.Temperature)
	}
	if !lj.Pairwise() {
		how += ", " + lj.Mode
	}
	t.prog.Log("stage %d: judging with %s (%s%s)", stage+1, j.Model, j.Template, how)
	return lj, func() { lj.Close() }, nil
}

// pairRule is the recipe's pair rule, typed.
func (t *trainer) pairRule() pairs.Rule {
	p := t.r.Online.Pairs
	r := pairs.Rule{Kind: p.Rule, MinGap: p.MinGap, AutoNegatives: p.Repetition != "keep",
		KeepTies: p.DropTies != nil && !*p.DropTies}
	if p.Rule == pairs.RuleRubric {
		r.DNO = pairs.DNORule{MinScore: p.MinScore, MinGap: p.MinGap, StudentGap: p.StudentGap, Restrictive: p.Restrictive}
		if p.MinScore == 0 && p.MinGap == 0 && p.StudentGap == 0 {
			r.DNO = pairs.PaperDNORule()
			r.DNO.Restrictive = p.Restrictive
		}
		r.MinGap = 0
	}
	_, r.WinRates = t.obj.(*objectives.DNO)
	return r
}

// useTeacher reports whether the rubric rule judges the dataset's reference responses too.
func (t *trainer) useTeacher() bool {
	p := t.r.Online.Pairs
	return p.Rule == pairs.RuleRubric && (p.Teacher == nil || *p.Teacher)
}

// teachers fills the teacher responses of an iteration's prompts: the dataset's, else
// (online.teacher_model) one response sampled through Ollama, resumable in the stage directory.
func (t *trainer) teachers(ctx context.Context, stage int, prompts []pairs.Prompt) error {
	if !t.useTeacher() {
		for i := range prompts {
			prompts[i].Teacher = ""
		}
		return nil
	}
	model := t.r.Online.TeacherModel
	if model == "" {
		return nil
	}
	var missing []pairs.Prompt
	for _, p := range prompts {
		if p.Teacher == "" {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	pool, err := runtime.NewPool(t.opt.OllamaHosts, runtime.PoolOptions{})
	if err != nil {
		return fmt.Errorf("train: teacher: %w", err)
	}
	sp := t.r.Online.Sampling
	seed := int64(seedFor(t.r.Seed, 5) >> 33)
	s := pairs.OllamaSampler{Pool: pool, Model: model, Seed: seed, Raw: t.policy.TemplateName() == "", Out: filepath.Join(t.stageDir(stage), "teacher-ollama.jsonl"),
		Options: runtime.Options{Temperature: sp.Temperature, TopP: sp.TopP, TopK: sp.TopK, NumPredict: sp.MaxTokens, RepeatPenalty: 1}}
	rows, err := pairs.Samples(ctx, filepath.Join(t.stageDir(stage), "teacher-samples.jsonl"), pairs.Plan(missing, 1, seed), s)
	if err != nil {
		return fmt.Errorf("train: online.teacher_model: %w", err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.ID] = r.Samples[0]
	}
	for i := range prompts {
		if prompts[i].Teacher == "" {
			prompts[i].Teacher = got[prompts[i].ID]
		}
	}
	t.prog.Log("stage %d: %d teacher responses from %s", stage+1, len(missing), model)
	return nil
}

// onlinePairs runs one online iteration's data step with pairs.Build (or reads it back from the
// stage directory) and returns the pairs; with theoretical DNO their scores are the win rates
// r_1, r_2 that the loss reads.
func (t *trainer) onlinePairs(ctx context.Context, stage int) ([]data.Pair, error) {
	sd := t.stageDir(stage)
	prompts, err := t.iterationPrompts(stage)
	if err != nil {
		return nil, err
	}
	if err := t.teachers(ctx, stage, prompts); err != nil {
		return nil, err
	}
	sampler, restore, err := t.policySampler(ctx, stage, filepath.Join(sd, "ollama-samples.jsonl"))
	if err != nil {
		return nil, err
	}
	defer restore()
	judge, closeJudge, err := t.stageJudge(stage, "judgments.jsonl")
	if err != nil {
		return nil, err
	}
	defer closeJudge()
	var earlier []string
	for j := stage - 1; j >= 0; j-- {
		earlier = append(earlier, t.stageDir(j))
	}
	t.prog.Log("stage %d: %d prompts × %d samples from pi_%d", stage+1, len(prompts), t.r.Online.SamplesPerPrompt, stage+1)
	ps, st, err := pairs.Build(ctx, pairs.Iteration{Index: stage, Dir: sd, Plan: pairs.Plan(prompts, t.r.Online.SamplesPerPrompt, t.sampleSeed()),
		Sampler: sampler, Judge: judge, Rule: t.pairRule(), Filters: pairs.DefaultFilterOptions(),
		Replay: t.r.Online.Replay, EarlierDirs: earlier, Seed: t.r.Seed})
	restore()
	if err != nil {
		return nil, fmt.Errorf("train: stage %d: %w", stage+1, err)
	}
	out := make([]data.Pair, len(ps))
	for i, p := range ps {
		out[i] = p.Data(fmt.Sprintf("stage %d pair %d", stage+1, i+1))
	}
	if err := writePairsParquet(filepath.Join(sd, "pairs.parquet"), out); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(st)
	t.prog.Log("stage %d: %d pairs (%d fresh, %d replayed) from %d prompts; %s", stage+1, len(ps), st.Fresh, st.Replayed, len(prompts), b)
	return out, nil
}

// onlineSamples returns HyPO's unlabelled samples for each pair's prompt (online.kl_samples:
// per_iteration), drawn once per stage from pi_t and kept in stage-K/online-samples.jsonl.
func (t *trainer) onlineSamples(ctx context.Context, stage int, ps []data.Pair) ([][][]data.Message, error) {
	prompts := make([]pairs.Prompt, len(ps))
	for i, p := range ps {
		prompts[i] = pairs.Prompt{ID: fmt.Sprintf("pair%d", i+1), Messages: p.Prompt}
	}
	sd := t.stageDir(stage)
	sampler, restore, err := t.policySampler(ctx, stage, filepath.Join(sd, "online-ollama.jsonl"))
	if err != nil {
		return nil, err
	}
	defer restore()
	rows, err := pairs.Samples(ctx, filepath.Join(sd, "online-samples.jsonl"), pairs.Plan(prompts, t.r.Online.SamplesPerPrompt, int64(seedFor(t.r.Seed, 3, stage)>>33)), sampler)
	if err != nil {
		return nil, err
	}
	out := make([][][]data.Message, len(rows))
	for i, r := range rows {
		for _, s := range r.Samples {
			out[i] = append(out[i], []data.Message{{Role: "assistant", Content: s}})
		}
	}
	return out, nil
}

// rankedFromPrompts makes Curry-DPO's ranked lists from prompts: K samples per training prompt
// from the initial policy (stage-1/samples.jsonl), each scored by the judge: the rule judge's
// RankScore, an LLM grading template's score (an unparsable grade ranks last), or, with a
// pairwise template, the wins in a round robin (ties ½). pairs.Curriculum then orders them.
func (t *trainer) rankedFromPrompts(ctx context.Context) error {
	prompts := t.onlinePrompts()
	sd := t.stageDir(0)
	path := filepath.Join(sd, "samples.jsonl")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	plan := pairs.Plan(prompts, t.r.Online.SamplesPerPrompt, t.sampleSeed())
	if t.st.Step > 0 {
		// Resumed after training began: the samples must be complete on disk (the policy now
		// holds trained weights, so it must not sample again).
		if n := countLines(path); n < len(plan) {
			return fmt.Errorf("train: resume: %s has %d of %d prompts' samples, yet training had begun", path, n, len(plan))
		}
	}
	sampler, restore, err := t.policySampler(ctx, 0, filepath.Join(sd, "ollama-samples.jsonl"))
	if err != nil {
		return err
	}
	rows, err := pairs.Samples(ctx, path, plan, sampler)
	restore()
	if err != nil {
		return err
	}
	judge, closeJudge, err := t.stageJudge(0, "judgments.jsonl")
	if err != nil {
		return err
	}
	defer closeJudge()
	ranked := make([]data.Ranked, len(rows))
	err = parallel(ctx, len(rows), func(r int) error {
		row := rows[r]
		instr := row.Instruction()
		var scores []float64
		if judge.Pairwise() {
			var err error
			scores, _, err = pairs.RoundRobin(len(row.Samples), func(a, b int) (float64, error) {
				c, err := judge.Play(ctx, instr, row.Samples[a], row.Samples[b], pairs.BracketWinners)
				return 1.5 - float64(c)/2, err
			})
			if err != nil {
				return err
			}
		} else {
			var err error
			if scores, err = judge.Grade(ctx, instr, row.Samples); err != nil {
				return err
			}
		}
		rk := data.Ranked{ID: fmt.Sprintf("prompt %d", r+1), Prompt: row.Messages}
		for k, s := range row.Samples {
			v := scores[k]
			if math.IsNaN(v) {
				v = math.Inf(-1)
			}
			rk.Responses = append(rk.Responses, data.Response{Messages: []data.Message{{Role: "assistant", Content: s}}, Score: v})
		}
		ranked[r] = rk
		return nil
	})
	if err != nil {
		return err
	}
	t.recs.Ranked = ranked
	t.prog.Log("curry-dpo: %d prompts × %d samples ranked by the %s judge", len(rows), t.r.Online.SamplesPerPrompt, t.r.Online.Judge.Kind)
	return nil
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		n++
	}
	return n
}

// evaluate measures, on the held-out prompts, the rule judge's win rate of the trained policy
// against the base model (after), the same for the base model against itself with other seeds
// (before: 50% in expectation), and a Monte-Carlo estimate of KL(policy || base) per response:
// the mean of log pi(y) - log base(y) over the policy's samples.
func (t *trainer) evaluate(ctx context.Context, res *Result) error {
	if t.r.Eval.HeldOut <= 0 || t.base == nil {
		return nil
	}
	// The rule judge evaluates; with a reward judge too when online.judge.words name its words
	// (the reward model is the training oracle, the rule the held-out measure).
	if (t.r.Online.Judge.Kind != "rule" && t.r.Online.Judge.Kind != "reward") || len(t.r.Online.Judge.Words) == 0 {
		t.prog.Log("evaluation: skipped (it needs online.judge.kind: rule, or reward with online.judge.words; use `align eval win-rate` with an LLM judge)")
		return nil
	}
	_, held := t.splitPrompts()
	judge := pairs.RuleJudge{Words: t.r.Online.Judge.Words, TargetLength: t.r.Online.Judge.TargetLength}
	t.policy.SetTraining(false)
	var before, after, kl float64
	n := 0
	type evalRow struct {
		Prompt  string  `json:"prompt"`
		Base    string  `json:"base"`
		BaseAlt string  `json:"base_alt"`
		Trained string  `json:"trained"`
		Win     float64 `json:"trained_win"`
		LogR    float64 `json:"log_ratio"`
		// Raw is the rule judge's account of the trained-against-base game (RuleJudge.Explain).
		Raw string `json:"raw"`
	}
	var rows []evalRow
	win := func(c int) float64 { return (float64(c) + 1) / 2 }
	S := t.r.Eval.Samples
	gen := make([][3]string, len(held)*S)
	err := parallel(ctx, len(gen), func(k int) error {
		i, j := k/S, k%S
		var err error
		if gen[k][0], err = t.sampleText(ctx, t.base, held[i], seedFor(t.r.Seed, 7, i, j)); err != nil {
			return err
		}
		if gen[k][1], err = t.sampleText(ctx, t.base, held[i], seedFor(t.r.Seed, 8, i, j)); err != nil {
			return err
		}
		gen[k][2], err = t.sampleText(ctx, t.policy, held[i], seedFor(t.r.Seed, 8, i, j))
		return err
	})
	if err != nil {
		return err
	}
	for i, p := range held {
		for j := 0; j < S; j++ {
			base, alt, trained := gen[i*S+j][0], gen[i*S+j][1], gen[i*S+j][2]
			before += win(judge.Compare(alt, base))
			w := win(judge.Compare(trained, base))
			after += w
			seq, err := t.enc.encode(p, []data.Message{{Role: "assistant", Content: trained}})
			if err != nil {
				return err
			}
			lp, err := t.policy.LogProbs([]model.Sequence{seq})
			if err != nil {
				return err
			}
			lb, err := t.base.LogProbs([]model.Sequence{seq})
			if err != nil {
				return err
			}
			lr := sum64(lp[0]) - sum64(lb[0])
			kl += lr
			n++
			rows = append(rows, evalRow{Prompt: p[len(p)-1].Content, Base: base, BaseAlt: alt, Trained: trained, Win: w, LogR: lr,
				Raw: judge.Explain("trained", trained, "base", base)})
		}
	}
	res.WinRateBefore, res.WinRateAfter, res.KL = before/float64(n), after/float64(n), kl/float64(n)
	t.prog.Log("held-out win rate under the rule judge (%d prompts × %d samples): before %.1f%%, after %.1f%%; KL to base %.3f nats/response",
		len(held), t.r.Eval.Samples, 100*res.WinRateBefore, 100*res.WinRateAfter, res.KL)
	return WriteFileAtomic(filepath.Join(t.dir, "eval.jsonl"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *trainer) writeReport(res *Result) error {
	ms, err := ReadMetrics(filepath.Join(t.dir, "metrics.jsonl"))
	if err != nil {
		return err
	}
	recipe, _ := t.r.Marshal()
	pct := func(f float64) string {
		if math.IsNaN(f) {
			return "not measured"
		}
		return fmt.Sprintf("%.1f%%", 100*f)
	}
	sum := [][2]string{
		{"objective", res.Objective},
		{"optimizer steps", fmt.Sprint(res.Steps)},
		{"training pairs", fmt.Sprint(res.Pairs)},
		{"final loss", fmt.Sprintf("%.4f", res.FinalLoss)},
		{"tokens/s (training)", fmt.Sprintf("%.0f", res.TokensPerSec)},
		{"training time", fmt.Sprintf("%.1f s", res.TrainSeconds)},
		{"win rate vs base, before (held-out, rule judge)", pct(res.WinRateBefore)},
		{"win rate vs base, after", pct(res.WinRateAfter)},
	}
	if !math.IsNaN(res.KL) {
		sum = append(sum, [2]string{"KL(policy || base), nats per response", fmt.Sprintf("%.3f", res.KL)})
	}
	return WriteFileAtomic(filepath.Join(t.dir, "report.html"), func(w io.Writer) error {
		wr, ex := t.reportExtras(res)
		return WriteReport(w, ReportData{Title: "align training run: " + t.r.Name, Summary: sum, Metrics: ms, Recipe: string(recipe), WinRate: wr, Examples: ex})
	})
}

// parallel runs fn(0..n-1) on GOMAXPROCS goroutines and returns the first error.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(goruntime.GOMAXPROCS(0))
	for i := 0; i < n; i++ {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return fn(i)
		})
	}
	return g.Wait()
}

// writePairsParquet writes an iteration's pairs as a Parquet preference dataset (the data
// package's writer: align data inspect reads it, and a recipe can train on it offline).
func writePairsParquet(path string, pairs []data.Pair) error {
	w, err := data.Create(path, data.KindPairwise)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, p := range pairs {
		if err := w.WritePair(p); err != nil {
			w.Abort()
			return fmt.Errorf("train: %s: %w", path, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("train: %s: %w", path, err)
	}
	return nil
}

// samplerWeights sets the policy's trainable weights to APO's extrapolated iterate for a
// stage's sampling, theta = hat_theta_t + alpha*(hat_theta_t - hat_theta_{t-1}), where
// hat_theta_{t-1} is the previous stage's start-weights.bin; the returned function puts the
// trained weights back (call it before anything else uses the policy). This extrapolates the
// LoRA weights, an approximation of sampling from pi_t ∝ hat_pi_t (hat_pi_t/hat_pi_{t-1})^alpha;
// the loss keeps the exact log-space reference. Other objectives, the first stage and alpha 0
// leave the weights as they are.
func (t *trainer) samplerWeights(stage int) (restore func(), err error) {
	apo, ok := t.obj.(*objectives.APO)
	if !ok || apo.Alpha == 0 || stage == 0 {
		return func() {}, nil
	}
	ps := t.policy.Params()
	prev := make([]*model.Param, len(ps))
	for i, p := range ps {
		prev[i] = &model.Param{Name: p.Name, Data: make([]float32, len(p.Data))}
	}
	path := filepath.Join(t.stageDir(stage-1), "start-weights.bin")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("train: APO extrapolation: %w", err)
	}
	defer f.Close()
	if err := loadParams(bufio.NewReader(f), prev); err != nil {
		return nil, fmt.Errorf("train: APO extrapolation: %s: %w", path, err)
	}
	t.prog.Log("stage %d: sampling from the extrapolated policy (APO, alpha %g)", stage+1, apo.Alpha)
	return extrapolateParams(ps, prev, apo.Alpha), nil
}

// extrapolateParams sets each p to p + alpha*(p - prev) and returns the function that restores
// the values it had.
func extrapolateParams(ps, prev []*model.Param, alpha float64) (restore func()) {
	saved := cloneParams(ps)
	a := float32(alpha)
	for i, p := range ps {
		for j, v := range p.Data {
			p.Data[j] = v + a*(v-prev[i].Data[j])
		}
	}
	done := false
	return func() {
		if !done {
			restoreParams(ps, saved)
			done = true
		}
	}
}

// stageLR is the current stage's peak learning rate: learning_rate × online.lr_decay^t for
// online iteration t (0-based; DNO lowers it in later iterations), else learning_rate.
func (t *trainer) stageLR() float64 {
	d := t.r.Online.LRDecay
	if t.r.Online.Iterations == 0 || d == 0 {
		return t.r.LearningRate
	}
	return t.r.LearningRate * math.Pow(d, float64(t.st.Stage))
}

// selectIterate is online.select_best's step after an online stage (DNO returns the best
// iterate on validation data, Rosset et al. 2024, §5): the policy's win rate against the base
// model on the held-out prompts under the online judge (a policy sample and a base sample at
// the same seed per prompt and eval sample, with the local sampler; a tie counts ½), kept in
// stage-K/select.json; the best iterate so far is saved as best-weights.bin in the run folder.
func (t *trainer) selectIterate(ctx context.Context, stage int) error {
	if !t.r.Online.SelectBest || t.base == nil {
		return nil
	}
	path := filepath.Join(t.stageDir(stage), "select.json")
	type sel struct {
		Stage   int     `json:"stage"`
		WinRate float64 `json:"win_rate"`
		Games   int     `json:"games"`
	}
	var cur sel
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &cur) == nil {
		return nil // measured before a resume; best-weights.bin was updated then
	}
	_, held := t.splitPrompts()
	judge, closeJudge, err := t.stageJudge(stage, "select-judgments.jsonl")
	if err != nil {
		return err
	}
	defer closeJudge()
	S := max(t.r.Eval.Samples, 1)
	wins := make([]float64, len(held)*S)
	t.policy.SetTraining(false)
	err = parallel(ctx, len(wins), func(k int) error {
		i, j := k/S, k%S
		seed := seedFor(t.r.Seed, 9, i, j)
		pol, err := t.sampleText(ctx, t.policy, held[i], seed)
		if err != nil {
			return err
		}
		base, err := t.sampleText(ctx, t.base, held[i], seed)
		if err != nil {
			return err
		}
		c, err := judge.Play(ctx, held[i][len(held[i])-1].Content, pol, base, "select")
		wins[k] = (float64(c) + 1) / 2
		return err
	})
	if err != nil {
		return fmt.Errorf("train: online.select_best: %w", err)
	}
	cur = sel{Stage: stage + 1, Games: len(wins)}
	for _, w := range wins {
		cur.WinRate += w / float64(len(wins))
	}
	best := -1.0
	for j := 0; j < stage; j++ {
		var old sel
		if b, err := os.ReadFile(filepath.Join(t.stageDir(j), "select.json")); err == nil && json.Unmarshal(b, &old) == nil {
			best = max(best, old.WinRate)
		}
	}
	if cur.WinRate > best {
		if err := WriteFileAtomic(filepath.Join(t.dir, "best-weights.bin"), func(w io.Writer) error { return saveParams(w, t.policy.Params()) }); err != nil {
			return fmt.Errorf("train: online.select_best: %w", err)
		}
		if err := writeJSONFile(filepath.Join(t.dir, "best-iterate.json"), cur); err != nil {
			return err
		}
	}
	t.prog.Log("stage %d: held-out win rate against the base %.1f%% (%d games; best before %.1f%%)", stage+1, 100*cur.WinRate, cur.Games, 100*max(best, 0))
	return writeJSONFile(path, cur)
}

// useBestIterate loads best-weights.bin into the policy when online.select_best chose an
// iterate (before the evaluation and the export).
func (t *trainer) useBestIterate() error {
	if !t.r.Online.SelectBest {
		return nil
	}
	f, err := os.Open(filepath.Join(t.dir, "best-weights.bin"))
	if err != nil {
		return nil // no held-out prompts or no base: the last iterate
	}
	defer f.Close()
	if err := loadParams(bufio.NewReader(f), t.policy.Params()); err != nil {
		return fmt.Errorf("train: online.select_best: %w", err)
	}
	b, _ := os.ReadFile(filepath.Join(t.dir, "best-iterate.json"))
	t.prog.Log("online.select_best: the run ends with the best iterate %s", strings.TrimSpace(string(b)))
	return nil
}

// dataOrder is the order of a stage's examples for one epoch: a fresh shuffle, except for
// Curry-DPO's non-iterative run, which keeps the curriculum order (easy pairs first, every
// prompt's stage-1 pair before any stage-2 pair) in every epoch (Pattnaik et al. 2024, §3).
func (t *trainer) dataOrder(n int) []int {
	if t.r.Objective.Name == "curry_dpo" && !t.iterativeCurry() {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	return t.st.RNG.Perm(n)
}
