package train

import (
	"bufio"
	"bytes"
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
	"github.com/alignkit/align/data/curate"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/objectives"
	"github.com/alignkit/align/runtime"
)

// splitPrompts returns the training prompts and the held-out evaluation prompts: the last
// eval.held_out prompts of the dataset are held out and never trained on.
func (t *trainer) splitPrompts() (train, heldOut [][]data.Message) {
	ps := t.recs.Prompts
	h := min(t.r.Eval.HeldOut, len(ps)/2)
	return ps[:len(ps)-h], ps[len(ps)-h:]
}

// sampleText generates one response to prompt with m.
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

// samplesFor returns K samples of the current policy for one prompt of a stage (HyPO's online
// samples), stored in the stage directory so a resumed stage reuses them.
func (t *trainer) samplesFor(ctx context.Context, stage, i int, prompt []data.Message, k int) ([][]data.Message, error) {
	path := filepath.Join(t.stageDir(stage), "online-samples.jsonl")
	all, _ := readSampleFile(path)
	if i < len(all) {
		return textsToMessages(all[i].Samples), nil
	}
	t.policy.SetTraining(false)
	row := sampleRow{Prompt: prompt}
	for j := 0; j < k; j++ {
		s, err := t.sampleText(ctx, t.policy, prompt, seedFor(t.r.Seed, 3, stage, i, j))
		if err != nil {
			return nil, err
		}
		row.Samples = append(row.Samples, s)
	}
	all = append(all, row)
	if err := writeSampleFile(path, all); err != nil {
		return nil, err
	}
	return textsToMessages(row.Samples), nil
}

func textsToMessages(ss []string) [][]data.Message {
	out := make([][]data.Message, len(ss))
	for i, s := range ss {
		out[i] = []data.Message{{Role: "assistant", Content: s}}
	}
	return out
}

type sampleRow struct {
	Prompt  []data.Message `json:"prompt"`
	Samples []string       `json:"samples"`
	Scores  []float64      `json:"scores,omitempty"`
	// Teacher is the dataset's reference response, judged with the samples (DNO's rubric).
	Teacher string `json:"teacher,omitempty"`
}

// candidates lists what is judged: the samples, then the teacher's response when there is one.
func (r sampleRow) candidates() []string {
	if r.Teacher == "" {
		return r.Samples
	}
	return append(append([]string(nil), r.Samples...), r.Teacher)
}

// autoNegatives marks, per candidate, the student samples with degenerate repetition (DNO's
// automatic negatives); the teacher's response is never one.
func (r sampleRow) autoNegatives(opt curate.FilterOptions) []bool {
	out := make([]bool, len(r.candidates()))
	for k, s := range r.Samples {
		out[k] = opt.Degenerate(s)
	}
	return out
}

