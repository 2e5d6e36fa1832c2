package eval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/alignkit/align/runtime"
)

// MT-Bench as FastChat's llm_judge runs it: gen_model_answer.py (two turns, the second asked
// with the model's own first answer in the conversation), gen_judgment.py (single-answer
// grading or pairwise games in both orders, reference-guided for math, reasoning and coding)
// and show_result.py (the score table). The files are FastChat's: model_answer/<model>.jsonl
// and model_judgment/<judge>_single.jsonl or <judge>_pair.jsonl, in its row formats.

// MTSingleJudgment is one row of model_judgment/<judge>_single.jsonl (play_a_match_single):
// one model's answer to one turn, graded 1–10. Score is −1 when the judge's answer has no
// rating (kept with its raw text in Judgment, counted, and left out of the scores).
type MTSingleJudgment struct {
	QuestionID QuestionID `json:"question_id"`
	Model      string     `json:"model"`
	// Judge is (judge model, judge prompt name).
	Judge      [2]string `json:"judge"`
	UserPrompt string    `json:"user_prompt"`
	Judgment   string    `json:"judgment"`
	Score      float64   `json:"score"`
	Turn       int       `json:"turn"`
	Tstamp     float64   `json:"tstamp"`
	// align's additions: the judge seed and tries.
	Seed     int64 `json:"seed,omitempty"`
	Attempts int   `json:"attempts,omitempty"`
}

// MTPairJudgment is one row of model_judgment/<judge>_pair.jsonl (play_a_match_pair): two
// games, game 1 with model_1's answer as A, game 2 with model_2's as A. The winners are
// "model_1", "model_2", "tie" or "error" (no verdict: kept with the raw text, counted).
type MTPairJudgment struct {
	QuestionID   QuestionID `json:"question_id"`
	Model1       string     `json:"model_1"`
	Model2       string     `json:"model_2"`
	G1Winner     string     `json:"g1_winner"`
	G2Winner     string     `json:"g2_winner"`
	Judge        [2]string  `json:"judge"`
	G1UserPrompt string     `json:"g1_user_prompt"`
	G1Judgment   string     `json:"g1_judgment"`
	G2UserPrompt string     `json:"g2_user_prompt"`
	G2Judgment   string     `json:"g2_judgment"`
	Turn         int        `json:"turn"`
	Tstamp       float64    `json:"tstamp"`
	Seeds        []int64    `json:"seeds,omitempty"`
}

// MTBenchOptions configure RunMTBench.
type MTBenchOptions struct {
	// Models are the evaluated models (Ollama names).
	Models []string
	// Judge is the judge model (Ollama name); it names the judgment file as FastChat's
	// --judge-model does.
	Judge string
	// Mode is "single" (default: single-answer grading) or "pairwise".
	Mode string
	// Baseline, in pairwise mode, is model_2 of every match (FastChat's pairwise-baseline);
	// empty means every pair of Models (pairwise-all). Its answers are generated too.
	Baseline string
	// Questions default to MT-Bench's 80; References (for math, reasoning and coding) to
	// GPT-4's reference answers.
	Questions  []MTQuestion
	References map[QuestionID][]string
	Out        string
	// MaxNewTokens per turn (FastChat's --max-new-token, default 1024).
	MaxNewTokens int
	// Seed is the base of every generation and judge seed (each recorded in its row).
	Seed int64
	// JudgeOptions replace the judge prompts' settings (temperature 0, 2048 tokens).
	JudgeOptions *runtime.Options
	// JudgeAttempts bounds the tries of a judge answer without a verdict; FastChat asks once,
	// and so does align by default (1).
	JudgeAttempts int
	// Structured constrains the judge's answer to the verdict with Ollama's structured
	// outputs ({"score": 1..10} or {"winner": "A"|"B"|"C"}).
	Structured  bool
	Concurrency int
	Progress    func(stage string, done, total int)
}

// MTBenchResult is what RunMTBench did.
type MTBenchResult struct {
	Report       *Report
	AnswerFiles  []string
	JudgmentFile string
	// Answered and Judged count rows written by this run; AnswersExisting and
	// JudgmentsExisting those found from an earlier one.
	Answered, AnswersExisting int
	Judged, JudgmentsExisting int
	// Failed counts generations and judge calls that failed (transport); a rerun retries them.
	Failed int
	// Invalid counts judge answers without a verdict, in the whole judgment file.
	Invalid int
}

