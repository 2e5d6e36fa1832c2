package train

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/runtime"
)

// judgeCache keeps an iteration's judgments in stage-K/judgments.jsonl, a runtime.AppendLog
// (one fsynced line per judgment, appended as it arrives; a line torn by a crash is cut off at
// the next open), so a resumed iteration never asks the judge the same question twice.
type judgeCache struct {
	mu   sync.Mutex
	log  *runtime.AppendLog
	vals map[string]float64
}

type judgeLine struct {
	Key   string   `json:"key"`
	Value *float64 `json:"value"` // null: the judge's answer did not parse (a tie)
	Raw   []string `json:"raw,omitempty"`
}

func openJudgeCache(path string) (*judgeCache, error) {
	c := &judgeCache{vals: map[string]float64{}}
	log, _, err := runtime.OpenAppendLog(path, func(line []byte) error {
		var l judgeLine
		if err := json.Unmarshal(line, &l); err != nil {
			return err
		}
		v := math.NaN()
		if l.Value != nil {
			v = *l.Value
		}
		c.vals[l.Key] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("train: judgments: %w", err)
	}
	c.log = log
	return c, nil
}

func (c *judgeCache) get(key string) (float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vals[key]
	return v, ok
}

func (c *judgeCache) put(key string, v float64, raw []string) error {
	c.mu.Lock()
	c.vals[key] = v
	c.mu.Unlock()
	if err := c.log.Append(judgeLine{Key: key, Value: finite(v), Raw: raw}); err != nil {
		return fmt.Errorf("train: judgments: %w", err)
	}
	return nil
}

// llmJudge asks an Ollama judge model: pairwise templates compare two responses (both orders,
// averaged), single templates (DNO's 6-point rubric) grade one.
type llmJudge struct {
	pool       *runtime.Pool
	model      string
	tmpl       runtime.JudgeTemplate
	structured bool
	opts       *runtime.Options // the template's options with the recipe's temperature; nil = the template's
	seed       int64
	cache      *judgeCache
}

func newLLMJudge(hosts []string, model, template string, structured bool, temperature *float64, seed uint64, cachePath string) (*llmJudge, error) {
	tmpl, err := runtime.Template(template)
	if err != nil {
		return nil, fmt.Errorf("train: online.judge.template: %w", err)
	}
	if structured {
		if _, err := runtime.StructuredFormat(tmpl); err != nil {
			return nil, fmt.Errorf("train: online.judge.structured: %w", err)
		}
	}
	pool, err := runtime.NewPool(hosts, runtime.PoolOptions{})
	if err != nil {
		return nil, fmt.Errorf("train: judge: %w", err)
	}
	cache, err := openJudgeCache(cachePath)
	if err != nil {
		return nil, err
	}
	j := &llmJudge{pool: pool, model: model, tmpl: tmpl, structured: structured, seed: int64(seed >> 1), cache: cache}
	if temperature != nil {
		o := tmpl.Options
		o.Temperature = *temperature
		j.opts = &o
	}
	return j, nil
}

// close closes the judgments file.
func (j *llmJudge) close() error { return j.cache.log.Close() }

// judgeTemplateKey names the judge's prompt in the cache keys: the template, marked when the
// answers are structured or sampled at another temperature (they are other answers).
func judgeTemplateKey(template string, structured bool, temperature *float64) string {
	if structured {
		template += "+structured"
	}
	if temperature != nil {
		template += fmt.Sprintf("+t%g", *temperature)
	}
	return template
}

// questionSeed is the judge's seed for one question: the run's judge seed mixed with the
// question's cache key, so that a sampling judge (temperature > 0) draws independently for each
// question, and the same question always gets the same seed.
func (j *llmJudge) questionSeed(key string) int64 {
	h := sha256.Sum256([]byte(key))
	return (j.seed ^ int64(binary.LittleEndian.Uint64(h[:8]))) & (1<<40 - 1)
}

func (j *llmJudge) templateKey() string {
	var temp *float64
	if j.opts != nil {
		temp = &j.opts.Temperature
	}
	return judgeTemplateKey(j.tmpl.Name, j.structured, temp)
}

func judgeKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// compare returns +1 when a is preferred, -1 when b is, 0 for a tie or an unparsable answer.
func (j *llmJudge) compare(ctx context.Context, instruction, a, b string) (int, error) {
	if j.tmpl.Kind != runtime.Pairwise {
		sa, err := j.score(ctx, instruction, a)
		if err != nil {
			return 0, err
		}
		sb, err := j.score(ctx, instruction, b)
		if err != nil {
			return 0, err
		}
		switch {
		case sa > sb:
			return 1, nil
		case sb > sa:
			return -1, nil
		}
		return 0, nil
	}
	// Both orders are judged and averaged, so (b, a) is answered by (a, b) negated.
	if b < a {
		c, err := j.compare(ctx, instruction, b, a)
		return -c, err
	}
	key := judgeKey("pair", j.model, j.templateKey(), instruction, a, b)
	pref, ok := j.cache.get(key)
	if !ok {
		res, err := runtime.JudgePair(ctx, j.pool, runtime.JudgeRequest{Judge: j.model, Template: j.tmpl, Instruction: instruction, Output1: a, Output2: b, Seed: j.questionSeed(key), Structured: j.structured, Options: j.opts})
		if err != nil {
			return 0, fmt.Errorf("train: judge: %w", err)
		}
		pref = res.Preference
		var raws []string
		for _, g := range res.Games {
			raws = append(raws, g.Raws...)
		}
		if err := j.cache.put(key, pref, raws); err != nil {
			return 0, err
		}
	}
	switch {
	case math.IsNaN(pref) || pref == 1.5:
		return 0, nil
	case pref < 1.5:
		return 1, nil
	}
	return -1, nil
}

// score grades one response with a single-answer template; NaN when unparsable.
func (j *llmJudge) score(ctx context.Context, instruction, resp string) (float64, error) {
	if j.tmpl.Kind == runtime.Pairwise {
		return math.NaN(), fmt.Errorf("train: judge template %s compares pairs; the rubric rule needs a grading template such as dno-additive6", j.tmpl.Name)
	}
	key := judgeKey("single", j.model, j.templateKey(), instruction, resp)
	if v, ok := j.cache.get(key); ok {
		return v, nil
	}
	g, err := runtime.JudgeSingle(ctx, j.pool, runtime.SingleRequest{Judge: j.model, Template: j.tmpl, Instruction: instruction, Response: resp, Seed: j.questionSeed(key), Structured: j.structured, Options: j.opts})
	if err != nil {
		return math.NaN(), fmt.Errorf("train: judge: %w", err)
	}
	v := g.Verdict.Score
	if !g.Verdict.Valid {
		v = math.NaN()
	}
	return v, j.cache.put(key, v, g.Raws)
}

// ollamaSamples samples K responses per prompt from the current policy through Ollama: the
// policy is exported as a merged F16 GGUF and created on the servers as NAME-iter-T, then a
// runtime.SampleJob (resumable: it asks only for what its output file lacks) samples it.
func (t *trainer) ollamaSamples(ctx context.Context, stage int, prompts [][]data.Message) ([]sampleRow, error) {
	sd := t.stageDir(stage)
	name := t.r.Output.OllamaModel
	if name == "" {
		name = "align-" + strings.ReplaceAll(t.r.Name, "_", "-")
	}
	name = fmt.Sprintf("%s-iter-%d", name, stage+1)
	pool, err := runtime.NewPool(t.opt.OllamaHosts, runtime.PoolOptions{})
	if err != nil {
		return nil, fmt.Errorf("train: sampler: %w", err)
	}
	out := filepath.Join(sd, "ollama-samples.jsonl")
	if _, err := os.Stat(out); err != nil {
		// First time for this iteration: push the iterate.
		tmp := filepath.Join(sd, "policy.gguf")
		if err := exportTo(ctx, t.policy, "gguf:"+tmp, nil, io.Discard); err != nil {
			return nil, err
		}
		defer os.Remove(tmp)
		if _, err := pool.Create(ctx, runtime.CreateRequest{Name: name, GGUF: tmp}); err != nil {
			return nil, fmt.Errorf("train: push the policy to Ollama as %s: %w", name, err)
		}
		t.prog.Log("stage %d: pushed the policy to Ollama as %s", stage+1, name)
	}
	raw := t.policy.TemplateName() == ""
	opts := runtime.Options{Temperature: t.r.Online.Sampling.Temperature, TopP: t.r.Online.Sampling.TopP, TopK: t.r.Online.Sampling.TopK, NumPredict: t.r.Online.Sampling.MaxTokens, RepeatPenalty: 1}
	texts, err := runSampleJob(ctx, pool, name, raw, t.r.Online.SamplesPerPrompt, int64(seedFor(t.r.Seed, 2, stage)>>33), opts, out, prompts)
	if err != nil {
		return nil, err
	}
	rows := make([]sampleRow, len(prompts))
	for i := range rows {
		rows[i] = sampleRow{Prompt: prompts[i], Samples: texts[i]}
	}
	return rows, nil
}

// runSampleJob samples k responses per prompt from an Ollama model with a runtime.SampleJob
// (resumable: it asks only for what out lacks) and returns them by prompt. raw sends the
// prompts' turns joined by newlines with no template; otherwise they go to /api/chat.
func runSampleJob(ctx context.Context, pool *runtime.Pool, model string, raw bool, k int, seed int64, opts runtime.Options, out string, prompts [][]data.Message) ([][]string, error) {
	job := runtime.SampleJob{Model: model, K: k, Seed: seed, Raw: raw, Out: out, Options: opts}
	for i, p := range prompts {
		rp := runtime.Prompt{ID: fmt.Sprintf("p%d", i)}
		if raw {
			parts := make([]string, len(p))
			for k, m := range p {
				parts[k] = m.Content
			}
			rp.Prompt = strings.Join(parts, "\n")
		} else {
			for _, m := range p {
				rp.Messages = append(rp.Messages, runtime.Message{Role: m.Role, Content: m.Content})
			}
		}
		job.Prompts = append(job.Prompts, rp)
	}
	sum, err := job.Run(ctx, pool, nil)
	if err != nil {
		return nil, fmt.Errorf("train: sample %s through Ollama: %w", model, err)
	}
	if sum.Failed > 0 {
		return nil, fmt.Errorf("train: sample %s through Ollama: %d requests failed (%v); rerun with --resume to retry only those", model, sum.Failed, sum.Errors)
	}
	got, err := runtime.ReadSamples(out)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	texts := make([][]string, len(prompts))
	for i := range texts {
		texts[i] = make([]string, k)
	}
	for _, s := range got {
		var i int
		if _, err := fmt.Sscanf(s.PromptID, "p%d", &i); err != nil || i >= len(texts) || s.Sample >= k {
			continue
		}
		texts[i][s.Sample] = s.Response
	}
	return texts, nil
}

// teacherSamples fills the missing teacher responses of an iteration from online.teacher_model:
// one response per prompt that the dataset gives no reference, sampled through Ollama with the
// recipe's sampling options into stage-K/teacher-samples.jsonl (resumable), in raw mode when
// the policy is a raw-completion model (the prompts are written for it).
func (t *trainer) teacherSamples(ctx context.Context, stage int, prompts [][]data.Message, teachers []string) error {
	model := t.r.Online.TeacherModel
	if model == "" {
		return nil
	}
	var idx []int
	var ps [][]data.Message
	for i, s := range teachers {
		if s == "" {
			idx = append(idx, i)
			ps = append(ps, prompts[i])
		}
	}
	if len(ps) == 0 {
		return nil
	}
	pool, err := runtime.NewPool(t.opt.OllamaHosts, runtime.PoolOptions{})
	if err != nil {
		return fmt.Errorf("train: teacher: %w", err)
	}
	sp := t.r.Online.Sampling
	opts := runtime.Options{Temperature: sp.Temperature, TopP: sp.TopP, TopK: sp.TopK, NumPredict: sp.MaxTokens, RepeatPenalty: 1}
	texts, err := runSampleJob(ctx, pool, model, t.policy.TemplateName() == "", 1, int64(seedFor(t.r.Seed, 5, stage)>>33), opts, filepath.Join(t.stageDir(stage), "teacher-samples.jsonl"), ps)
	if err != nil {
		return fmt.Errorf("train: online.teacher_model: %w", err)
	}
	for k, i := range idx {
		teachers[i] = texts[k][0]
	}
	t.prog.Log("stage %d: %d teacher responses from %s", stage+1, len(idx), model)
	return nil
}
