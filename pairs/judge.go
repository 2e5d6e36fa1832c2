package pairs

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/alignkit/align/runtime"
)

// Judge judges the candidates of one prompt. A pairwise judge plays games (Play); a grading
// judge scores candidates (Grade). The rule judge does both.
type Judge interface {
	// Pairwise reports whether the judge compares two responses rather than grading one.
	Pairwise() bool
	// Play compares a and b as answers to instruction: +1 when a is better, -1 when b is, 0
	// for a tie or an answer that did not parse. bracket keys the game (see BracketWinners).
	Play(ctx context.Context, instruction, a, b, bracket string) (int, error)
	// Grade scores each candidate; NaN for a grade that did not parse.
	Grade(ctx context.Context, instruction string, cands []string) ([]float64, error)
}

// RuleJudge is the quickstart's documented preference: a response scores one point per
// occurrence of a target word (case-insensitive, whole words); of two responses with equal
// scores, the one whose length in words is closer to TargetLength wins; otherwise it is a tie.
// It needs no server.
type RuleJudge struct {
	Words        []string
	TargetLength int
}

// Score counts the target words in text.
func (j RuleJudge) Score(text string) int {
	set := map[string]bool{}
	for _, w := range j.Words {
		set[strings.ToLower(w)] = true
	}
	n := 0
	for _, w := range ruleWords(text) {
		if set[w] {
			n++
		}
	}
	return n
}

// RankScore is a scalar that orders responses exactly as Compare does: the word count plus
// 1/(1 + |length in words - TargetLength|), a tie-break in (0, 1] that never outweighs one
// target word. Equal RankScores are Compare's ties.
func (j RuleJudge) RankScore(text string) float64 {
	return float64(j.Score(text)) + 1/(1+float64(j.lengthGap(len(ruleWords(text)))))
}

// lengthGap is |words − TargetLength|, the tie-break distance of RankScore.
func (j RuleJudge) lengthGap(words int) int {
	d := words - j.TargetLength
	if d < 0 {
		return -d
	}
	return d
}

func ruleWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
}

// Compare returns +1 when a is preferred, -1 when b is, 0 for a tie.
func (j RuleJudge) Compare(a, b string) int {
	ra, rb := j.RankScore(a), j.RankScore(b)
	switch {
	case ra > rb:
		return 1
	case ra < rb:
		return -1
	}
	return 0
}

// Pairwise implements Judge: the rule judge grades (its Play compares grades).
func (j RuleJudge) Pairwise() bool { return false }

// Play implements Judge.
func (j RuleJudge) Play(_ context.Context, _, a, b, _ string) (int, error) {
	return j.Compare(a, b), nil
}

// Grade implements Judge with RankScore, so that grades order candidates as Compare does.
func (j RuleJudge) Grade(_ context.Context, _ string, cands []string) ([]float64, error) {
	out := make([]float64, len(cands))
	for i, c := range cands {
		out[i] = j.RankScore(c)
	}
	return out, nil
}

// Grading modes of an LLM judge with a grading template.
const (
	// GradeEach asks one question per candidate (runtime.JudgeSingle).
	GradeEach = "each"
	// GradeSideBySide shows all of a prompt's candidates in one question and asks for a score
	// for each (DNO, Rosset et al. 2024, §5: the judge sees the candidates side by side).
	GradeSideBySide = "side_by_side"
)

// LLMJudge asks an Ollama judge model through runtime. With a pairwise template it plays games,
// judging both orders and averaging (runtime.JudgePair); with a grading template it grades,
// one candidate per call or side by side. Every answer goes to a judgment log as it arrives, so
// that a resumed iteration never asks the same question twice.
type LLMJudge struct {
	Pool     *runtime.Pool
	Model    string
	Template runtime.JudgeTemplate
	// Structured constrains answers with Ollama's structured outputs.
	Structured bool
	// Options replaces the template's sampling options when set (a recipe's temperature).
	Options *runtime.Options
	// Mode is GradeSideBySide (OpenLLMJudge's default) or GradeEach for grading templates.
	Mode string
	// Seed is the base of the judge's seeds; each question's seed mixes in its key.
	Seed int64
	log  *judgeLog
}

// OpenLLMJudge makes an LLM judge whose answers are logged in logPath (created or resumed).
func OpenLLMJudge(pool *runtime.Pool, model, template string, structured bool, temperature *float64, mode string, seed int64, logPath string) (*LLMJudge, error) {
	tpl, err := runtime.Template(template)
	if err != nil {
		return nil, fmt.Errorf("pairs: judge template: %w", err)
	}
	if mode == "" {
		mode = GradeEach
		if tpl.Kind == runtime.Single {
			mode = GradeSideBySide
		}
	}
	if mode != GradeEach && mode != GradeSideBySide {
		return nil, fmt.Errorf("pairs: judge mode %q: want %s or %s", mode, GradeEach, GradeSideBySide)
	}
	if mode == GradeSideBySide && tpl.Kind != runtime.Single {
		return nil, fmt.Errorf("pairs: side-by-side grading needs a grading template (such as dno-additive6), not the pairwise %s", tpl.Name)
	}
	if structured {
		if _, err := runtime.StructuredFormat(tpl); err != nil {
			return nil, fmt.Errorf("pairs: structured judge: %w", err)
		}
	}
	jl, err := openJudgeLog(logPath)
	if err != nil {
		return nil, fmt.Errorf("pairs: judgments: %w", err)
	}
	j := &LLMJudge{Pool: pool, Model: model, Template: tpl, Structured: structured, Mode: mode, Seed: seed, log: jl}
	if temperature != nil {
		o := tpl.Options
		o.Temperature = *temperature
		j.Options = &o
	}
	return j, nil
}

