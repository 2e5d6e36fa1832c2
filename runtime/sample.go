package runtime

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"sync"
	"time"
)

// Prompt is one prompt of a sampling job: a raw or templated completion prompt, or chat
// messages. ID must be unique within the job; it keys the results.
type Prompt struct {
	ID       string    `json:"id"`
	Prompt   string    `json:"prompt,omitempty"`
	System   string    `json:"system,omitempty"`
	Messages []Message `json:"messages,omitempty"`
}

// SampleRow is one line of a samples file: sample Sample (0-based) of prompt PromptID.
type SampleRow struct {
	PromptID        string         `json:"prompt_id"`
	Sample          int            `json:"sample"`
	Model           string         `json:"model"`
	Prompt          string         `json:"prompt,omitempty"`
	System          string         `json:"system,omitempty"`
	Messages        []Message      `json:"messages,omitempty"`
	Raw             bool           `json:"raw,omitempty"`
	Response        string         `json:"response"`
	Seed            int64          `json:"seed"`
	Options         Options        `json:"options"`
	DoneReason      string         `json:"done_reason"`
	PromptEvalCount int            `json:"prompt_eval_count"`
	EvalCount       int            `json:"eval_count"`
	Context         []int          `json:"context,omitempty"`
	Logprobs        []TokenLogprob `json:"logprobs,omitempty"`
	Host            string         `json:"host"`
	Attempts        int            `json:"attempts"`
	Time            time.Time      `json:"time"`
}

// SampleJob asks for K completions of each prompt, with distinct recorded seeds, and appends
// each result to Out as soon as it arrives. Run again with the same Out, it asks only for the
// (prompt, sample) pairs that Out lacks.
type SampleJob struct {
	Model   string
	Prompts []Prompt
	K       int
	// Seed is the job's base seed. Sample k of prompt id gets SampleSeeds(Seed, id, K)[k]: the
	// same on every rerun, distinct among a prompt's K samples.
	Seed    int64
	Options Options
	// Raw sends Prompt with no template (ignored for chat prompts, which have Messages).
	Raw         bool
	Logprobs    bool
	TopLogprobs int
	Out         string
	// Concurrency bounds the requests in flight; 0 means the pool's Capacity.
	Concurrency int
}

