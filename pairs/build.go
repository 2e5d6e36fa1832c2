package pairs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/runtime"
)

// Prompt is one prompt of an online iteration.
type Prompt struct {
	// ID is the prompt's stable identity in the dataset ("p17"): it keys its seeds, so the
	// same prompt gets the same seeds in every iteration.
	ID       string         `json:"id"`
	Messages []data.Message `json:"prompt"`
	// Teacher is the dataset's reference response ("" = none): DNO's gold candidate.
	Teacher string `json:"teacher,omitempty"`
}

// Instruction is the text a judge reads as the question: the last turn.
func (p Prompt) Instruction() string {
	if n := len(p.Messages); n > 0 {
		return p.Messages[n-1].Content
	}
	return ""
}

// Planned is one prompt's sampling plan: its K seeds.
type Planned struct {
	Prompt
	Seeds []int64 `json:"seeds"`
}

// Plan gives every prompt K seeds, runtime.SampleSeeds(seed, id, K): distinct within a prompt,
// the same on every rerun and in every iteration (so two iterations' samples of a prompt differ
// only by the policy), and the seeds a runtime.SampleJob with base seed uses.
func Plan(prompts []Prompt, k int, seed int64) []Planned {
	out := make([]Planned, len(prompts))
	for i, p := range prompts {
		out[i] = Planned{Prompt: p, Seeds: runtime.SampleSeeds(seed, p.ID, k)}
	}
	return out
}

// Sampler draws responses from one policy: one per seed of each planned prompt. It calls done
// (safe for concurrent use) once per prompt with its responses in seed order, as they finish.
type Sampler interface {
	Sample(ctx context.Context, todo []Planned, done func(i int, texts []string) error) error
}

// SampleRow is one line of an iteration's samples file: a prompt, its seeds and its responses.
type SampleRow struct {
	Planned
	Samples []string `json:"samples"`
}

