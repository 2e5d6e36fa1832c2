package pairs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/alignkit/align/runtime"
)

// SampleRecord is one line of samples.jsonl: one response, with what reproduces it.
type SampleRecord struct {
	PromptID   string          `json:"prompt_id"`
	Model      string          `json:"model"`
	Sample     int             `json:"sample"`
	Seed       int64           `json:"seed"`
	Options    runtime.Options `json:"options"`
	Raw        bool            `json:"raw,omitempty"`
	Prompt     string          `json:"prompt"`
	Text       string          `json:"response"`
	DoneReason string          `json:"done_reason"`
	EvalCount  int             `json:"eval_count"`
	Host       string          `json:"host,omitempty"`
	Time       time.Time       `json:"time"`
}

func (r SampleRecord) candidate(student bool) Candidate {
	return Candidate{PromptID: r.PromptID, Model: r.Model, Sample: r.Sample, Seed: r.Seed, Text: r.Text,
		DoneReason: r.DoneReason, Student: student}
}

// CandRef names a candidate of a prompt in the judgments log.
type CandRef struct {
	Model  string `json:"model"`
	Sample int    `json:"sample"`
}

// JudgeRecord is one line of judgments.jsonl: one judge call (with its retries and, for a
// pair, both orders).
type JudgeRecord struct {
	// Key, when set, is the record's identity in the log (an online iteration's judge keys its
	// questions by content); otherwise the prompt and candidates are.
	Key string `json:"key,omitempty"`
	// Kind is "single" (a rating, a rubric score or a class), "pair", or "side_by_side" (all
	// of a prompt's candidates graded in one call: Scores).
	Kind     string   `json:"kind"`
	PromptID string   `json:"prompt_id"`
	A        CandRef  `json:"a"`
	B        *CandRef `json:"b,omitempty"`
	Judge    string   `json:"judge"`
	Template string   `json:"template"`
	Valid    bool     `json:"valid"`
	// Score is the single verdict's score; Preference the pair's (1 = A better, 2 = B better).
	Score      *float64   `json:"score"`
	Preference *float64   `json:"preference"`
	Scores     []*float64 `json:"scores,omitempty"`
	// Bracket is the tournament part of a pair game (see BracketWinners).
	Bracket string    `json:"bracket,omitempty"`
	Label   string    `json:"label,omitempty"`
	Raws    []string  `json:"raws"`
	Seed    int64     `json:"seed"`
	Time    time.Time `json:"time"`
}

func (r JudgeRecord) key() string {
	if r.Key != "" {
		return r.Key
	}
	if r.B == nil {
		return fmt.Sprintf("%s\x00%s\x00%d", r.PromptID, r.A.Model, r.A.Sample)
	}
	return fmt.Sprintf("%s\x00%s\x00%d\x00%s\x00%d", r.PromptID, r.A.Model, r.A.Sample, r.B.Model, r.B.Sample)
}

func ptr(x float64) *float64 { return &x }

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// sampleTask is one response to ask for.
type sampleTask struct {
	key      string
	promptID string
	model    string
	sample   int
	seed     int64
	prompt   string
	raw      bool
	options  runtime.Options
}

// counter counts finished calls of a stage for the progress line.
type counter struct {
	mu    sync.Mutex
	done  int
	total int
	start time.Time
}

func (c *counter) add() (done, total int, rate float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done++
	return c.done, c.total, float64(c.done) / time.Since(c.start).Seconds()
}