func readSampleFile(path string) ([]sampleRow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []sampleRow
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r sampleRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("train: %s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

func writeSampleFile(path string, rows []sampleRow) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
}

type pairRow struct {
	Prompt   []data.Message `json:"prompt"`
	Chosen   string         `json:"chosen"`
	Rejected string         `json:"rejected"`
}

// iterationPrompts returns the prompts of one online iteration (a slice of the training
// prompts when online.prompts_per_iteration is set) and their teacher responses ("" = none).
func (t *trainer) iterationPrompts(stage int) ([][]data.Message, []string) {
	prompts, _ := t.splitPrompts()
	teachers := make([]string, len(prompts))
	copy(teachers, t.recs.Teachers)
	if n := t.r.Online.PromptsPerIteration; n > 0 && n < len(prompts) {
		lo := (stage * n) % len(prompts)
		sel := append([][]data.Message(nil), prompts[lo:min(lo+n, len(prompts))]...)
		tsel := append([]string(nil), teachers[lo:min(lo+n, len(prompts))]...)
		for len(sel) < n {
			k := n - len(sel)
			sel = append(sel, prompts[:k]...)
			tsel = append(tsel, teachers[:k]...)
		}
		prompts, teachers = sel, tsel
	}
	return prompts, teachers
}

// sampleRows returns K samples of the current policy (APO: of its extrapolation) for each
// prompt, through Ollama or the local sampler, saved in stage-K/samples.jsonl as they arrive so
// that a resumed stage never samples a prompt twice. Rows carry the rule judge's word counts.
func (t *trainer) sampleRows(ctx context.Context, stage int, prompts [][]data.Message) ([]sampleRow, error) {
	samplesPath := filepath.Join(t.stageDir(stage), "samples.jsonl")
	rows, _ := readSampleFile(samplesPath)
	if len(rows) >= len(prompts) {
		return rows[:len(prompts)], nil
	}
	// APO samples from the extrapolated policy; judging and pairing do not use the weights.
	restore, err := t.samplerWeights(stage)
	if err != nil {
		return nil, err
	}
	defer restore()
	if !t.r.Online.LocalSampler {
		if rows, err = t.ollamaSamples(ctx, stage, prompts); err != nil {
			return nil, err
		}
		return rows, writeSampleFile(samplesPath, rows)
	}
	judge := t.ruleJudge()
	t.policy.SetTraining(false)
	t.prog.Log("stage %d: sampling %d responses for each of %d prompts", stage+1, t.r.Online.SamplesPerPrompt, len(prompts))
	const chunk = 32
	for lo := len(rows); lo < len(prompts); lo += chunk {
		hi := min(lo+chunk, len(prompts))
		batch := make([]sampleRow, hi-lo)
		// Each sample has its own seed, so the parallel order does not change the result.
		err := parallel(ctx, hi-lo, func(k int) error {
			i := lo + k
			row := sampleRow{Prompt: prompts[i]}
			for j := 0; j < t.r.Online.SamplesPerPrompt; j++ {
				s, err := t.sampleText(ctx, t.policy, prompts[i], seedFor(t.r.Seed, 1, stage, i, j))
				if err != nil {
					return err
				}
				row.Samples = append(row.Samples, s)
				row.Scores = append(row.Scores, float64(judge.Score(s)))
			}
			batch[k] = row
			return nil
		})
		if err != nil {
			return nil, err
		}
		rows = append(rows, batch...)
		// Saved as they arrive: a resumed iteration never samples a prompt twice.
		if err := writeSampleFile(samplesPath, rows); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

func (t *trainer) ruleJudge() RuleJudge {
	return RuleJudge{Words: t.r.Online.Judge.Words, TargetLength: t.r.Online.Judge.TargetLength}
}

// stageJudge opens the stage's LLM judge (nil with the rule judge).
func (t *trainer) stageJudge(stage int) (*llmJudge, error) {
	j := t.r.Online.Judge
	if j.Kind != "llm" {
		return nil, nil
	}
	lj, err := newLLMJudge(t.opt.OllamaHosts, j.Model, j.Template, j.Structured, j.Temperature, t.r.Seed, filepath.Join(t.stageDir(stage), "judgments.jsonl"))
	if err != nil {
		return nil, err
	}
	how := ""
	if j.Structured {
		how = ", structured outputs"
	}
	if j.Temperature != nil {
		how += fmt.Sprintf(", temperature %g", *j.Temperature)
	}
	t.prog.Log("stage %d: judging with %s (%s%s)", stage+1, j.Model, j.Template, how)
	return lj, nil
}

// useTeacher reports whether the rubric rule judges the dataset's reference responses too.
func (t *trainer) useTeacher() bool {
	p := t.r.Online.Pairs
	return p.Rule == "rubric" && (p.Teacher == nil || *p.Teacher)
}

// onlinePairs runs one online iteration's sampling and judging (or reads them back from the
// stage directory): K samples per prompt from the current policy (plus, for the rubric rule, the
// dataset's teacher response when it has one), judged, turned into pairs by the recipe's pair
// rule, plus replayed pairs of earlier iterations.
func (t *trainer) onlinePairs(ctx context.Context, stage int) ([]data.Pair, error) {
	sd := t.stageDir(stage)
	pairsPath := filepath.Join(sd, "pairs.jsonl")
	if rows, err := readPairFile(pairsPath); err == nil {
		return rowsToPairs(rows, stage), nil
	}
	prompts, teachers := t.iterationPrompts(stage)
	rows, err := t.sampleRows(ctx, stage, prompts)
	if err != nil {
		return nil, err
	}
	if t.useTeacher() {
		for i := range rows {
			if teachers[i] == "" && t.r.Online.TeacherModel != "" {
				teachers[i] = rows[i].Teacher // the teacher model's answer, recorded before a crash
			}
		}
		if err := t.teacherSamples(ctx, stage, prompts, teachers); err != nil {
			return nil, err
		}
		changed := false
		for i := range rows {
			if rows[i].Teacher != teachers[i] {
				rows[i].Teacher, changed = teachers[i], true
			}
		}
		if changed {
			if err := writeSampleFile(filepath.Join(sd, "samples.jsonl"), rows); err != nil {
				return nil, err
			}
		}
	}
	judge := t.ruleJudge()
	lj, err := t.stageJudge(stage)
	if err != nil {
		return nil, err
	}
	if lj != nil {
		defer lj.close()
	}
	idxs := make([][]pairIndex, len(rows))
	degenerate := curate.DefaultFilterOptions()
	err = parallel(ctx, len(rows), func(r int) error {
		row := rows[r]
		cands := row.candidates()
		var jerr error
		cmp := func(a, b int) int { return judge.Compare(cands[a], cands[b]) }
		instr := ""
		if n := len(row.Prompt); n > 0 {
			instr = row.Prompt[n-1].Content
		}
		var scores []float64
		// DNO: student samples with degenerate repetition are automatic negatives, graded the
		// lowest without asking the judge.
		autoNeg := make([]bool, len(cands))
		if t.r.Online.Pairs.Rule == "rubric" && t.r.Online.Pairs.Repetition != "keep" {
			autoNeg = row.autoNegatives(degenerate)
		}
		if lj == nil {
			for k, s := range cands {
				if autoNeg[k] {
					scores = append(scores, math.Inf(-1))
					continue
				}
				scores = append(scores, float64(judge.Score(s)))
			}
		} else {
			cmp = func(a, b int) int {
				if jerr != nil {
					return 0
				}
				c, err := lj.compare(ctx, instr, cands[a], cands[b])
				if err != nil {
					jerr = err
				}
				return c
			}
			if t.r.Online.Pairs.Rule == "rubric" {
				scores = make([]float64, len(cands))
				for k, s := range cands {
					if autoNeg[k] {
						scores[k] = math.Inf(-1)
						continue
					}
					v, err := lj.score(ctx, instr, s)
					if err != nil {
						return err
					}
					scores[k] = v // NaN for an unparsable grade: it qualifies for nothing
				}
			}
		}
		switch p := t.r.Online.Pairs; p.Rule {
		case "best_vs_worst":
			idxs[r] = bestVsWorst(len(cands), cmp)
		case "tournament":
			idxs[r] = tournament(len(cands), cmp)
		case "rubric":
			teacher := -1
			if row.Teacher != "" {
				teacher = len(row.Samples)
			}
			idxs[r] = rubricPairs(scores, teacher, RubricRules{MinScore: p.MinScore, MinGap: p.MinGap, StudentGap: p.StudentGap, Restrictive: p.Restrictive})
		}
		return jerr
	})
	if err != nil {
		return nil, err
	}
	var out []pairRow
	for r, row := range rows {
		cands := row.candidates()
		for _, p := range idxs[r] {
			if strings.TrimSpace(cands[p.w]) == strings.TrimSpace(cands[p.l]) {
				continue
			}
			out = append(out, pairRow{Prompt: row.Prompt, Chosen: cands[p.w], Rejected: cands[p.l]})
		}
	}
	// Replay (DNO): a fraction of iteration t-j's pairs, relative to this iteration's count.
	fresh := len(out)
	for j, frac := range t.r.Online.Replay {
		prev := stage - 1 - j
		if prev < 0 || frac <= 0 {
			break
		}
		old, err := readPairFile(filepath.Join(t.stageDir(prev), "pairs.jsonl"))
		if err != nil {
			continue
		}
		n := min(len(old), int(frac*float64(fresh)))
		perm := NewRNG(t.r.Seed, uint64(1000+stage*10+j)).Perm(len(old))
		for _, k := range perm[:n] {
			out = append(out, old[k])
		}
	}
	if err := WriteFileAtomic(pairsPath, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range out {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	pairs := rowsToPairs(out, stage)
	if err := writePairsParquet(filepath.Join(sd, "pairs.parquet"), pairs); err != nil {
		return nil, err
	}
	t.prog.Log("stage %d: %d pairs from %d prompts", stage+1, len(out), len(rows))
	return pairs, nil
}

// rankedFromPrompts makes Curry-DPO's ranked lists from prompts: K samples per training prompt
// from the initial policy (stage-1/samples.jsonl, the same seeds as an online iteration's
// first stage), each scored by the judge: the rule judge's RankScore (the order of its Compare),
// an LLM grading template's score, or, with a pairwise template, the number of wins in a round
// robin (ties ½). objectives.CurryPairs then builds the curriculum from the scores.
func (t *trainer) rankedFromPrompts(ctx context.Context) error {
	prompts, _ := t.splitPrompts()
	path := filepath.Join(t.stageDir(0), "samples.jsonl")
	if t.st.Step > 0 {
		// Resumed after training began: the samples are complete on disk (the policy now holds
		// trained weights, so it must not sample again).
		if rows, _ := readSampleFile(path); len(rows) < len(prompts) {
			return fmt.Errorf("train: resume: %s has %d of %d prompts' samples, yet training had begun", path, len(rows), len(prompts))
		}
	}
	if err := os.MkdirAll(t.stageDir(0), 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	rows, err := t.sampleRows(ctx, 0, prompts)
	if err != nil {
		return err
	}
	judge := t.ruleJudge()
	lj, err := t.stageJudge(0)
	if err != nil {
		return err
	}
	if lj != nil {
		defer lj.close()
	}
	ranked := make([]data.Ranked, len(rows))
	err = parallel(ctx, len(rows), func(r int) error {
		row := rows[r]
		instr := row.Prompt[len(row.Prompt)-1].Content
		scores := make([]float64, len(row.Samples))
		switch {
		case lj == nil:
			for k, s := range row.Samples {
				scores[k] = judge.RankScore(s)
			}
		case lj.tmpl.Kind != runtime.Pairwise:
			for k, s := range row.Samples {
				v, err := lj.score(ctx, instr, s)
				if err != nil {
					return err
				}
				if math.IsNaN(v) {
					v = math.Inf(-1) // an unparsable grade ranks last
				}
				scores[k] = v
			}
		default:
			for a := range row.Samples {
				for b := a + 1; b < len(row.Samples); b++ {
					c, err := lj.compare(ctx, instr, row.Samples[a], row.Samples[b])
					if err != nil {
						return err
					}
					scores[a] += float64(c+1) / 2
					scores[b] += float64(1-c) / 2
				}
			}
		}
		rk := data.Ranked{ID: fmt.Sprintf("prompt %d", r+1), Prompt: row.Prompt}
		for k, s := range row.Samples {
			rk.Responses = append(rk.Responses, data.Response{Messages: []data.Message{{Role: "assistant", Content: s}}, Score: scores[k]})
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

func readPairFile(path string) ([]pairRow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []pairRow
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var r pairRow
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("train: %s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func rowsToPairs(rows []pairRow, stage int) []data.Pair {
	out := make([]data.Pair, len(rows))
	for i, r := range rows {
		out[i] = data.Pair{ID: fmt.Sprintf("stage %d pair %d", stage+1, i+1), Prompt: r.Prompt,
			Chosen: []data.Message{{Role: "assistant", Content: r.Chosen}}, Rejected: []data.Message{{Role: "assistant", Content: r.Rejected}}}
	}
	return out
}

// evaluate measures, on the held-out prompts, the rule judge's win rate of the trained policy
// against the base model (after), the same for the base model against itself with other seeds
// (before: 50% in expectation), and a Monte-Carlo estimate of KL(policy || base) per response:
// the mean of log pi(y) - log base(y) over the policy's samples.
func (t *trainer) evaluate(ctx context.Context, res *Result) error {
	if t.r.Eval.HeldOut <= 0 || t.base == nil {
		return nil
	}
	if t.r.Online.Judge.Kind != "rule" || len(t.r.Online.Judge.Words) == 0 {
		t.prog.Log("evaluation: skipped (it needs online.judge.kind: rule; use `align eval win-rate` with an LLM judge)")
		return nil
	}
	_, held := t.splitPrompts()
	judge := RuleJudge{Words: t.r.Online.Judge.Words, TargetLength: t.r.Online.Judge.TargetLength}
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
			rows = append(rows, evalRow{Prompt: p[len(p)-1].Content, Base: base, BaseAlt: alt, Trained: trained, Win: w, LogR: lr})
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

// ollamaOnlineSamples fills a stage's online-samples.jsonl (HyPO's unlabelled samples, one row
// per pair) through Ollama when online.local_sampler is false; samplesFor then reads them back.
// With the local sampler it does nothing.
func (t *trainer) ollamaOnlineSamples(ctx context.Context, stage int, pairs []data.Pair) error {
	if t.r.Online.LocalSampler {
		return nil
	}
	path := filepath.Join(t.stageDir(stage), "online-samples.jsonl")
	if rows, err := readSampleFile(path); err == nil && len(rows) >= len(pairs) {
		return nil
	}
	prompts := make([][]data.Message, len(pairs))
	for i, p := range pairs {
		prompts[i] = p.Prompt
	}
	rows, err := t.ollamaSamples(ctx, stage, prompts)
	if err != nil {
		return err
	}
	return writeSampleFile(path, rows)
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
