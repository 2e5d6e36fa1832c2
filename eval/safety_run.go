package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/alignkit/align/runtime"
)

// SafetyOptions configure RunSafety.
type SafetyOptions struct {
	Model string
	Judge string
	// Template is the classification template (default "xstest", runtime's XSTest classifier).
	Template string
	// Prompts need Label "safe" or "unsafe" (XSTest's xstest_prompts.csv has it).
	Prompts    []PromptItem
	GenOptions runtime.Options
	Seed       int64
	Out        string
	// Humans are XSTest completions with human labels; the judge classifies them too and its
	// agreement is reported as the judge's own accuracy. HumansSource names the file.
	Humans       []HumanLabeled
	HumansSource string
	Concurrency  int
	// JudgeAttempts bounds the tries of an unparsable judge answer (runtime's default 3 when 0).
	JudgeAttempts int
	Progress      func(stage string, done, total int)
}

// jsonlCache is a runtime.AppendLog of records keyed by a string, resumable like JudgmentLog
// (a torn last line is cut away on open).
type jsonlCache[T any] struct {
	log  *runtime.AppendLog
	mu   sync.Mutex
	have map[string]T
}

func openJSONLCache[T any](path string, key func(T) string) (*jsonlCache[T], error) {
	c := &jsonlCache[T]{have: map[string]T{}}
	log, _, err := runtime.OpenAppendLog(path, func(line []byte) error {
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			return err
		}
		c.have[key(v)] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	c.log = log
	return c, nil
}

func (c *jsonlCache[T]) get(k string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.have[k]
	return v, ok
}

func (c *jsonlCache[T]) put(k string, v T) error {
	if err := c.log.Append(v); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.have[k] = v
	return nil
}

func (c *jsonlCache[T]) close() error { return c.log.Close() }

// humanJudged is one cached classification of a human-labelled XSTest completion.
type humanJudged struct {
	Key   string `json:"key"`
	Judge string `json:"judge"`
	Human string `json:"human"`
	Class string `json:"class"`
	Raw   string `json:"raw"`
}

// RunSafety generates the model's responses to safe and unsafe prompts, classifies each with
// the judge, and (with Humans) measures the judge against XSTest's human labels. Everything is
// cached under Out, so a rerun asks only for what is missing. It writes Out/safety.jsonl,
// Out/report.json and Out/report.html.
func RunSafety(ctx context.Context, pool *runtime.Pool, opt SafetyOptions) (*SafetyResult, error) {
	if opt.Model == "" || opt.Judge == "" || len(opt.Prompts) == 0 || opt.Out == "" {
		return nil, errors.New("eval: safety needs a model, a judge, prompts and an output directory")
	}
	for _, p := range opt.Prompts {
		if p.Label != "safe" && p.Label != "unsafe" {
			return nil, fmt.Errorf("eval: safety prompt %s has label %q; want safe or unsafe (XSTest's xstest_prompts.csv)", p.ID, p.Label)
		}
	}
	if opt.Template == "" {
		opt.Template = "xstest"
	}
	if opt.GenOptions.NumPredict == 0 {
		opt.GenOptions = runtime.GreedyOptions(256)
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = max(1, pool.Capacity())
	}
	tpl, err := runtime.Template(opt.Template)
	if err != nil {
		return nil, fmt.Errorf("eval: safety template: %w", err)
	}
	outs, _, err := generateOutputs(ctx, pool, opt.Model, opt.Prompts, WinRateOptions{Out: opt.Out, Seed: opt.Seed,
		GenOptions: opt.GenOptions, Concurrency: opt.Concurrency, Progress: opt.Progress})
	if err != nil {
		return nil, err
	}
	recKey := func(r SafetyRecord) string { return r.Model + "\x00" + r.Judge + "\x00" + r.ID + "\x00" + r.Response }
	cache, err := openJSONLCache(filepath.Join(opt.Out, "safety.jsonl"), recKey)
	if err != nil {
		return nil, err
	}
	defer cache.close()
	classify := func(ctx context.Context, prompt, response string, seed int64) (string, string, error) {
		g, err := runtime.JudgeSingle(ctx, pool, runtime.SingleRequest{Judge: opt.Judge, Template: tpl, Instruction: prompt, Response: response, Seed: seed, Attempts: opt.JudgeAttempts})
		if err != nil {
			return "", "", err
		}
		class := ""
		if g.Verdict.Valid {
			class = g.Verdict.Label
		}
		return class, g.Verdict.Raw, nil
	}
	recs := make([]SafetyRecord, len(opt.Prompts))
	grp, gctx := errgroup.WithContext(ctx)
	grp.SetLimit(opt.Concurrency)
	var mu sync.Mutex
	done := 0
	for i, p := range opt.Prompts {
		r := SafetyRecord{ID: p.ID, Prompt: p.Instruction, Type: p.Type, Label: p.Label, Response: outs[p.ID], Model: opt.Model, Judge: opt.Judge}
		if v, ok := cache.get(recKey(r)); ok {
			recs[i] = v
			continue
		}
		grp.Go(func() error {
			class, raw, err := classify(gctx, r.Prompt, r.Response, opt.Seed+taskSeed(recKey(r)))
			if err != nil {
				return fmt.Errorf("eval: classify prompt %s: %w", r.ID, err)
			}
			r.Class, r.Raw = class, raw
			recs[i] = r
			mu.Lock()
			done++
			if opt.Progress != nil {
				opt.Progress("classify", done, len(opt.Prompts))
			}
			mu.Unlock()
			return cache.put(recKey(r), r)
		})
	}
	if err := grp.Wait(); err != nil {
		return nil, err
	}
	res := SafetyStats(recs)
	res.Model, res.Judge = opt.Model, opt.Judge

	if len(opt.Humans) > 0 {
		hkey := func(h humanJudged) string { return h.Judge + "\x00" + h.Key }
		hc, err := openJSONLCache(filepath.Join(opt.Out, "judge_agreement.jsonl"), hkey)
		if err != nil {
			return nil, err
		}
		defer hc.close()
		classes := make([]string, len(opt.Humans))
		grp, gctx := errgroup.WithContext(ctx)
		grp.SetLimit(opt.Concurrency)
		for i, h := range opt.Humans {
			k := humanJudged{Key: opt.HumansSource + "#" + strconv.Itoa(i) + "#" + h.ID, Judge: opt.Judge, Human: h.Label}
			if v, ok := hc.get(hkey(k)); ok {
				classes[i] = v.Class
				continue
			}
			grp.Go(func() error {
				class, raw, err := classify(gctx, h.Prompt, h.Completion, opt.Seed+taskSeed(hkey(k)))
				if err != nil {
					return fmt.Errorf("eval: classify human-labelled completion %d: %w", i, err)
				}
				k.Class, k.Raw = class, raw
				classes[i] = class
				return hc.put(hkey(k), k)
			})
		}
		if err := grp.Wait(); err != nil {
			return nil, err
		}
		res.JudgeAccuracy = AgreementWithHumans(opt.Humans, classes, opt.HumansSource)
	}
	rep := &Report{Kind: "safety", Safety: res, Source: map[string]string{"model": opt.Model, "judge": opt.Judge, "template": tpl.Name}}
	rep.Warnings = res.Warnings
	if err := rep.Write(opt.Out); err != nil {
		return nil, err
	}
	return res, nil
}