// SampleSummary reports a Run.
type SampleSummary struct {
	Out      string `json:"out"`
	Model    string `json:"model"`
	Prompts  int    `json:"prompts"`
	K        int    `json:"k"`
	Total    int    `json:"total"`    // prompts × K
	Existing int    `json:"existing"` // rows already in Out
	Written  int    `json:"written"`  // rows this run added
	Failed   int    `json:"failed"`   // requests that gave up; a rerun retries them
	// TornBytes is the size of a torn last line dropped from Out (from an earlier crash).
	TornBytes int64         `json:"torn_bytes"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	Errors    []string      `json:"errors,omitempty"` // the first few failures
}

// SampleSeeds returns the seeds of a prompt's k samples: a hash of (base, prompt id, index),
// in [1, 2^31−1], made distinct by probing.
func SampleSeeds(base int64, promptID string, k int) []int64 {
	seeds := make([]int64, k)
	used := map[int64]bool{}
	for i := range k {
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(base))
		h.Write(b[:])
		h.Write([]byte(promptID))
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		h.Write(b[:])
		s := int64(h.Sum64()%(1<<31-1)) + 1
		for used[s] {
			s = s%(1<<31-1) + 1
		}
		used[s] = true
		seeds[i] = s
	}
	return seeds
}

// checkIDs returns an error for the first of n ids that is empty or repeated; what names the
// job and its items in the message ("sample: prompt").
func checkIDs(what string, n int, id func(i int) string) error {
	seen := make(map[string]bool, n)
	for i := range n {
		s := id(i)
		if s == "" {
			return fmt.Errorf("runtime: %s %d has no id", what, i)
		}
		if seen[s] {
			return fmt.Errorf("runtime: %s id %q appears twice", what, s)
		}
		seen[s] = true
	}
	return nil
}

type sampleKey struct {
	id string
	k  int
}

// ReadSamples reads a samples file. A torn last line is ignored; a duplicated key is an error.
func ReadSamples(path string) ([]SampleRow, error) {
	var rows []SampleRow
	seen := map[sampleKey]bool{}
	_, err := ScanAppendLog(path, func(line []byte) error {
		var r SampleRow
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		k := sampleKey{r.PromptID, r.Sample}
		if seen[k] {
			return fmt.Errorf("duplicate row (prompt_id %q, sample %d)", r.PromptID, r.Sample)
		}
		seen[k] = true
		rows = append(rows, r)
		return nil
	})
	return rows, err
}

// Run samples what Out lacks. progress, when not nil, is called after each written row with
// the rows present and the total. Requests that fail for good are counted in Failed and the
// run goes on; a permanent error (missing model, 4xx) or a pool where every request keeps
// failing stops it. Run returns an error whenever Out is not complete.
func (j SampleJob) Run(ctx context.Context, pool *Pool, progress func(done, total int)) (SampleSummary, error) {
	start := time.Now()
	sum := SampleSummary{Out: j.Out, Model: j.Model, Prompts: len(j.Prompts), K: j.K, Total: len(j.Prompts) * j.K}
	opt, err := j.Options.normalized()
	switch {
	case err != nil:
		return sum, err
	case j.Model == "":
		return sum, errors.New("runtime: sample: no model given")
	case j.K < 1:
		return sum, fmt.Errorf("runtime: sample: k must be ≥ 1 (got %d)", j.K)
	case j.Out == "":
		return sum, errors.New("runtime: sample: no output file given")
	}
	if err := checkIDs("sample: prompt", len(j.Prompts), func(i int) string { return j.Prompts[i].ID }); err != nil {
		return sum, err
	}

	have := map[sampleKey]bool{}
	out, torn, err := OpenAppendLog(j.Out, func(line []byte) error {
		var r SampleRow
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		if r.Model != j.Model {
			return fmt.Errorf("row of model %q, but this job samples %q: use another output file", r.Model, j.Model)
		}
		if !reflect.DeepEqual(r.Options, opt) {
			return fmt.Errorf("row sampled with options %+v, but this job uses %+v: use another output file", r.Options, opt)
		}
		k := sampleKey{r.PromptID, r.Sample}
		if have[k] {
			return fmt.Errorf("duplicate row (prompt_id %q, sample %d)", r.PromptID, r.Sample)
		}
		have[k] = true
		return nil
	})
	if err != nil {
		return sum, err
	}
	defer out.Close()
	sum.TornBytes = torn

	type task struct {
		p    *Prompt
		k    int
		seed int64
	}
	var tasks []task
	for i := range j.Prompts {
		p := &j.Prompts[i]
		seeds := SampleSeeds(j.Seed, p.ID, j.K)
		for k := range j.K {
			if have[sampleKey{p.ID, k}] {
				sum.Existing++
				continue
			}
			tasks = append(tasks, task{p, k, seeds[k]})
		}
	}
	if len(tasks) == 0 {
		sum.Elapsed = time.Since(start)
		return sum, nil
	}
	if err := pool.Require(ctx, j.Model); err != nil {
		return sum, err
	}

	var mu sync.Mutex
	done := sum.Existing
	stats, err := runTasks(ctx, len(tasks), j.Concurrency, pool, func(ctx context.Context, i int) error {
		t := tasks[i]
		req := GenerateRequest{
			Model: j.Model, Prompt: t.p.Prompt, System: t.p.System, Messages: t.p.Messages,
			Raw: j.Raw && len(t.p.Messages) == 0, Seed: t.seed, Options: opt,
			Logprobs: j.Logprobs, TopLogprobs: j.TopLogprobs,
		}
		res, err := pool.Generate(ctx, req)
		if err != nil {
			return err
		}
		row := SampleRow{
			PromptID: t.p.ID, Sample: t.k, Model: j.Model, Prompt: t.p.Prompt, System: t.p.System,
			Messages: t.p.Messages, Raw: req.Raw, Response: res.Text, Seed: t.seed, Options: opt,
			DoneReason: res.DoneReason, PromptEvalCount: res.PromptEvalCount, EvalCount: res.EvalCount,
			Context: res.Context, Logprobs: res.Logprobs, Host: res.Host, Attempts: res.Attempts,
			Time: time.Now().UTC(),
		}
		if err := out.Append(row); err != nil {
			return &fatalError{err}
		}
		mu.Lock()
		done++
		d := done
		mu.Unlock()
		if progress != nil {
			progress(d, sum.Total)
		}
		return nil
	})
	sum.Written, sum.Failed, sum.Errors = stats.ok, stats.failed, stats.errors
	sum.Elapsed = time.Since(start)
	if err != nil {
		return sum, fmt.Errorf("runtime: sample %s into %s: %w (%d of %d rows written; rerun to resume)", j.Model, j.Out, err, sum.Existing+sum.Written, sum.Total)
	}
	if sum.Failed > 0 {
		return sum, fmt.Errorf("runtime: sample %s into %s: %d requests failed, first: %s (rerun to retry only them)", j.Model, j.Out, sum.Failed, sum.Errors[0])
	}
	return sum, nil
}

// fatalError stops a runTasks run (a write that failed, say).
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

type taskStats struct {
	ok, failed int
	errors     []string
}

// runTasks runs fn(ctx, i) for i in [0, n) on conc workers (0: the pool's capacity). A task
// error that the pool gave up on is counted and the run goes on; a permanent error, a
// fatalError or cancellation stops it. When as many tasks in a row as the pool's capacity have
// failed, with no success between, every host is taken to be down and the run stops.
func runTasks(ctx context.Context, n, conc int, pool *Pool, fn func(ctx context.Context, i int) error) (taskStats, error) {
	if conc <= 0 {
		conc = pool.Capacity()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var mu sync.Mutex
	var st taskStats
	streak := 0
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				err := fn(ctx, i)
				mu.Lock()
				switch {
				case err == nil:
					st.ok++
					streak = 0
				case ctx.Err() != nil:
					// cancelled: this task is simply not done
				case errors.As(err, new(*fatalError)) || classify(err) == permanent:
					cancel(err)
				default:
					st.failed++
					streak++
					if len(st.errors) < 5 {
						st.errors = append(st.errors, err.Error())
					}
					if streak >= max(pool.Capacity(), 1) {
						cancel(fmt.Errorf("%d requests in a row failed, every host seems down; last: %w", streak, err))
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return st, err
	}
	return st, nil
}
