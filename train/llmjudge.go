package train

import (
	"bufio"
	"context"
	"crypto/sha256"
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

// judgeCache keeps an iteration's judgments in stage-K/judgments.jsonl, appended as they
// arrive, so a resumed iteration never asks the judge the same question twice. A line cut by a
// crash is ignored.
type judgeCache struct {
	mu   sync.Mutex
	path string
	vals map[string]float64
}

type judgeLine struct {
	Key   string   `json:"key"`
	Value *float64 `json:"value"` // null: the judge's answer did not parse (a tie)
	Raw   []string `json:"raw,omitempty"`
}

func openJudgeCache(path string) *judgeCache {
	c := &judgeCache{path: path, vals: map[string]float64{}}
	f, err := os.Open(path)
	if err != nil {
		return c
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l judgeLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			break
		}
		v := math.NaN()
		if l.Value != nil {
			v = *l.Value
		}
		c.vals[l.Key] = v
	}
	return c
}

func (c *judgeCache) get(key string) (float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vals[key]
	return v, ok
}

func (c *judgeCache) put(key string, v float64, raw []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vals[key] = v
	f, err := os.OpenFile(c.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: judgments: %w", err)
	}
	defer f.Close()
	b, _ := json.Marshal(judgeLine{Key: key, Value: finite(v), Raw: raw})
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("train: judgments: %w", err)
	}
	return f.Sync()
}

// llmJudge asks an Ollama judge model: pairwise templates compare two responses (both orders,
// averaged), single templates (DNO's 6-point rubric) grade one.
type llmJudge struct {
	pool  *runtime.Pool
	model string
	tmpl  runtime.JudgeTemplate
	seed  int64
	cache *judgeCache
}

func newLLMJudge(hosts []string, model, template string, seed uint64, cachePath string) (*llmJudge, error) {
	tmpl, err := runtime.Template(template)
	if err != nil {
		return nil, fmt.Errorf("train: online.judge.template: %w", err)
	}
	pool, err := runtime.NewPool(hosts, runtime.PoolOptions{})
	if err != nil {
		return nil, fmt.Errorf("train: judge: %w", err)
	}
	return &llmJudge{pool: pool, model: model, tmpl: tmpl, seed: int64(seed >> 1), cache: openJudgeCache(cachePath)}, nil
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
	key := judgeKey("pair", j.model, j.tmpl.Name, instruction, a, b)
	pref, ok := j.cache.get(key)
	if !ok {
		res, err := runtime.JudgePair(ctx, j.pool, runtime.JudgeRequest{Judge: j.model, Template: j.tmpl, Instruction: instruction, Output1: a, Output2: b, Seed: j.seed})
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
	key := judgeKey("single", j.model, j.tmpl.Name, instruction, resp)
	if v, ok := j.cache.get(key); ok {
		return v, nil
	}
	g, err := runtime.JudgeSingle(ctx, j.pool, runtime.SingleRequest{Judge: j.model, Template: j.tmpl, Instruction: instruction, Response: resp, Seed: j.seed})
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
	job := runtime.SampleJob{Model: name, K: t.r.Online.SamplesPerPrompt, Seed: int64(seedFor(t.r.Seed, 2, stage) >> 33), Raw: raw, Out: out,
		Options: runtime.Options{Temperature: t.r.Online.Sampling.Temperature, TopP: t.r.Online.Sampling.TopP, TopK: t.r.Online.Sampling.TopK, NumPredict: t.r.Online.Sampling.MaxTokens, RepeatPenalty: 1}}
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
		return nil, fmt.Errorf("train: sample through Ollama: %w", err)
	}
	if sum.Failed > 0 {
		return nil, fmt.Errorf("train: sample through Ollama: %d requests failed (%v); rerun with --resume to retry only those", sum.Failed, sum.Errors)
	}
	got, err := runtime.ReadSamples(out)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	rows := make([]sampleRow, len(prompts))
	for i := range rows {
		rows[i] = sampleRow{Prompt: prompts[i], Samples: make([]string, job.K)}
	}
	for _, s := range got {
		var i int
		if _, err := fmt.Sscanf(s.PromptID, "p%d", &i); err != nil || i >= len(rows) || s.Sample >= job.K {
			continue
		}
		rows[i].Samples[s.Sample] = s.Response
	}
	return rows, nil
}
