package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// JudgeRequest asks a judge model to compare Output1 and Output2 for Instruction.
type JudgeRequest struct {
	// Judge is the judge model's name on the server.
	Judge    string
	Template JudgeTemplate
	// Instruction fills {instruction}, {question} and {question_1}; Output1 and Output2 fill
	// the first and second answer slots ({output_1}/{answer_a}/{answer_1} and
	// {output_2}/{answer_b}/{answer_2}) in the unswapped game.
	Instruction      string
	Output1, Output2 string
	// Vars fills any other placeholder ({ref_answer_1}, multi-turn {answer_a_1}, …). In the
	// swapped game, keys beginning with answer_a and answer_b trade places.
	Vars map[string]string
	// NoSwap judges only in the given order. By default both orders are judged (position-
	// swapped double judging) and the verdicts averaged.
	NoSwap bool
	// Attempts bounds the tries per game when the answer parses to nothing; 0 means 3. After
	// the last, the game is recorded invalid with its raw text.
	Attempts int
	// Seed of the first attempt of the unswapped game; every attempt and order gets its own.
	Seed int64
	// Options replace the template's sampling settings when set.
	Options *Options
	// RetryTemperature is used for the retries of a judge whose temperature is 0 (a greedy
	// judge would repeat the same unparsable answer); 0 means 0.7.
	RetryTemperature float64
	// Structured constrains the answer to the template's verdict with Ollama's structured
	// outputs (StructuredFormat) and reads it with ParseStructured; num_predict is raised to
	// StructuredMinPredict at least, and no logprobs are asked.
	Structured bool
}

// Game is one judge call (with its retries) in one order.
type Game struct {
	Swapped bool `json:"swapped"`
	// Verdict is the parsed answer, its Preference in the order shown to the judge.
	Verdict Verdict `json:"verdict"`
	// Preference is Verdict's preference mapped back to the request's order (3 − p when
	// swapped): 1 = Output1 better, 2 = Output2 better. NaN when invalid.
	Preference float64 `json:"-"`
	Attempts   int     `json:"attempts"`
	// Raws holds every raw answer, the unparsable ones included, in order.
	Raws []string `json:"raws"`
	Seed int64    `json:"seed"`
	Host string   `json:"host"`
}

// MarshalJSON writes the preference too (null when NaN).
func (g Game) MarshalJSON() ([]byte, error) {
	type plain Game
	return json.Marshal(struct {
		plain
		Preference *float64 `json:"preference"`
	}{plain(g), nullable(g.Preference)})
}

// Judgment is the result of JudgePair.
type Judgment struct {
	Games []Game `json:"games"`
	// Preference is the mean of the valid games' preferences (1 = Output1 better, 2 = Output2
	// better, 1.5 = tie); NaN when no game parsed.
	Preference float64 `json:"-"`
	Valid      bool    `json:"valid"`
	// Identical is set when Output1 == Output2: preference 1.5 without asking the judge, as
	// AlpacaEval does.
	Identical bool `json:"identical,omitempty"`
}

// MarshalJSON writes the preference too (null when NaN).
func (j Judgment) MarshalJSON() ([]byte, error) {
	type plain Judgment
	return json.Marshal(struct {
		plain
		Preference *float64 `json:"preference"`
	}{plain(j), nullable(j.Preference)})
}

// JudgePair judges one pair, in both orders unless NoSwap. An answer that parses to nothing
// is asked again up to Attempts times, then recorded as an invalid game with its raw text; an
// invalid game is never an error and never a guessed label. Errors are transport failures the
// pool gave up on, a missing judge model, or a template that lacks a value.
func JudgePair(ctx context.Context, pool *Pool, req JudgeRequest) (Judgment, error) {
	if req.Template.Kind != Pairwise {
		return Judgment{}, fmt.Errorf("runtime: judge template %s is %s, not pairwise", req.Template.Name, req.Template.Kind)
	}
	orders := []bool{false, true}
	if req.NoSwap {
		orders = orders[:1]
	}
	if req.Output1 == req.Output2 {
		j := Judgment{Identical: true, Valid: true, Preference: 1.5}
		for _, sw := range orders {
			j.Games = append(j.Games, Game{Swapped: sw, Preference: 1.5, Verdict: Verdict{Valid: true, Label: "identical", Preference: 1.5, Score: math.NaN()}})
		}
		return j, nil
	}
	games := make([]Game, len(orders))
	errs := make([]error, len(orders))
	var wg sync.WaitGroup
	for i, sw := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			games[i], errs[i] = judgeGame(ctx, pool, req, sw)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Judgment{}, err
	}
	return combine(games), nil
}

