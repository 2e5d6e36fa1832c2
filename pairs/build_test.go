package pairs

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/alignkit/align/data"
)

// listSampler answers prompt i's seed j with texts[id][j] and counts its calls.
type listSampler struct {
	texts map[string][]string
	calls atomic.Int32
}

func (s *listSampler) Sample(_ context.Context, todo []Planned, done func(int, []string) error) error {
	for i, p := range todo {
		s.calls.Add(1)
		if err := done(i, s.texts[p.ID][:len(p.Seeds)]); err != nil {
			return err
		}
	}
	return nil
}

func prompts(n int) []Prompt {
	out := make([]Prompt, n)
	for i := range out {
		out[i] = Prompt{ID: fmt.Sprintf("p%d", i), Messages: []data.Message{{Role: "user", Content: fmt.Sprintf("Tell story %d.", i)}}}
	}
	return out
}

func TestBuildRubricRuleJudge(t *testing.T) {
	// The rule judge grades by the count of "happy" plus a length tie-break below 1; sample 4
	// is degenerate (an automatic negative); the teacher's response is a sixth candidate.
	loop := strings.Repeat("the cat sat on the mat and ", 12)
	s := &listSampler{texts: map[string][]string{
		"p0": {"happy happy happy day", "happy day", "a day", "happy happy sun", loop},
	}}
	ps := prompts(1)
	ps[0].Teacher = "happy happy happy happy happy end"
	dir := t.TempDir()
	it := Iteration{Dir: dir, Plan: Plan(ps, 5, 7), Sampler: s, Judge: RuleJudge{Words: []string{"happy"}, TargetLength: 4},
		Rule: Rule{Kind: RuleRubric, DNO: DNORule{MinScore: 3, MinGap: 2, StudentGap: 1}, AutoNegatives: true, WinRates: true}}
	got, st, err := Build(context.Background(), it)
	if err != nil {
		t.Fatal(err)
	}
	type cr struct{ c, r string }
	var gotc []cr
	for _, p := range got {
		gotc = append(gotc, cr{p.Chosen, p.Rejected})
	}
	// Grades: s0 = 3 + 1/1 = 4, s1 = 1 + 1/3, s2 = 0 + 1/3, s3 = 2 + 1/2, s4 automatic,
	// teacher 5 + 1/3. Positives (≥ 3): s0 (student, gap 1) over s1, s2, s3 (4 - 2.5 = 1.5),
	// s4; the teacher (gap 2) over s1, s2, s3 (5.33 - 2.5), s4; not over s0 (1.33 < 2).
	wantc := []cr{
		{"happy happy happy day", "happy day"}, {"happy happy happy day", "a day"}, {"happy happy happy day", "happy happy sun"}, {"happy happy happy day", loop},
		{ps[0].Teacher, "happy day"}, {ps[0].Teacher, "a day"}, {ps[0].Teacher, "happy happy sun"}, {ps[0].Teacher, loop},
	}
	if fmt.Sprint(gotc) != fmt.Sprint(wantc) {
		t.Errorf("pairs\n got %v\nwant %v", gotc, wantc)
	}
	if st.AutoNegatives != 1 || st.Graded != 5 || st.Fresh != 8 {
		t.Errorf("stats %+v", st)
	}
	// Win rates against the student samples: s0 beats s1, s2, s3, s4: 1; the teacher 1;
	// s1 beats s2, s4: 2/4; s2 beats s4: 1/4; s3 beats s1, s2, s4: 3/4; s4: 0.
	if *got[0].WinChosen != 1 || *got[0].WinRejected != 0.5 || *got[5].WinRejected != 0.25 || *got[7].WinRejected != 0 {
		t.Errorf("win rates %v %v %v %v", *got[0].WinChosen, *got[0].WinRejected, *got[5].WinRejected, *got[7].WinRejected)
	}
	// A rerun reads the pairs back without sampling.
	again, _, err := Build(context.Background(), it)
	if err != nil || len(again) != len(got) || s.calls.Load() != 1 {
		t.Errorf("rerun: %d pairs, %d sampler calls, %v", len(again), s.calls.Load(), err)
	}
}

func TestBuildReplay(t *testing.T) {
	// Iteration 1 has 10 fresh pairs, iteration 2 has 10 and replays 30% of iteration 1's;
	// iteration 3 has 10 and replays 30% of 2's own and 15% of 1's (floor 1.5 = 1), never a
	// pair that 2 itself replayed.
	root := t.TempDir()
	texts := map[string][]string{}
	for i := range 10 {
		texts[fmt.Sprintf("p%d", i)] = []string{"happy a", "b"}
	}
	var dirs []string
	var all [][]Pair
	for k := range 3 {
		dir := filepath.Join(root, fmt.Sprintf("stage-%d", k+1))
		earlier := make([]string, 0, k)
		for j := k - 1; j >= 0; j-- {
			earlier = append(earlier, dirs[j])
		}
		// Each iteration's samples differ so its pairs can be told apart.
		for id := range texts {
			texts[id] = []string{fmt.Sprintf("happy it%d %s", k+1, id), "no"}
		}
		it := Iteration{Index: k, Dir: dir, Plan: Plan(prompts(10), 2, 1), Sampler: &listSampler{texts: texts},
			Judge: RuleJudge{Words: []string{"happy"}}, Rule: Rule{Kind: RuleBestVsWorst}, Replay: []float64{0.3, 0.15}, EarlierDirs: earlier, Seed: 5}
		ps, st, err := Build(context.Background(), it)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
		all = append(all, ps)
		wantReplay := []int{0, 3, 4}[k]
		if st.Fresh != 10 || st.Replayed != wantReplay || len(ps) != 10+wantReplay {
			t.Errorf("iteration %d: %+v", k+1, st)
		}
	}
	from := map[int]int{}
	for _, p := range all[2] {
		if p.Replayed {
			from[p.Iteration]++
			if !strings.Contains(p.Chosen, fmt.Sprintf("it%d", p.Iteration)) {
				t.Errorf("replayed pair %v is not iteration %d's", p, p.Iteration)
			}
		}
	}
	if from[2] != 3 || from[1] != 1 {
		t.Errorf("iteration 3 replays %v, want 3 from iteration 2 and 1 from iteration 1", from)
	}
}