// mtJudgePrompts names FastChat's judge prompts for a mode.
func mtJudgePrompts(mode string) (def, math, defMT, mathMT string) {
	if mode == "pairwise" {
		return "pair-v2", "pair-math-v1", "pair-v2-multi-turn", "pair-math-v1-multi-turn"
	}
	return "single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn"
}

func (o *MTBenchOptions) defaults(pool *runtime.Pool) error {
	if len(o.Models) == 0 || o.Judge == "" || o.Out == "" {
		return errors.New("eval: mt-bench needs a model, a judge and an output directory")
	}
	switch o.Mode {
	case "":
		o.Mode = "single"
	case "single", "pairwise":
	default:
		return fmt.Errorf("eval: mt-bench: mode %q (want single or pairwise)", o.Mode)
	}
	if o.Mode == "single" && o.Baseline != "" {
		return errors.New("eval: mt-bench: --baseline is for pairwise mode")
	}
	if o.Mode == "pairwise" && o.Baseline == "" && len(o.Models) < 2 {
		return errors.New("eval: mt-bench pairwise needs a baseline or at least two models")
	}
	seen := map[string]bool{}
	for _, m := range append(append([]string(nil), o.Models...), o.Baseline) {
		if m != "" && seen[m] && m != o.Baseline {
			return fmt.Errorf("eval: mt-bench: model %s given twice", m)
		}
		seen[m] = true
	}
	if o.Questions == nil {
		o.Questions = MTBenchQuestions()
	}
	if o.References == nil {
		o.References = MTBenchReferences()
	}
	for _, q := range o.Questions {
		if mtNeedsReference(q.Category) && len(o.References[q.ID]) < len(q.Turns) {
			return fmt.Errorf("eval: mt-bench: question %s (category %s) needs a reference answer for each of its %d turns; the reference file has %d",
				q.ID, q.Category, len(q.Turns), len(o.References[q.ID]))
		}
	}
	if o.MaxNewTokens <= 0 {
		o.MaxNewTokens = 1024
	}
	if o.JudgeAttempts <= 0 {
		o.JudgeAttempts = 1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = max(1, pool.Capacity())
	}
	return nil
}

// mtGenOptions is gen_model_answer.py's decoding: greedy below temperature 1e-4, else
// sampling at the category temperature; no top-p, top-k or repetition penalty.
func mtGenOptions(category string, maxNew int) runtime.Options {
	t := mtTemperature(category)
	if t < 1e-4 {
		t = 0
	}
	return runtime.Options{Temperature: t, TopP: 1, RepeatPenalty: 1, NumPredict: maxNew}
}

// MTAnswerPath is where a model's answers go: model_answer/<model>.jsonl, the name made safe
// for a file (the row's model_id keeps the real name).
func MTAnswerPath(out, model string) string {
	return filepath.Join(out, "model_answer", fileName(model)+".jsonl")
}

// MTJudgmentPath is model_judgment/<judge>_single.jsonl or _pair.jsonl.
func MTJudgmentPath(out, judge, mode string) string {
	suffix := "_single.jsonl"
	if mode == "pairwise" {
		suffix = "_pair.jsonl"
	}
	return filepath.Join(out, "model_judgment", fileName(judge)+suffix)
}