// Close closes the judgment log.
func (j *LLMJudge) Close() error { return j.log.log.Close() }

// Pairwise implements Judge.
func (j *LLMJudge) Pairwise() bool { return j.Template.Kind == runtime.Pairwise }

// templateKey names the judge's question form in the keys: the template, marked when the
// answers are structured, sampled at another temperature or side by side (other answers).
func (j *LLMJudge) templateKey() string {
	k := j.Template.Name
	if j.Structured {
		k += "+structured"
	}
	if j.Options != nil {
		k += fmt.Sprintf("+t%g", j.Options.Temperature)
	}
	return k
}

func contentKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// questionSeed is the judge's seed for one question: the base seed mixed with its key, so a
// sampling judge draws independently per question and the same question gets the same seed.
func (j *LLMJudge) questionSeed(key string) int64 {
	h := sha256.Sum256([]byte(key))
	return (j.Seed ^ int64(binary.LittleEndian.Uint64(h[:8]))) & (1<<40 - 1)
}

// Play implements Judge. With a grading template it grades both and compares the grades.
func (j *LLMJudge) Play(ctx context.Context, instruction, a, b, bracket string) (int, error) {
	if !j.Pairwise() {
		g, err := j.Grade(ctx, instruction, []string{a, b})
		if err != nil {
			return 0, err
		}
		return ScoreMatch(g)(0, 1, bracket)
	}
	// Both orders are judged and averaged, so (b, a) is (a, b) negated.
	if b < a {
		c, err := j.Play(ctx, instruction, b, a, bracket)
		return -c, err
	}
	key := contentKey("pair", j.Model, j.templateKey(), bracket, instruction, a, b)
	r, err := j.log.do(ctx, judgeTask{key: key, run: func(ctx context.Context) (JudgeRecord, error) {
		res, err := runtime.JudgePair(ctx, j.Pool, runtime.JudgeRequest{Judge: j.Model, Template: j.Template, Instruction: instruction,
			Output1: a, Output2: b, Seed: j.questionSeed(key), Structured: j.Structured, Options: j.Options})
		if err != nil {
			return JudgeRecord{}, fmt.Errorf("pairs: judge: %w", err)
		}
		rec := JudgeRecord{Key: key, Kind: "pair", Bracket: bracket, Judge: j.Model, Template: j.Template.Name, Valid: res.Valid}
		for _, g := range res.Games {
			rec.Raws = append(rec.Raws, g.Raws...)
			rec.Seed = g.Seed
		}
		if res.Valid && !math.IsNaN(res.Preference) {
			rec.Preference = ptr(res.Preference)
		} else {
			rec.Valid = false
		}
		return rec, nil
	}}, nil)
	if err != nil {
		return 0, err
	}
	return PreferenceGame(val(r.Preference)), nil
}

// Grade implements Judge.
func (j *LLMJudge) Grade(ctx context.Context, instruction string, cands []string) ([]float64, error) {
	if j.Pairwise() {
		return nil, fmt.Errorf("pairs: judge template %s compares pairs; grading needs a grading template such as dno-additive6", j.Template.Name)
	}
	if j.Mode == GradeSideBySide && len(cands) > 1 {
		return j.gradeSideBySide(ctx, instruction, cands)
	}
	out := make([]float64, len(cands))
	for i, c := range cands {
		key := contentKey("single", j.Model, j.templateKey(), instruction, c)
		r, err := j.log.do(ctx, judgeTask{key: key, run: func(ctx context.Context) (JudgeRecord, error) {
			g, err := runtime.JudgeSingle(ctx, j.Pool, runtime.SingleRequest{Judge: j.Model, Template: j.Template, Instruction: instruction,
				Response: c, Seed: j.questionSeed(key), Structured: j.Structured, Options: j.Options})
			if err != nil {
				return JudgeRecord{}, fmt.Errorf("pairs: judge: %w", err)
			}
			rec := JudgeRecord{Key: key, Kind: "single", Judge: j.Model, Template: j.Template.Name, Valid: g.Verdict.Valid, Raws: g.Raws, Seed: g.Seed}
			if g.Verdict.Valid && !math.IsNaN(g.Verdict.Score) {
				rec.Score = ptr(g.Verdict.Score)
			} else {
				rec.Valid = false
			}
			return rec, nil
		}}, nil)
		if err != nil {
			return nil, err
		}
		out[i] = val(r.Score)
	}
	return out, nil
}