// runSamples asks for every task missing from the samples log at path and appends each result
// as it arrives. It returns every record of the log, by candidate key.
// onLoad, when set, sees the records already in the log; progress each new one.
func runSamples(ctx context.Context, b Backend, path string, tasks []sampleTask, conc int,
	onLoad func(map[string]SampleRecord), progress func(rec SampleRecord, done, total int, perSec float64)) (map[string]SampleRecord, error) {
	have := map[string]SampleRecord{}
	log, _, err := runtime.OpenAppendLog(path, func(line []byte) error {
		var r SampleRecord
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		k := Candidate{PromptID: r.PromptID, Model: r.Model, Sample: r.Sample}.Key()
		if _, dup := have[k]; dup {
			return fmt.Errorf("duplicate sample (prompt %q, model %q, sample %d)", r.PromptID, r.Model, r.Sample)
		}
		have[k] = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer log.Close()
	if onLoad != nil {
		onLoad(have)
	}
	var todo []sampleTask
	for _, t := range tasks {
		r, ok := have[t.key]
		if !ok {
			todo = append(todo, t)
			continue
		}
		if r.Prompt != t.prompt || r.Seed != t.seed {
			return nil, fmt.Errorf("curate: %s: prompt %s sample %d of %s was sampled for another prompt text or seed; use another work folder", path, t.promptID, t.sample, t.model)
		}
	}
	cnt := &counter{total: len(todo), start: time.Now()}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(conc, 1))
	for _, t := range todo {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			req := runtime.GenerateRequest{Model: t.model, Seed: t.seed, Options: t.options, Raw: t.raw}
			if t.raw {
				req.Prompt = t.prompt
			} else {
				req.Messages = []runtime.Message{{Role: "user", Content: t.prompt}}
			}
			res, err := b.Generate(gctx, req)
			if err != nil {
				return fmt.Errorf("curate: sample %d of prompt %s from %s: %w", t.sample, t.promptID, t.model, err)
			}
			rec := SampleRecord{PromptID: t.promptID, Model: t.model, Sample: t.sample, Seed: t.seed,
				Options: t.options, Raw: t.raw, Prompt: t.prompt, Text: res.Text, DoneReason: res.DoneReason,
				EvalCount: res.EvalCount, Host: res.Host, Time: time.Now().UTC()}
			if err := gctx.Err(); err != nil {
				return err // cancelled while the answer came back: leave it to the rerun
			}
			if err := log.Append(rec); err != nil {
				return err
			}
			mu.Lock()
			have[t.key] = rec
			mu.Unlock()
			if progress != nil {
				d, n, r := cnt.add()
				progress(rec, d, n, r)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return have, err
	}
	return have, nil
}

// judgeTask is one judge call; run returns its record (Kind, PromptID, A, B set by run).
type judgeTask struct {
	key      string
	promptID string
	run      func(ctx context.Context) (JudgeRecord, error)
}

// judgeLog is the judgments file, loaded and open for appending.
type judgeLog struct {
	mu   sync.Mutex
	have map[string]JudgeRecord
	log  *runtime.AppendLog
}

func openJudgeLog(path string) (*judgeLog, error) {
	jl := &judgeLog{have: map[string]JudgeRecord{}}
	log, _, err := runtime.OpenAppendLog(path, func(line []byte) error {
		var r JudgeRecord
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		if _, dup := jl.have[r.key()]; dup {
			return fmt.Errorf("duplicate judgment (prompt %q, %v, %v)", r.PromptID, r.A, r.B)
		}
		jl.have[r.key()] = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	jl.log = log
	return jl, nil
}

func (jl *judgeLog) get(key string) (JudgeRecord, bool) {
	jl.mu.Lock()
	defer jl.mu.Unlock()
	r, ok := jl.have[key]
	return r, ok
}

// do returns the logged judgment of t, or runs t and logs it.
func (jl *judgeLog) do(ctx context.Context, t judgeTask, onNew func()) (JudgeRecord, error) {
	if r, ok := jl.get(t.key); ok {
		return r, nil
	}
	if err := ctx.Err(); err != nil {
		return JudgeRecord{}, err
	}
	r, err := t.run(ctx)
	if err != nil {
		return r, err
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	r.Time = time.Now().UTC()
	if r.key() != t.key {
		return r, fmt.Errorf("curate: internal: judgment key %q for task %q", r.key(), t.key)
	}
	if err := jl.log.Append(r); err != nil {
		return r, err
	}
	jl.mu.Lock()
	jl.have[t.key] = r
	jl.mu.Unlock()
	if onNew != nil {
		onNew()
	}
	return r, nil
}

// runJudgments runs the tasks missing from the log, conc at a time.
func (jl *judgeLog) runAll(ctx context.Context, tasks []judgeTask, conc int, progress func(t judgeTask, done, total int, perSec float64)) error {
	var todo []judgeTask
	for _, t := range tasks {
		if _, ok := jl.get(t.key); !ok {
			todo = append(todo, t)
		}
	}
	cnt := &counter{total: len(todo), start: time.Now()}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(conc, 1))
	for _, t := range todo {
		g.Go(func() error {
			_, err := jl.do(gctx, t, func() {
				if progress != nil {
					d, n, r := cnt.add()
					progress(t, d, n, r)
				}
			})
			return err
		})
	}
	return g.Wait()
}

// checkMeta writes the run's settings to path, or checks them against what an earlier run
// wrote there: a work folder holds the logs of one configuration only.
func checkMeta(path string, meta any) error {
	want, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("curate: %w", err)
		}
		return writeAtomic(path, append(want, '\n'))
	}
	if err != nil {
		return fmt.Errorf("curate: %w", err)
	}
	var a, b any
	if err := json.Unmarshal(old, &a); err != nil {
		return fmt.Errorf("curate: %s: %w", path, err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		return err
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Errorf("curate: %s was written by a run with other settings:\n%s\nthis run:\n%s\nuse another work folder (--work) or the same settings", path, old, want)
	}
	return nil
}

// writeAtomic writes b to a temporary file beside path and renames it into place.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("curate: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("curate: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("curate: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("curate: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("curate: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("curate: %w", err)
	}
	return nil
}

func readJudgeRecords(path string) ([]JudgeRecord, error) {
	var out []JudgeRecord
	_, err := runtime.ScanAppendLog(path, func(b []byte) error {
		var r JudgeRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func readSampleRecords(path string) ([]SampleRecord, error) {
	var out []SampleRecord
	_, err := runtime.ScanAppendLog(path, func(b []byte) error {
		var r SampleRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}
