package pairs

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alignkit/align/runtime"
)

// readJudgeLog reads a judgment log's records, in order, without the code under test.
func readJudgeLog(t *testing.T, path string) []JudgeRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []JudgeRecord
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r JudgeRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out
}

// deadPool is a pool whose only host answers nothing: a judge on it can only answer from its log.
func deadPool(t *testing.T) *runtime.Pool {
	t.Helper()
	p, err := runtime.NewPool([]string{"127.0.0.1:9"}, runtime.PoolOptions{RequestTimeout: time.Second, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenLLMJudgeChecks: the template, mode and structured checks, and the default modes.
func TestOpenLLMJudgeChecks(t *testing.T) {
	dir := t.TempDir()
	pool := deadPool(t)
	for _, c := range []struct {
		tpl, mode  string
		structured bool
		want       string
	}{
		{"no-such-template", "", false, "judge template"},
		{"dno-additive6", "bogus", false, `judge mode "bogus"`},
		{"alpaca_eval_clf", GradeSideBySide, false, "needs a grading template"},
	} {
		if _, err := OpenLLMJudge(pool, "m", c.tpl, c.structured, nil, c.mode, 1, filepath.Join(dir, "x.jsonl")); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s/%s: error %v, want %q", c.tpl, c.mode, err, c.want)
		}
	}
	for tpl, want := range map[string]string{"dno-additive6": GradeSideBySide, "alpaca_eval_clf": GradeEach} {
		j, err := OpenLLMJudge(pool, "m", tpl, true, nil, "", 1, filepath.Join(dir, tpl+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if j.Mode != want || j.Pairwise() != (tpl == "alpaca_eval_clf") {
			t.Errorf("%s: mode %q pairwise %v, want %q", tpl, j.Mode, j.Pairwise(), want)
		}
		j.Close()
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte("{not json\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLLMJudge(pool, "m", "dno-additive6", false, nil, "", 1, filepath.Join(dir, "bad.jsonl")); err == nil || !strings.Contains(err.Error(), "judgments") {
		t.Errorf("corrupt log: error %v", err)
	}
}

// TestLLMJudgeServer asks stories260k, the real server's judge, with structured outputs: a
// pairwise game in both orders (one question, the second order answered from the log), grading
// one candidate per call, grading side by side, and a free-text side-by-side question that
// stories260k cannot answer in the format (every attempt logged, the scores NaN). A judge
// reopened on a dead host answers every question from the log.
func TestLLMJudgeServer(t *testing.T) {
	pool := ollamaPool(t)
	ctx := context.Background()
	dir := t.TempDir()
	ins := "Write a story about a dog."
	a, b, c := "The dog ran to the park and played with a ball.", "Dog.", "Once there was a happy dog named Max who loved his friends."

	// Pairwise, structured.
	pl := filepath.Join(dir, "pair.jsonl")
	pj, err := OpenLLMJudge(pool, "stories260k", "alpaca_eval_clf", true, nil, "", 3, pl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pj.Grade(ctx, ins, []string{a, b}); err == nil || !strings.Contains(err.Error(), "compares pairs") {
		t.Errorf("Grade with a pairwise template: error %v", err)
	}
	ab, err := pj.Play(ctx, ins, a, b, "r1")
	if err != nil {
		t.Fatal(err)
	}
	ba, err := pj.Play(ctx, ins, b, a, "r1")
	if err != nil {
		t.Fatal(err)
	}
	pj.Close()
	recs := readJudgeLog(t, pl)
	if len(recs) != 1 || recs[0].Kind != "pair" || recs[0].Bracket != "r1" || recs[0].Template != "alpaca_eval_clf" {
		t.Fatalf("pair log %+v, want one pair record of bracket r1", recs)
	}
	r := recs[0]
	if len(r.Raws) != 2 {
		t.Errorf("pair record has %d raw answers, want 2 (both orders)", len(r.Raws))
	}
	// The logged preference decides the game: 1 (first better) is a win for the smaller of a, b.
	want := 0
	if r.Valid {
		if r.Preference == nil || math.IsNaN(*r.Preference) {
			t.Fatalf("valid pair record without a preference: %+v", r)
		}
		switch p := *r.Preference; {
		case p < 1.5:
			want = 1
		case p > 1.5:
			want = -1
		}
	} else if r.Preference != nil {
		t.Errorf("invalid pair record keeps a preference %v", *r.Preference)
	}
	if b < a { // the log holds (b, a): the game from a's side is negated
		want = -want
	}
	if ab != want || ba != -want {
		t.Errorf("Play(a,b)=%d Play(b,a)=%d, the log's preference gives %d and %d", ab, ba, want, -want)
	}

	// Grading one candidate per call, structured: every answer is an integer 0-6.
	el := filepath.Join(dir, "each.jsonl")
	ej, err := OpenLLMJudge(pool, "stories260k", "dno-additive6", true, nil, GradeEach, 3, el)
	if err != nil {
		t.Fatal(err)
	}
	each, err := ej.Grade(ctx, ins, []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	// Play with a grading template grades both and compares the grades.
	g, err := ej.Play(ctx, ins, a, b, "")
	if err != nil {
		t.Fatal(err)
	}
	ej.Close()
	er := readJudgeLog(t, el)
	if len(er) != 2 {
		t.Fatalf("each log holds %d records, want 2 (Play reuses the grades)", len(er))
	}
	for i, s := range each {
		if !er[i].Valid || er[i].Kind != "single" || er[i].Score == nil || *er[i].Score != s || s != math.Trunc(s) || s < 0 || s > 6 {
			t.Errorf("candidate %d: grade %v, record %+v", i, s, er[i])
		}
	}
	wantG := 0
	if each[0] > each[1] {
		wantG = 1
	} else if each[0] < each[1] {
		wantG = -1
	}
	if g != wantG {
		t.Errorf("Play on grades %v = %d, want %d", each, g, wantG)
	}

	// Side by side, structured: one question for three candidates.
	sl := filepath.Join(dir, "sbs.jsonl")
	sj, err := OpenLLMJudge(pool, "stories260k", "dno-additive6", true, nil, "", 3, sl)
	if err != nil {
		t.Fatal(err)
	}
	sbs, err := sj.Grade(ctx, ins, []string{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	one, err := sj.Grade(ctx, ins, []string{c})
	if err != nil {
		t.Fatal(err)
	}
	sj.Close()
	sr := readJudgeLog(t, sl)
	if len(sr) != 2 || sr[0].Kind != "side_by_side" || sr[1].Kind != "single" {
		t.Fatalf("side-by-side log %+v, want a side_by_side record, then a single one (one candidate is graded alone)", sr)
	}
	if !sr[0].Valid || len(sr[0].Scores) != 3 || len(sr[0].Raws) != 1 || len(sbs) != 3 {
		t.Fatalf("structured side-by-side record %+v, scores %v: want valid, 3 scores, 1 answer", sr[0], sbs)
	}
	if p := ParseSideBySide(sr[0].Raws[0], 3, true); p == nil {
		t.Errorf("logged answer %q does not parse", sr[0].Raws[0])
	} else {
		for i := range sbs {
			if sbs[i] != p[i] || *sr[0].Scores[i] != p[i] {
				t.Errorf("response %d: grade %v, logged %v, the answer says %v", i+1, sbs[i], *sr[0].Scores[i], p[i])
			}
		}
	}
	if len(one) != 1 || math.IsNaN(one[0]) {
		t.Errorf("one candidate graded %v", one)
	}

	// Side by side in free text: stories260k writes stories, not "Response i: Score: n" lines,
	// so all SideBySideAttempts tries are logged and every score is NaN.
	fl := filepath.Join(dir, "free.jsonl")
	fj, err := OpenLLMJudge(pool, "stories260k", "dno-additive6", false, nil, GradeSideBySide, 3, fl)
	if err != nil {
		t.Fatal(err)
	}
	free, err := fj.Grade(ctx, ins, []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	fj.Close()
	fr := readJudgeLog(t, fl)
	if len(fr) != 1 {
		t.Fatalf("free log holds %d records", len(fr))
	}
	parsed := false
	for _, raw := range fr[0].Raws {
		parsed = parsed || ParseSideBySide(raw, 2, false) != nil
	}
	if parsed {
		// the model happened to answer in the format: then the last try is the valid one
		if !fr[0].Valid || ParseSideBySide(fr[0].Raws[len(fr[0].Raws)-1], 2, false) == nil {
			t.Errorf("free-text record %+v: a parsed answer must end the tries and be valid", fr[0])
		}
	} else {
		if fr[0].Valid || len(fr[0].Raws) != SideBySideAttempts || len(fr[0].Scores) != 0 {
			t.Errorf("free-text record valid=%v with %d tries and %d scores, want invalid after %d tries", fr[0].Valid, len(fr[0].Raws), len(fr[0].Scores), SideBySideAttempts)
		}
		for i, v := range free {
			if !math.IsNaN(v) {
				t.Errorf("free-text grade %d = %v, want NaN", i, v)
			}
		}
	}

	// Reopened on a dead host, every judge answers from its log.
	dead := deadPool(t)
	for _, rc := range []struct {
		tpl, mode, log string
		structured     bool
	}{{"alpaca_eval_clf", "", pl, true}, {"dno-additive6", GradeEach, el, true}, {"dno-additive6", "", sl, true}, {"dno-additive6", GradeSideBySide, fl, false}} {
		j, err := OpenLLMJudge(dead, "stories260k", rc.tpl, rc.structured, nil, rc.mode, 3, rc.log)
		if err != nil {
			t.Fatal(err)
		}
		switch rc.log {
		case pl:
			if x, err := j.Play(ctx, ins, a, b, "r1"); err != nil || x != ab {
				t.Errorf("resumed pair: %d, %v; want %d", x, err, ab)
			}
		case el:
			if x, err := j.Grade(ctx, ins, []string{a, b}); err != nil || x[0] != each[0] || x[1] != each[1] {
				t.Errorf("resumed grades: %v, %v; want %v", x, err, each)
			}
		case sl:
			if x, err := j.Grade(ctx, ins, []string{a, b, c}); err != nil || x[0] != sbs[0] || x[1] != sbs[1] || x[2] != sbs[2] {
				t.Errorf("resumed side by side: %v, %v; want %v", x, err, sbs)
			}
		case fl:
			if x, err := j.Grade(ctx, ins, []string{a, b}); err != nil || len(x) != 2 || (math.IsNaN(x[0]) != math.IsNaN(free[0])) {
				t.Errorf("resumed free text: %v, %v; want %v", x, err, free)
			}
		}
		j.Close()
	}
	// A question not in the log goes to the dead host and fails, naming the judge.
	j, err := OpenLLMJudge(dead, "stories260k", "dno-additive6", true, nil, "", 3, sl)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Grade(ctx, ins, []string{b, c}); err == nil || !strings.Contains(err.Error(), "side-by-side judge stories260k") {
		t.Errorf("new side-by-side question on a dead host: error %v", err)
	}
	if _, err := j.Grade(ctx, "Another instruction.", []string{b}); err == nil || !strings.Contains(err.Error(), "pairs: judge") {
		t.Errorf("new single question on a dead host: error %v", err)
	}
}