func combine(games []Game) Judgment {
	j := Judgment{Games: games, Preference: math.NaN()}
	sum, n := 0.0, 0
	for _, g := range games {
		if g.Verdict.Valid {
			sum += g.Preference
			n++
		}
	}
	if n > 0 {
		j.Preference, j.Valid = sum/float64(n), true
	}
	return j
}

// pairVars builds the placeholder values of one game.
func pairVars(req JudgeRequest, swapped bool) map[string]string {
	first, second := req.Output1, req.Output2
	if swapped {
		first, second = second, first
	}
	v := map[string]string{
		"instruction": req.Instruction, "question": req.Instruction, "question_1": req.Instruction,
		"output_1": first, "answer_a": first, "answer_1": first,
		"output_2": second, "answer_b": second, "answer_2": second,
	}
	for k, x := range req.Vars {
		if swapped {
			if rest, ok := strings.CutPrefix(k, "answer_a"); ok {
				k = "answer_b" + rest
			} else if rest, ok := strings.CutPrefix(k, "answer_b"); ok {
				k = "answer_a" + rest
			}
		}
		v[k] = x
	}
	return v
}

func judgeGame(ctx context.Context, pool *Pool, req JudgeRequest, swapped bool) (Game, error) {
	msgs, err := req.Template.Render(pairVars(req, swapped))
	if err != nil {
		return Game{}, err
	}
	seed := req.Seed
	if swapped {
		seed += 1 << 20
	}
	g, err := askJudge(ctx, pool, req.Judge, req.Template, msgs, req.Options, req.Attempts, seed, req.RetryTemperature, req.Structured)
	g.Swapped = swapped
	g.Preference = g.Verdict.Preference
	if swapped && g.Verdict.Valid {
		g.Preference = 3 - g.Preference
	}
	return g, err
}

// askJudge sends msgs to the judge until the answer parses, at most attempts times.
func askJudge(ctx context.Context, pool *Pool, judge string, t JudgeTemplate, msgs []Message, opt *Options, attempts int, seed int64, retryTemp float64, structured bool) (Game, error) {
	var format json.RawMessage
	if structured {
		var err error
		if format, err = StructuredFormat(t); err != nil {
			return Game{}, err
		}
	}
	if attempts <= 0 {
		attempts = 3
	}
	if retryTemp <= 0 {
		retryTemp = 0.7
	}
	o := t.Options
	if opt != nil {
		o = *opt
	}
	if structured {
		o.NumPredict = max(o.NumPredict, StructuredMinPredict)
	}
	var g Game
	for a := range attempts {
		oa := o
		if a > 0 && oa.Temperature == 0 {
			oa.Temperature = retryTemp
		}
		g.Seed = seed + int64(a)
		req := GenerateRequest{Model: judge, Messages: msgs, Seed: g.Seed, Options: oa, Logprobs: t.Logprobs, TopLogprobs: t.TopLogprobs}
		if structured {
			req.Logprobs, req.TopLogprobs, req.Format = false, 0, format
		}
		res, err := pool.Generate(ctx, req)
		if err != nil {
			return g, fmt.Errorf("runtime: judge %s with %s: %w", judge, t.Name, err)
		}
		g.Attempts, g.Host = a+1, res.Host
		g.Raws = append(g.Raws, res.Text)
		if structured {
			g.Verdict = ParseStructured(t, res.Text)
		} else {
			g.Verdict = t.Parse(res)
		}
		if g.Verdict.Valid {
			return g, nil
		}
	}
	return g, nil
}

// SingleRequest asks a judge to grade or classify one response (MT-Bench single, DNO's
// rubric, XSTest).
type SingleRequest struct {
	Judge       string
	Template    JudgeTemplate
	Instruction string // fills {instruction}, {question}, {question_1}
	Response    string // fills {response}, {answer}, {output}
	Vars        map[string]string
	Attempts    int
	Seed        int64
	Options     *Options
	// RetryTemperature and Structured: see JudgeRequest.
	RetryTemperature float64
	Structured       bool
}