// Samples returns K responses per prompt, read from the samples file at path when an earlier
// (killed) run wrote them, else drawn with s and appended as each prompt finishes: a resumed
// iteration never samples a prompt twice. Rows come in plan order.
func Samples(ctx context.Context, path string, plan []Planned, s Sampler) ([]SampleRow, error) {
	have := map[string]SampleRow{}
	log, _, err := runtime.OpenAppendLog(path, func(line []byte) error {
		var r SampleRow
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		have[r.ID] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pairs: samples: %w", err)
	}
	defer log.Close()
	var todo []Planned
	for _, p := range plan {
		r, ok := have[p.ID]
		if !ok || len(r.Samples) != len(p.Seeds) || !equalSeeds(r.Seeds, p.Seeds) {
			todo = append(todo, p)
		}
	}
	if len(todo) > 0 {
		var mu sync.Mutex
		err := s.Sample(ctx, todo, func(i int, texts []string) error {
			if len(texts) != len(todo[i].Seeds) {
				return fmt.Errorf("pairs: sampler returned %d responses for prompt %s, want %d", len(texts), todo[i].ID, len(todo[i].Seeds))
			}
			r := SampleRow{Planned: todo[i], Samples: texts}
			if err := log.Append(r); err != nil {
				return fmt.Errorf("pairs: samples: %w", err)
			}
			mu.Lock()
			have[r.ID] = r
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]SampleRow, len(plan))
	for i, p := range plan {
		r, ok := have[p.ID]
		if !ok {
			return nil, fmt.Errorf("pairs: the sampler returned nothing for prompt %s", p.ID)
		}
		r.Teacher = p.Teacher
		out[i] = r
	}
	return out, nil
}

func equalSeeds(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Pair rules of an online iteration.
const (
	// RuleBestVsWorst: the best against the worst sample (iterative DPO, APO, the quickstart).
	RuleBestVsWorst = "best_vs_worst"
	// RuleTournament: INPO's two-bracket tournament with the final check.
	RuleTournament = "tournament"
	// RuleRubric: DNO's rule over graded candidates, the teacher's response among them.
	RuleRubric = "rubric"
	// RuleAllPairs: every two graded samples whose grades differ by at least MinGap.
	RuleAllPairs = "all_pairs"
)

// Rule is how an iteration turns judged candidates into pairs.
type Rule struct {
	// Kind is RuleBestVsWorst, RuleTournament, RuleRubric or RuleAllPairs.
	Kind string
	// DNO is the rubric rule's thresholds.
	DNO DNORule
	// MinGap is all_pairs' least grade difference (0: any strict difference).
	MinGap float64
	// AutoNegatives makes degenerate student samples automatic negatives (rubric and all_pairs;
	// DNO's "samples with many repeated n-grams"), detected by Filters.Degenerate.
	AutoNegatives bool
	// KeepTies keeps pairs whose two responses are the same text after trimming.
	KeepTies bool
	// WinRates attaches each pair's estimated win rates against pi_t (theoretical DNO's r_1,
	// r_2; graded rules only).
	WinRates bool
}

// Validate checks the rule against the judge.
func (r Rule) Validate(j Judge) error {
	switch r.Kind {
	case RuleBestVsWorst, RuleTournament:
		if r.WinRates {
			return fmt.Errorf("pairs: rule %s estimates no win rates; use rubric or all_pairs with a grading judge", r.Kind)
		}
	case RuleRubric, RuleAllPairs:
		if j != nil && j.Pairwise() {
			return fmt.Errorf("pairs: rule %s grades candidates; it needs a grading judge (such as dno-additive6), not a pairwise one", r.Kind)
		}
	default:
		return fmt.Errorf("pairs: rule %q: want %s, %s, %s or %s", r.Kind, RuleBestVsWorst, RuleTournament, RuleRubric, RuleAllPairs)
	}
	return nil
}

// Pair is one training pair of an online iteration, as pairs.jsonl holds it.
type Pair struct {
	PromptID string         `json:"prompt_id"`
	Prompt   []data.Message `json:"prompt"`
	Chosen   string         `json:"chosen"`
	Rejected string         `json:"rejected"`
	// WinChosen and WinRejected are r_1 and r_2, the responses' estimated win rates against
	// pi_t (Rule.WinRates); nil otherwise.
	WinChosen   *float64 `json:"win_chosen,omitempty"`
	WinRejected *float64 `json:"win_rejected,omitempty"`
	// Iteration is the 1-based iteration whose samples made the pair; Replayed marks a pair
	// an earlier iteration made, added to this one by replay.
	Iteration int  `json:"iteration"`
	Replayed  bool `json:"replayed,omitempty"`
}

// Data is the pair as a data.Pair. With win rates, they are its scores (score_chosen,
// score_rejected), which theoretical DNO reads as r_1, r_2.
func (p Pair) Data(id string) data.Pair {
	d := data.Pair{ID: id, Prompt: p.Prompt,
		Chosen: []data.Message{{Role: "assistant", Content: p.Chosen}}, Rejected: []data.Message{{Role: "assistant", Content: p.Rejected}}}
	if p.WinChosen != nil && p.WinRejected != nil {
		w, l := *p.WinChosen, *p.WinRejected
		d.ScoreChosen, d.ScoreRejected = &w, &l
	}
	return d
}

// Stats counts what one iteration's Build did.
type Stats struct {
	Prompts    int `json:"prompts"`
	Candidates int `json:"candidates"`
	// AutoNegatives are degenerate samples that skipped the judge; Invalid grades that did not
	// parse (their candidates pair with nothing).
	AutoNegatives int `json:"auto_negatives"`
	Graded        int `json:"graded"`
	Invalid       int `json:"invalid_grades"`
	// Games counts pairwise games asked for (the log may answer some from an earlier run).
	Games int `json:"games"`
	// FinalLost counts INPO pairs dropped because y_w did not win the final.
	FinalLost int `json:"final_lost"`
	Ties      int `json:"identical_dropped"`
	Fresh     int `json:"fresh_pairs"`
	Replayed  int `json:"replayed_pairs"`
}

// Iteration is one online iteration's preference data.
type Iteration struct {
	// Index is the 0-based iteration; Dir holds its samples.jsonl, judgments.jsonl and
	// pairs.jsonl.
	Index int
	Dir   string
	// Plan is the prompts with their seeds (Plan); Sampler draws from pi_t.
	Plan    []Planned
	Sampler Sampler
	Judge   Judge
	Rule    Rule
	Filters FilterOptions
	// Replay holds the shares of earlier iterations' fresh pairs to add (DNO: 0.3, 0.15), and
	// EarlierDirs their folders, newest first (t-1, t-2, ...).
	Replay      []float64
	EarlierDirs []string
	// Seed drives the choice of replayed pairs.
	Seed uint64
	// Concurrency bounds the prompts judged at once (0: GOMAXPROCS).
	Concurrency int
}

// Build makes one iteration's pairs: K samples per prompt from pi_t (Samples), automatic
// negatives, the judge, the rule, and replay. The pairs are written to Dir/pairs.jsonl; a rerun
// after it exists reads them back, and a rerun before reuses every logged sample and judgment.
func Build(ctx context.Context, it Iteration) ([]Pair, Stats, error) {
	var st Stats
	path := filepath.Join(it.Dir, "pairs.jsonl")
	if ps, err := ReadPairs(path); err == nil {
		st.Prompts = len(it.Plan)
		for _, p := range ps {
			if p.Replayed {
				st.Replayed++
			} else {
				st.Fresh++
			}
		}
		return ps, st, nil
	}
	if err := it.Rule.Validate(it.Judge); err != nil {
		return nil, st, err
	}
	rows, err := Samples(ctx, filepath.Join(it.Dir, "samples.jsonl"), it.Plan, it.Sampler)
	if err != nil {
		return nil, st, err
	}
	st.Prompts = len(rows)
	per := make([][]Pair, len(rows))
	stats := make([]Stats, len(rows))
	g, gctx := errgroup.WithContext(ctx)
	limit := it.Concurrency
	if limit <= 0 {
		limit = goruntime.GOMAXPROCS(0)
	}
	g.SetLimit(limit)
	for i, row := range rows {
		g.Go(func() error {
			ps, s, err := it.promptPairs(gctx, row)
			per[i], stats[i] = ps, s
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, st, err
	}
	var out []Pair
	for i := range rows {
		out = append(out, per[i]...)
		s := stats[i]
		st.Candidates += s.Candidates
		st.AutoNegatives += s.AutoNegatives
		st.Graded += s.Graded
		st.Invalid += s.Invalid
		st.Games += s.Games
		st.FinalLost += s.FinalLost
		st.Ties += s.Ties
	}
	st.Fresh = len(out)
	replayed, err := it.replay(len(out))
	if err != nil {
		return nil, st, err
	}
	st.Replayed = len(replayed)
	out = append(out, replayed...)
	if err := writePairsJSONL(path, out); err != nil {
		return nil, st, err
	}
	return out, st, nil
}

// candidates lists what is judged for one prompt: its samples, then the teacher's response
// when the rubric rule has one.
func (it *Iteration) candidates(row SampleRow) (cands []string, teacher int) {
	cands = append([]string(nil), row.Samples...)
	teacher = -1
	if it.Rule.Kind == RuleRubric && row.Teacher != "" {
		teacher = len(cands)
		cands = append(cands, row.Teacher)
	}
	return cands, teacher
}

func (it *Iteration) promptPairs(ctx context.Context, row SampleRow) ([]Pair, Stats, error) {
	var st Stats
	cands, teacher := it.candidates(row)
	st.Candidates = len(cands)
	instr := row.Instruction()
	play := func(a, b int, bracket string) (int, error) {
		st.Games++
		return it.Judge.Play(ctx, instr, cands[a], cands[b], bracket)
	}
	var idx []Index
	var wins []float64
	switch it.Rule.Kind {
	case RuleTournament:
		res, err := INPO(len(cands), play)
		if err != nil {
			return nil, st, err
		}
		if res.Kept {
			idx = []Index{{res.Best, res.Worst}}
		} else if res.Best >= 0 {
			st.FinalLost++
		}
	case RuleBestVsWorst:
		var err error
		if idx, err = BestVsWorst(len(cands), play); err != nil {
			return nil, st, err
		}
	case RuleRubric, RuleAllPairs:
		g := make([]Graded, len(cands))
		var ask []int
		for k, c := range cands {
			g[k].Teacher = k == teacher
			if it.Rule.AutoNegatives && k != teacher && it.Filters.Degenerate(c) {
				g[k].AutoNegative, g[k].Valid = true, true
				st.AutoNegatives++
				continue
			}
			ask = append(ask, k)
		}
		texts := make([]string, len(ask))
		for x, k := range ask {
			texts[x] = cands[k]
		}
		if len(texts) > 0 {
			scores, err := it.Judge.Grade(ctx, instr, texts)
			if err != nil {
				return nil, st, err
			}
			for x, k := range ask {
				g[k].Score, g[k].Valid = scores[x], !math.IsNaN(scores[x])
				st.Graded++
				if !g[k].Valid {
					st.Invalid++
				}
			}
		}
		if it.Rule.Kind == RuleRubric {
			idx = DNOPairs(g, it.Rule.DNO)
		} else {
			scores := make([]float64, len(g))
			for k, c := range g {
				scores[k] = c.Score
				if !c.Valid {
					scores[k] = math.NaN()
				}
			}
			idx = AllPairs(scores, it.Rule.MinGap)
			for k, c := range g {
				if c.AutoNegative { // below every graded sample
					for j, d := range g {
						if d.Valid && !d.AutoNegative && !math.IsNaN(d.Score) {
							idx = append(idx, Index{j, k})
						}
					}
				}
			}
		}
		if it.Rule.WinRates {
			wins = WinRates(g)
		}
	}
	var out []Pair
	for _, p := range idx {
		if !it.Rule.KeepTies && strings.TrimSpace(cands[p.W]) == strings.TrimSpace(cands[p.L]) {
			st.Ties++
			continue
		}
		pr := Pair{PromptID: row.ID, Prompt: row.Messages, Chosen: cands[p.W], Rejected: cands[p.L], Iteration: it.Index + 1}
		if wins != nil {
			if math.IsNaN(wins[p.W]) || math.IsNaN(wins[p.L]) {
				continue // no estimate of r for one side: the soft label is undefined
			}
			pr.WinChosen, pr.WinRejected = ptr(wins[p.W]), ptr(wins[p.L])
		}
		out = append(out, pr)
	}
	return out, st, nil
}

// replay draws the earlier iterations' shares of their fresh pairs (ReplayCounts), each set
// by a seeded permutation; they keep their iteration number and are marked Replayed.
func (it *Iteration) replay(fresh int) ([]Pair, error) {
	var past [][]Pair
	var counts []int
	for k, dir := range it.EarlierDirs {
		if k >= len(it.Replay) {
			break
		}
		ps, err := ReadPairs(filepath.Join(dir, "pairs.jsonl"))
		if err != nil {
			return nil, fmt.Errorf("pairs: replay from %s: %w", dir, err)
		}
		var own []Pair
		for _, p := range ps {
			if !p.Replayed {
				own = append(own, p)
			}
		}
		past = append(past, own)
		counts = append(counts, len(own))
	}
	n, err := ReplayCounts(fresh, counts, it.Replay)
	if err != nil {
		return nil, err
	}
	var out []Pair
	for k, ps := range past {
		perm := rand.New(rand.NewPCG(it.Seed, uint64(it.Index)<<16|uint64(k))).Perm(len(ps))
		for _, i := range perm[:n[k]] {
			p := ps[i]
			p.Replayed = true
			out = append(out, p)
		}
	}
	return out, nil
}

// ReadPairs reads an iteration's pairs.jsonl.
func ReadPairs(path string) ([]Pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Pair
	dec := json.NewDecoder(f)
	for dec.More() {
		var p Pair
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("pairs: %s: pair %d: %w", path, len(out)+1, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func writePairsJSONL(path string, ps []Pair) error {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, p := range ps {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	if err := writeAtomic(path, []byte(b.String())); err != nil {
		return fmt.Errorf("pairs: %w", err)
	}
	return nil
}