// ReadMTAnswers reads a model_answer file by question id. A question answered twice keeps
// its first row (the file is append-only; a FastChat file reorganised by reorg_answer_file
// has each once).
func ReadMTAnswers(path string) (map[QuestionID]MTAnswer, error) {
	out := map[QuestionID]MTAnswer{}
	_, err := runtime.ScanAppendLog(path, func(b []byte) error {
		var a MTAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			return fmt.Errorf("not a model answer: %w", err)
		}
		if _, ok := out[a.QuestionID]; !ok {
			out[a.QuestionID] = a
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: answers: %w", err)
	}
	return out, nil
}

// ReadMTSingleJudgments reads a <judge>_single.jsonl file (FastChat's or align's).
func ReadMTSingleJudgments(path string) ([]MTSingleJudgment, error) {
	var rows []MTSingleJudgment
	_, err := runtime.ScanAppendLog(path, func(b []byte) error {
		var r MTSingleJudgment
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("not a single judgment {question_id, model, judge, score, turn}: %w", err)
		}
		if r.Turn == 0 {
			r.Turn = 1
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: judgments: %w", err)
	}
	return rows, nil
}

// ReadMTPairJudgments reads a <judge>_pair.jsonl file (FastChat's or align's).
func ReadMTPairJudgments(path string) ([]MTPairJudgment, error) {
	var rows []MTPairJudgment
	_, err := runtime.ScanAppendLog(path, func(b []byte) error {
		var r MTPairJudgment
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("not a pairwise judgment {question_id, model_1, model_2, g1_winner, g2_winner}: %w", err)
		}
		if r.Turn == 0 {
			r.Turn = 1
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: judgments: %w", err)
	}
	return rows, nil
}

var (
	mtOneScore       = regexp.MustCompile(`\[\[(\d+\.?\d*)\]\]`)
	mtOneScoreBackup = regexp.MustCompile(`\[(\d+\.?\d*)\]`)
)

// FastChatRating parses a single-grading answer as run_judge_single does: the first
// [[number]], else the first [number]; −1 when there is none. Any number is kept, as FastChat
// keeps it.
func FastChatRating(text string) float64 {
	for _, re := range []*regexp.Regexp{mtOneScore, mtOneScoreBackup} {
		if m := re.FindStringSubmatch(text); m != nil {
			if v, err := strconv.ParseFloat(m[1], 64); err == nil {
				return v
			}
		}
	}
	return -1
}

// FastChatWinner parses a pairwise answer as run_judge_pair does for [[A]]-format prompts:
// "[[A]]" anywhere gives A, else "[[B]]" B, else "[[C]]" a tie, else an error.
func FastChatWinner(text string) string {
	switch {
	case strings.Contains(text, "[[A]]"):
		return "A"
	case strings.Contains(text, "[[B]]"):
		return "B"
	case strings.Contains(text, "[[C]]"):
		return "tie"
	}
	return "error"
}

func nowStamp() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// answerID is a stable id of an answer (FastChat draws a random shortuuid).
func answerID(model string, q QuestionID, seeds []int64) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v", model, q.S, seeds)
	return hex.EncodeToString(h.Sum(nil))[:22]
}

// mtGenerate answers every question a model's answer file lacks, both turns in one
// conversation, and appends one row per question when its last turn is done.
func mtGenerate(ctx context.Context, pool *runtime.Pool, model string, opt MTBenchOptions, res *MTBenchResult, mu *sync.Mutex) (map[QuestionID]MTAnswer, error) {
	path := MTAnswerPath(opt.Out, model)
	have := map[QuestionID]MTAnswer{}
	log, _, err := runtime.OpenAppendLog(path, func(b []byte) error {
		var a MTAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			return fmt.Errorf("not a model answer: %w", err)
		}
		if _, ok := have[a.QuestionID]; !ok {
			have[a.QuestionID] = a
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: mt-bench answers of %s: %w", model, err)
	}
	defer log.Close()
	var todo []MTQuestion
	for _, q := range opt.Questions {
		if a, ok := have[q.ID]; ok && len(a.Choices) > 0 && len(a.Choices[0].Turns) >= len(q.Turns) {
			res.AnswersExisting++
			continue
		}
		todo = append(todo, q)
	}
	done := 0
	var failures []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Concurrency)
	for _, q := range todo {
		g.Go(func() error {
			o := mtGenOptions(q.Category, opt.MaxNewTokens)
			seeds := runtime.SampleSeeds(opt.Seed, "mt-bench/"+q.ID.S, len(q.Turns))
			params := &MTGenerateParams{Temperature: o.Temperature, MaxNewToken: o.NumPredict, Seeds: seeds, Options: o}
			var msgs []runtime.Message
			var turns []string
			var ferr error
			for j, text := range q.Turns {
				msgs = append(msgs, runtime.Message{Role: "user", Content: text})
				r, err := pool.Generate(gctx, runtime.GenerateRequest{Model: model, Messages: msgs, Seed: seeds[j], Options: o})
				if err != nil {
					ferr = err
					break
				}
				out := strings.TrimSpace(r.Text) // gen_model_answer.py strips the output
				turns = append(turns, out)
				params.DoneReasons = append(params.DoneReasons, r.DoneReason)
				params.EvalCounts = append(params.EvalCounts, r.EvalCount)
				msgs = append(msgs, runtime.Message{Role: "assistant", Content: out})
			}
			mu.Lock()
			defer mu.Unlock()
			done++
			if opt.Progress != nil {
				opt.Progress("answer "+model, done, len(todo))
			}
			if ferr != nil {
				if errors.Is(ferr, runtime.ErrModelNotFound) {
					return ferr
				}
				if gctx.Err() != nil {
					return gctx.Err()
				}
				res.Failed++
				if len(failures) < 3 {
					failures = append(failures, ferr.Error())
				}
				return nil
			}
			a := MTAnswer{QuestionID: q.ID, AnswerID: answerID(model, q.ID, seeds), ModelID: model,
				Choices: []MTChoice{{Index: 0, Turns: turns}}, Tstamp: nowStamp(), GenerateParams: params}
			if err := log.Append(a); err != nil {
				return err
			}
			have[q.ID] = a
			res.Answered++
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return have, fmt.Errorf("eval: mt-bench answers of %s: %w", model, err)
	}
	if len(failures) > 0 {
		return have, fmt.Errorf("eval: mt-bench answers of %s: %d questions failed (a rerun retries them): %s", model, len(todo)-countDone(have, todo), strings.Join(failures, "; "))
	}
	return have, nil
}

func countDone(have map[QuestionID]MTAnswer, qs []MTQuestion) int {
	n := 0
	for _, q := range qs {
		if _, ok := have[q.ID]; ok {
			n++
		}
	}
	return n
}

type mtSingleKey struct {
	judge, prompt, qid, model string
	turn                      int
}

type mtPairKey struct {
	judge, prompt, qid, m1, m2 string
	turn                       int
}

// mtTask is one judgment to make: a question, a turn and the judge prompt for them.
type mtTask struct {
	q      MTQuestion
	turn   int
	prompt string
	m1, m2 string // m2 empty in single mode
}

// mtPromptFor chooses FastChat's judge prompt for a question and turn (gen_judgment.py).
func mtPromptFor(mode string, q MTQuestion, turn int) string {
	def, math, defMT, mathMT := mtJudgePrompts(mode)
	ref := mtNeedsReference(q.Category)
	switch {
	case turn == 2 && ref:
		return mathMT
	case turn == 2:
		return defMT
	case ref:
		return math
	}
	return def
}

// mtTurns lists the judged turns of a question: turn 1, and turn 2 when the question has
// exactly two (make_match* skip the multi-turn match otherwise).
func mtTurns(q MTQuestion) []int {
	if len(q.Turns) == 2 {
		return []int{1, 2}
	}
	return []int{1}
}

// singleVars fills a single-grading prompt (run_judge_single).
func singleVars(q MTQuestion, a MTAnswer, ref []string, turn int) map[string]string {
	v := map[string]string{}
	if ref != nil {
		v["ref_answer_1"] = ref[0]
		if len(ref) > 1 {
			v["ref_answer_2"] = ref[1]
		}
	}
	t := a.Choices[0].Turns
	if turn == 2 {
		v["question_1"], v["question_2"] = q.Turns[0], q.Turns[1]
		v["answer_1"], v["answer_2"] = t[0], t[1]
	} else {
		v["question"], v["answer"] = q.Turns[0], t[0]
	}
	return v
}

// pairVarsMT fills a pairwise prompt with a as A and b as B (run_judge_pair).
func pairVarsMT(q MTQuestion, a, b MTAnswer, ref []string, turn int) map[string]string {
	v := map[string]string{}
	if ref != nil {
		v["ref_answer_1"] = ref[0]
		if len(ref) > 1 {
			v["ref_answer_2"] = ref[1]
		}
	}
	ta, tb := a.Choices[0].Turns, b.Choices[0].Turns
	if turn == 2 {
		v["question_1"], v["question_2"] = q.Turns[0], q.Turns[1]
		v["answer_a_1"], v["answer_b_1"] = ta[0], tb[0]
		v["answer_a_2"], v["answer_b_2"] = ta[1], tb[1]
	} else {
		v["question"], v["answer_a"], v["answer_b"] = q.Turns[0], ta[0], tb[0]
	}
	return v
}

func userPrompt(msgs []runtime.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return msgs[i].Content
		}
	}
	return ""
}

// RunMTBench answers, judges and scores MT-Bench: what the answer and judgment files lack is
// made and appended (a killed run resumes with every row exactly once); the score table of
// every row of the current models and questions goes to Out/report.json and report.html.
func RunMTBench(ctx context.Context, pool *runtime.Pool, opt MTBenchOptions) (*MTBenchResult, error) {
	if err := opt.defaults(pool); err != nil {
		return nil, err
	}
	res := &MTBenchResult{}
	var mu sync.Mutex

	// 1. answers
	models := append([]string(nil), opt.Models...)
	if opt.Baseline != "" && !contains(models, opt.Baseline) {
		models = append(models, opt.Baseline)
	}
	answers := map[string]map[QuestionID]MTAnswer{}
	var genErrs []error
	for _, m := range models {
		res.AnswerFiles = append(res.AnswerFiles, MTAnswerPath(opt.Out, m))
		a, err := mtGenerate(ctx, pool, m, opt, res, &mu)
		answers[m] = a
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, runtime.ErrModelNotFound) {
				return res, err
			}
			genErrs = append(genErrs, err)
		}
	}

	// 2. judgments

	tplCache := map[string]runtime.JudgeTemplate{}
	for _, q := range opt.Questions {
		for _, t := range mtTurns(q) {
			name := mtPromptFor(opt.Mode, q, t)
			if _, ok := tplCache[name]; !ok {
				tpl, err := runtime.Template("mt-bench/" + name)
				if err != nil {
					return res, fmt.Errorf("eval: mt-bench: %w", err)
				}
				tplCache[name] = tpl
			}
		}
	}

	path := MTJudgmentPath(opt.Out, opt.Judge, opt.Mode)
	res.JudgmentFile = path
	singleHave := map[mtSingleKey]bool{}
	pairHave := map[mtPairKey]bool{}
	log, _, err := runtime.OpenAppendLog(path, func(b []byte) error {
		if opt.Mode == "pairwise" {
			var r MTPairJudgment
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("not a pairwise judgment: %w", err)
			}
			pairHave[mtPairKey{r.Judge[0], r.Judge[1], r.QuestionID.S, r.Model1, r.Model2, max(r.Turn, 1)}] = true
			return nil
		}
		var r MTSingleJudgment
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("not a single judgment: %w", err)
		}
		singleHave[mtSingleKey{r.Judge[0], r.Judge[1], r.QuestionID.S, r.Model, max(r.Turn, 1)}] = true
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("eval: mt-bench judgments: %w", err)
	}
	defer log.Close()

	var matches [][2]string
	if opt.Mode == "single" {
		for _, m := range opt.Models {
			matches = append(matches, [2]string{m, ""})
		}
	} else if opt.Baseline != "" {
		for _, m := range opt.Models {
			if m != opt.Baseline {
				matches = append(matches, [2]string{m, opt.Baseline})
			}
		}
	} else {
		for i := range opt.Models {
			for j := i + 1; j < len(opt.Models); j++ {
				matches = append(matches, [2]string{opt.Models[i], opt.Models[j]})
			}
		}
	}
	var tasks []mtTask
	missingAnswers := 0
	for _, q := range opt.Questions {
		for _, t := range mtTurns(q) {
			prompt := mtPromptFor(opt.Mode, q, t)
			for _, mm := range matches {
				if opt.Mode == "single" {
					if singleHave[mtSingleKey{opt.Judge, prompt, q.ID.S, mm[0], t}] {
						res.JudgmentsExisting++
						continue
					}
				} else if pairHave[mtPairKey{opt.Judge, prompt, q.ID.S, mm[0], mm[1], t}] {
					res.JudgmentsExisting++
					continue
				}
				_, ok1 := answers[mm[0]][q.ID]
				_, ok2 := answers[mm[1]][q.ID]
				if !ok1 || (mm[1] != "" && !ok2) {
					missingAnswers++
					continue
				}
				tasks = append(tasks, mtTask{q: q, turn: t, prompt: prompt, m1: mm[0], m2: mm[1]})
			}
		}
	}
	done := 0
	var failures []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Concurrency)
	for _, tk := range tasks {
		g.Go(func() error {
			tpl := tplCache[tk.prompt]
			var ref []string
			if mtNeedsReference(tk.q.Category) {
				ref = opt.References[tk.q.ID]
			}
			key := fmt.Sprintf("%s|%s|%s|%s|%s|%d", opt.Judge, tk.prompt, tk.q.ID.S, tk.m1, tk.m2, tk.turn)
			seed := opt.Seed + taskSeed(key)
			ask := func(vars map[string]string, seed int64) (runtime.Game, []runtime.Message, error) {
				return runtime.JudgeVars(gctx, pool, runtime.VarsRequest{Judge: opt.Judge, Template: tpl, Vars: vars,
					Attempts: opt.JudgeAttempts, Seed: seed, Options: opt.JudgeOptions, Structured: opt.Structured})
			}
			var row any
			var jerr error
			if tk.m2 == "" {
				gm, msgs, err := ask(singleVars(tk.q, answers[tk.m1][tk.q.ID], ref, tk.turn), seed)
				jerr = err
				if err == nil {
					raw := lastRaw(gm)
					score := FastChatRating(raw)
					if opt.Structured {
						score = -1
						if gm.Verdict.Valid {
							score = gm.Verdict.Score
						}
					}
					row = MTSingleJudgment{QuestionID: tk.q.ID, Model: tk.m1, Judge: [2]string{opt.Judge, tk.prompt},
						UserPrompt: userPrompt(msgs), Judgment: raw, Score: score, Turn: tk.turn, Tstamp: nowStamp(),
						Seed: gm.Seed, Attempts: gm.Attempts}
				}
			} else {
				a1, a2 := answers[tk.m1][tk.q.ID], answers[tk.m2][tk.q.ID]
				g1, msgs1, err := ask(pairVarsMT(tk.q, a1, a2, ref, tk.turn), seed)
				var g2 runtime.Game
				var msgs2 []runtime.Message
				if err == nil {
					g2, msgs2, err = ask(pairVarsMT(tk.q, a2, a1, ref, tk.turn), seed+1<<20)
				}
				jerr = err
				if err == nil {
					w1 := mtPairWinner(g1, opt.Structured, false)
					w2 := mtPairWinner(g2, opt.Structured, true)
					row = MTPairJudgment{QuestionID: tk.q.ID, Model1: tk.m1, Model2: tk.m2, G1Winner: w1, G2Winner: w2,
						Judge: [2]string{opt.Judge, tk.prompt}, G1UserPrompt: userPrompt(msgs1), G1Judgment: lastRaw(g1),
						G2UserPrompt: userPrompt(msgs2), G2Judgment: lastRaw(g2), Turn: tk.turn, Tstamp: nowStamp(),
						Seeds: []int64{g1.Seed, g2.Seed}}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			done++
			if opt.Progress != nil {
				opt.Progress("judge", done, len(tasks))
			}
			if jerr != nil {
				if errors.Is(jerr, runtime.ErrModelNotFound) {
					return jerr
				}
				if gctx.Err() != nil {
					return gctx.Err()
				}
				res.Failed++
				if len(failures) < 3 {
					failures = append(failures, jerr.Error())
				}
				return nil
			}
			if err := log.Append(row); err != nil {
				return err
			}
			res.Judged++
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, fmt.Errorf("eval: mt-bench judging: %w", err)
	}

	// 3. scores over every row of the current models, questions and judge
	rep, invalid, err := MTBenchReportFromFiles(opt.Out, opt.Judge, opt.Mode, opt.Baseline, opt.Models, opt.Questions)
	if err != nil {
		return res, err
	}
	res.Invalid = invalid
	for _, e := range genErrs {
		rep.Warnings = append(rep.Warnings, e.Error())
	}
	if missingAnswers > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d judgments wait for answers that failed to generate (a rerun retries them)", missingAnswers))
	}
	if res.Failed > 0 && len(failures) > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d calls failed and are missing (a rerun retries them): %s", res.Failed, strings.Join(failures, "; ")))
	}
	rep.Source["structured"] = strconv.FormatBool(opt.Structured)
	rep.Source["seed"] = strconv.FormatInt(opt.Seed, 10)
	res.Report = rep
	if err := rep.Write(opt.Out); err != nil {
		return res, err
	}
	if len(genErrs) > 0 {
		return res, errors.Join(genErrs...)
	}
	if sc := rep.MTBenchScores; sc.Judgments > 0 && sc.Invalid == sc.Judgments {
		return res, fmt.Errorf("eval: mt-bench: none of the %d judge answers carries a verdict (kept with their raw text in %s); try --structured, or a stronger judge", sc.Judgments, path)
	}
	return res, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// lastRaw is the judge's last answer (the one the verdict was read from).
func lastRaw(g runtime.Game) string {
	if len(g.Raws) == 0 {
		return g.Verdict.Raw
	}
	return g.Raws[len(g.Raws)-1]
}

// mtPairWinner maps a game's verdict to model_1/model_2/tie/error (play_a_match_pair's
// g1_map and g2_map); swapped says that model_2's answer was shown as A.
func mtPairWinner(g runtime.Game, structured, swapped bool) string {
	w := "error"
	if structured {
		if g.Verdict.Valid {
			w = map[string]string{"A": "A", "B": "B", "C": "tie"}[g.Verdict.Label]
		}
	} else {
		w = FastChatWinner(lastRaw(g))
	}
	switch {
	case w == "A" && !swapped, w == "B" && swapped:
		return "model_1"
	case w == "A" || w == "B":
		return "model_2"
	case w == "":
		return "error"
	}
	return w
}

// MTBenchReportFromFiles scores the judgment file of a judge under out, as show_result.py
// does, restricted to the given models (FastChat's --model-list) and questions; with no
// models, every model in the file. It returns the report and the number of judgments without
// a verdict.
func MTBenchReportFromFiles(out, judge, mode, baseline string, models []string, qs []MTQuestion) (*Report, int, error) {
	path := MTJudgmentPath(out, judge, mode)
	cat := map[string]string{}
	for _, q := range qs {
		cat[q.ID.S] = q.Category
	}
	keep := func(m string) bool { return len(models) == 0 || contains(models, m) || m == baseline }
	var sc *MTBenchScores
	invalid := 0
	if mode == "pairwise" {
		rows, err := ReadMTPairJudgments(path)
		if err != nil {
			return nil, 0, err
		}
		var mine []MTPairJudgment
		for _, r := range rows {
			if _, ok := cat[r.QuestionID.S]; (ok || len(qs) == 0) && keep(r.Model1) && keep(r.Model2) {
				mine = append(mine, r)
			}
		}
		sc = MTBenchPairTable(mine, cat, baseline)
		invalid = sc.Invalid
	} else {
		rows, err := ReadMTSingleJudgments(path)
		if err != nil {
			return nil, 0, err
		}
		var mine []MTSingleJudgment
		for _, r := range rows {
			if _, ok := cat[r.QuestionID.S]; (ok || len(qs) == 0) && keep(r.Model) {
				mine = append(mine, r)
			}
		}
		sc = MTBenchSingleTable(mine, cat)
		invalid = sc.Invalid
	}
	sc.Judge = judge
	rep := &Report{Kind: "mt-bench", MTBenchScores: sc, Source: map[string]string{"judge": judge, "mode": mode, "judgments": path}}
	if baseline != "" {
		rep.Source["baseline"] = baseline
	}
	if invalid > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d judge answers carry no verdict; they are kept with their raw text in %s and left out of the scores, as show_result.py leaves them out", invalid, filepath.Base(path)))
	}
	return rep, invalid, nil
}

// MTBenchScores is the MT-Bench score table of a report.
type MTBenchScores struct {
	Mode       string   `json:"mode"`
	Judge      string   `json:"judge"`
	Categories []string `json:"categories"`
	// Single: display_result_single's three tables (first turn, second turn, average) and the
	// mean per category over both turns; models sorted by average, highest first.
	Single []MTBenchModelScore `json:"single,omitempty"`
	// Pairwise: display_result_pairwise over every turn, and win_rate_adjusted per category.
	Pairwise           []MTBenchPairRow              `json:"pairwise,omitempty"`
	PairwiseByCategory map[string]map[string]float64 `json:"pairwise_by_category,omitempty"`
	// Judgments counts the rows scored; Invalid those without a verdict (score −1, or a game
	// with an "error" winner).
	Judgments int `json:"judgments"`
	Invalid   int `json:"invalid"`
}

// MTBenchModelScore is one model's single-grading scores.
type MTBenchModelScore struct {
	Model      string             `json:"model"`
	Turn1      float64            `json:"turn_1"`
	Turn2      float64            `json:"turn_2"`
	Average    float64            `json:"average"`
	Categories map[string]float64 `json:"categories"`
	N          int                `json:"n"`
	Invalid    int                `json:"invalid"`
}

// MTBenchSingleTable is show_result.py's single mode over rows: ratings of −1 are dropped;
// turn means per model, the average over all remaining rows, and the mean per category
// (cat maps question ids to categories).
func MTBenchSingleTable(rows []MTSingleJudgment, cat map[string]string) *MTBenchScores {
	sc := &MTBenchScores{Mode: "single", Judgments: len(rows)}
	var scores []SingleScore
	byCat := map[string]map[string][]float64{}
	cats := map[string]bool{}
	for _, r := range rows {
		scores = append(scores, SingleScore{Model: r.Model, Turn: r.Turn, Score: r.Score})
		c := cat[r.QuestionID.S]
		if c != "" {
			cats[c] = true
		}
		if r.Score == -1 || math.IsNaN(r.Score) {
			sc.Invalid++
			continue
		}
		if byCat[r.Model] == nil {
			byCat[r.Model] = map[string][]float64{}
		}
		if c != "" {
			byCat[r.Model][c] = append(byCat[r.Model][c], r.Score)
		}
	}
	for _, row := range MTBenchSingle(scores) {
		ms := MTBenchModelScore{Model: row.Model, Average: row.Score, N: row.N, Invalid: row.Invalid, Categories: map[string]float64{},
			Turn1: math.NaN(), Turn2: math.NaN()}
		if v, ok := row.Turns[1]; ok {
			ms.Turn1 = v
		}
		if v, ok := row.Turns[2]; ok {
			ms.Turn2 = v
		}
		for c, v := range byCat[row.Model] {
			ms.Categories[c] = mean(v)
		}
		sc.Single = append(sc.Single, ms)
	}
	sc.Categories = sortedCategories(cats)
	return sc
}

// MTBenchPairTable is show_result.py's pairwise mode over rows (pairwise-baseline when
// baseline is set, else pairwise-all), with win_rate_adjusted per category too.
func MTBenchPairTable(rows []MTPairJudgment, cat map[string]string, baseline string) *MTBenchScores {
	sc := &MTBenchScores{Mode: "pairwise", Judgments: len(rows), PairwiseByCategory: map[string]map[string]float64{}}
	cats := map[string]bool{}
	games := func(filter string) []PairGames {
		var gs []PairGames
		for _, r := range rows {
			if filter != "" && cat[r.QuestionID.S] != filter {
				continue
			}
			gs = append(gs, PairGames{Model1: r.Model1, Model2: r.Model2, G1Winner: r.G1Winner, G2Winner: r.G2Winner})
		}
		return gs
	}
	for _, r := range rows {
		if c := cat[r.QuestionID.S]; c != "" {
			cats[c] = true
		}
		if r.G1Winner == "error" || r.G2Winner == "error" {
			sc.Invalid++
		}
	}
	sc.Pairwise = MTBenchPairwise(games(""), baseline)
	sc.Categories = sortedCategories(cats)
	for _, c := range sc.Categories {
		for _, row := range MTBenchPairwise(games(c), baseline) {
			if sc.PairwiseByCategory[row.Model] == nil {
				sc.PairwiseByCategory[row.Model] = map[string]float64{}
			}
			sc.PairwiseByCategory[row.Model][c] = row.WinRateAdjusted
		}
	}
	return sc
}

// mtCategoryOrder is the order of FastChat's radar plot.
var mtCategoryOrder = []string{"writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities"}

func sortedCategories(set map[string]bool) []string {
	var out []string
	for _, c := range mtCategoryOrder {
		if set[c] {
			out = append(out, c)
			delete(set, c)
		}
	}
	var rest []string
	for c := range set {
		rest = append(rest, c)
	}
	sort.Strings(rest)
	return append(out, rest...)
}