// JudgeSingle grades one response. Its Game's Verdict carries Score (rating, rubric points,
// XSTest class number) and Label; invalid after Attempts tries, with the raw text.
func JudgeSingle(ctx context.Context, pool *Pool, req SingleRequest) (Game, error) {
	if req.Template.Kind != Single {
		return Game{}, fmt.Errorf("runtime: judge template %s is %s, not single", req.Template.Name, req.Template.Kind)
	}
	v := map[string]string{
		"instruction": req.Instruction, "question": req.Instruction, "question_1": req.Instruction,
		"response": req.Response, "answer": req.Response, "output": req.Response,
	}
	for k, x := range req.Vars {
		v[k] = x
	}
	msgs, err := req.Template.Render(v)
	if err != nil {
		return Game{}, err
	}
	g, err := askJudge(ctx, pool, req.Judge, req.Template, msgs, req.Options, req.Attempts, req.Seed, req.RetryTemperature, req.Structured)
	g.Preference = math.NaN()
	return g, err
}

// JudgeItem is one pair of a JudgeJob.
type JudgeItem struct {
	ID          string            `json:"id"`
	Instruction string            `json:"instruction"`
	Output1     string            `json:"output_1"`
	Output2     string            `json:"output_2"`
	Generator1  string            `json:"generator_1"`
	Generator2  string            `json:"generator_2"`
	Dataset     string            `json:"dataset,omitempty"`
	Vars        map[string]string `json:"vars,omitempty"`
}

// JudgmentRow is one line of a judgments file: one game of one pair, in the judgments format
// of EVAL.md (instruction, output_1, output_2, generator_1, generator_2, preference, judge,
// raw, swapped, dataset) plus align's keys. Preference is in output_1/output_2 order (already
// mapped back for swapped games) and null when the game is invalid.
type JudgmentRow struct {
	ID          string   `json:"id"`
	Instruction string   `json:"instruction"`
	Output1     string   `json:"output_1"`
	Output2     string   `json:"output_2"`
	Generator1  string   `json:"generator_1"`
	Generator2  string   `json:"generator_2"`
	Preference  *float64 `json:"preference"`
	Judge       string   `json:"judge"`
	Raw         string   `json:"raw"`
	Swapped     bool     `json:"swapped"`
	Dataset     string   `json:"dataset,omitempty"`
	// Label is the parsed verdict in shown order ("m", "A", "B>>A", "identical", …).
	Label    string    `json:"label,omitempty"`
	Valid    bool      `json:"valid"`
	Template string    `json:"template"`
	Attempts int       `json:"attempts"`
	Raws     []string  `json:"raws,omitempty"`
	Seed     int64     `json:"seed"`
	Host     string    `json:"host,omitempty"`
	Time     time.Time `json:"time"`
}

// JudgeJob judges Items (both orders unless NoSwap) and appends one JudgmentRow per game to
// Out as each finishes. Rerun with the same Out, it judges only the (id, swapped) games Out
// lacks.
type JudgeJob struct {
	Judge       string
	Template    JudgeTemplate
	Items       []JudgeItem
	NoSwap      bool
	Attempts    int
	Seed        int64
	Options     *Options
	Out         string
	Concurrency int
}

// JudgeSummary reports a JudgeJob run. Invalid games are counted, never dropped silently.
type JudgeSummary struct {
	Out       string        `json:"out"`
	Total     int           `json:"total"` // games: items × orders
	Existing  int           `json:"existing"`
	Written   int           `json:"written"`
	Invalid   int           `json:"invalid"` // games written as invalid, this run and before
	Failed    int           `json:"failed"`  // games that could not be asked; a rerun retries them
	TornBytes int64         `json:"torn_bytes"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	Errors    []string      `json:"errors,omitempty"`
}

type gameKey struct {
	id      string
	swapped bool
}

// Run judges what Out lacks; progress, when not nil, gets (games present, total) after each.
func (j JudgeJob) Run(ctx context.Context, pool *Pool, progress func(done, total int)) (JudgeSummary, error) {
	start := time.Now()
	orders := []bool{false, true}
	if j.NoSwap {
		orders = orders[:1]
	}
	sum := JudgeSummary{Out: j.Out, Total: len(j.Items) * len(orders)}
	switch {
	case j.Template.Kind != Pairwise:
		return sum, fmt.Errorf("runtime: judge job: template %s is not pairwise", j.Template.Name)
	case j.Judge == "":
		return sum, errors.New("runtime: judge job: no judge model given")
	case j.Out == "":
		return sum, errors.New("runtime: judge job: no output file given")
	}
	if err := checkIDs("judge job: item", len(j.Items), func(i int) string { return j.Items[i].ID }); err != nil {
		return sum, err
	}
	have := map[gameKey]bool{}
	out, torn, err := OpenAppendLog(j.Out, func(line []byte) error {
		var r JudgmentRow
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		k := gameKey{r.ID, r.Swapped}
		if have[k] {
			return fmt.Errorf("duplicate judgment (id %q, swapped %v)", r.ID, r.Swapped)
		}
		have[k] = true
		if !r.Valid {
			sum.Invalid++
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	defer out.Close()
	sum.TornBytes = torn

	type task struct {
		it      *JudgeItem
		swapped bool
	}
	var tasks []task
	for i := range j.Items {
		for _, sw := range orders {
			if have[gameKey{j.Items[i].ID, sw}] {
				sum.Existing++
				continue
			}
			tasks = append(tasks, task{&j.Items[i], sw})
		}
	}
	if len(tasks) == 0 {
		sum.Elapsed = time.Since(start)
		return sum, nil
	}
	if err := pool.Require(ctx, j.Judge); err != nil {
		return sum, err
	}
	var mu sync.Mutex
	done := sum.Existing
	stats, err := runTasks(ctx, len(tasks), j.Concurrency, pool, func(ctx context.Context, i int) error {
		t := tasks[i]
		req := JudgeRequest{
			Judge: j.Judge, Template: j.Template, Instruction: t.it.Instruction,
			Output1: t.it.Output1, Output2: t.it.Output2, Vars: t.it.Vars,
			Attempts: j.Attempts, Seed: SampleSeeds(j.Seed, t.it.ID, 1)[0], Options: j.Options,
		}
		var g Game
		if req.Output1 == req.Output2 {
			g = Game{Swapped: t.swapped, Preference: 1.5, Verdict: Verdict{Valid: true, Label: "identical", Preference: 1.5, Score: math.NaN()}}
		} else {
			var err error
			if g, err = judgeGame(ctx, pool, req, t.swapped); err != nil {
				return err
			}
		}
		row := JudgmentRow{
			ID: t.it.ID, Instruction: t.it.Instruction, Output1: t.it.Output1, Output2: t.it.Output2,
			Generator1: t.it.Generator1, Generator2: t.it.Generator2, Preference: nullable(g.Preference),
			Judge: j.Judge, Raw: g.Verdict.Raw, Swapped: t.swapped, Dataset: t.it.Dataset,
			Label: g.Verdict.Label, Valid: g.Verdict.Valid, Template: j.Template.Name,
			Attempts: g.Attempts, Raws: g.Raws, Seed: g.Seed, Host: g.Host, Time: time.Now().UTC(),
		}
		if err := out.Append(row); err != nil {
			return &fatalError{err}
		}
		mu.Lock()
		done++
		d := done
		if !g.Verdict.Valid {
			sum.Invalid++
		}
		mu.Unlock()
		if progress != nil {
			progress(d, sum.Total)
		}
		return nil
	})
	sum.Written, sum.Failed, sum.Errors = stats.ok, stats.failed, stats.errors
	sum.Elapsed = time.Since(start)
	if err != nil {
		return sum, fmt.Errorf("runtime: judge into %s: %w (%d of %d games written; rerun to resume)", j.Out, err, sum.Existing+sum.Written, sum.Total)
	}
	if sum.Failed > 0 {
		return sum, fmt.Errorf("runtime: judge into %s: %d games failed, first: %s (rerun to retry only them)", j.Out, sum.Failed, sum.Errors[0])
	}
	return sum, nil
}

// ReadJudgments reads a judgments file (a torn last line is ignored).
func ReadJudgments(path string) ([]JudgmentRow, error) {
	var rows []JudgmentRow
	_, err := ScanAppendLog(path, func(line []byte) error {
		var r JudgmentRow
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		rows = append(rows, r)
		return nil
	})
	return rows, err
}
