package objectives

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"testing"
)

type vicunaRecord struct {
	QuestionID int `json:"question_id"`
	Responses  []struct {
		Model string  `json:"model"`
		Score float64 `json:"score"`
	} `json:"responses"`
}

func loadVicuna(t *testing.T) []vicunaRecord {
	t.Helper()
	f, err := os.Open("../testdata/data/vicuna80_ranked.jsonl") // shared copy, licence beside it
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vicunaRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var r vicunaRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 80 {
		t.Fatalf("vicuna80: %d records", len(out))
	}
	return out
}

func scoresOf(r vicunaRecord) []float64 {
	s := make([]float64, len(r.Responses))
	for i, x := range r.Responses {
		s[i] = x.Score
	}
	return s
}

// Hand-checked pairs for a few vicuna80 prompts (scores read from the file):
//
//	q1: bard 9, gpt35 9, llama-13b 9, vicuna-13b 8.5, alpaca-13b 8
//	    best = bard (first of the tied top); gpt35 and llama tie with it: no pair.
//	    best_vs_rest, score_gap: (bard, alpaca) gap 1, then (bard, vicuna) gap 0.5.
//	q3: bard 9, gpt35 9, vicuna-13b 8.25, alpaca-13b 8, llama-13b 4
//	    (bard, llama) 5, (bard, alpaca) 1, (bard, vicuna) 0.75.
func TestCurryPairsVicunaHandChecked(t *testing.T) {
	recs := loadVicuna(t)
	byID := map[int]vicunaRecord{}
	for _, r := range recs {
		byID[r.QuestionID] = r
	}
	type named struct{ W, L string }
	names := func(r vicunaRecord, ps []PairIndex) []named {
		var out []named
		for _, p := range ps {
			out = append(out, named{r.Responses[p.W].Model, r.Responses[p.L].Model})
		}
		return out
	}
	q1, q3 := byID[1], byID[3]
	if s := scoresOf(q1); !reflect.DeepEqual(s, []float64{9, 9, 9, 8.5, 8}) {
		t.Fatalf("q1 scores changed: %v", s)
	}
	if s := scoresOf(q3); !reflect.DeepEqual(s, []float64{9, 9, 8.25, 8, 4}) {
		t.Fatalf("q3 scores changed: %v", s)
	}
	check := func(r vicunaRecord, scheme, order string, want []named) {
		t.Helper()
		ps, err := CurryPairs(scoresOf(r), scheme, order, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(r, ps); !reflect.DeepEqual(got, want) {
			t.Errorf("q%d %s/%s: %v, want %v", r.QuestionID, scheme, order, got, want)
		}
	}
	check(q1, "best_vs_rest", "score_gap", []named{{"bard", "alpaca-13b"}, {"bard", "vicuna-13b"}})
	check(q1, "best_vs_rest", "reverse", []named{{"bard", "vicuna-13b"}, {"bard", "alpaca-13b"}})
	check(q3, "best_vs_rest", "score_gap", []named{{"bard", "llama-13b"}, {"bard", "alpaca-13b"}, {"bard", "vicuna-13b"}})
	// all_pairs on q1: every strictly ordered pair; gap ties broken by the chosen's rank
	// (bard 0, gpt35 1, llama 2, vicuna 3), then the rejected's rank.
	check(q1, "all_pairs", "score_gap", []named{
		{"bard", "alpaca-13b"}, {"gpt35", "alpaca-13b"}, {"llama-13b", "alpaca-13b"},
		{"bard", "vicuna-13b"}, {"gpt35", "vicuna-13b"}, {"llama-13b", "vicuna-13b"}, {"vicuna-13b", "alpaca-13b"},
	})
}

// Every vicuna80 prompt: the documented best_vs_rest / score_gap order.
func TestCurryPairsVicunaOrder(t *testing.T) {
	total := 0
	for _, r := range loadVicuna(t) {
		s := scoresOf(r)
		ps, err := CurryPairs(s, "best_vs_rest", "score_gap", 0)
		if err != nil {
			t.Fatal(err)
		}
		best := 0
		for i := range s {
			if s[i] > s[best] {
				best = i // first index among the tied top
			}
		}
		below := 0
		for i := range s {
			if s[i] < s[best] {
				below++
			}
		}
		if len(ps) != below {
			t.Errorf("q%d: %d pairs, want %d (one per strictly lower response)", r.QuestionID, len(ps), below)
		}
		for k, p := range ps {
			if p.W != best || !(s[p.W] > s[p.L]) || p.Gap != s[p.W]-s[p.L] {
				t.Errorf("q%d pair %d: %+v", r.QuestionID, k, p)
			}
			if k > 0 {
				prev := ps[k-1]
				if prev.Gap < p.Gap || (prev.Gap == p.Gap && prev.L > p.L) {
					t.Errorf("q%d: pair %d %+v before %+v breaks easy-to-hard order", r.QuestionID, k, prev, p)
				}
			}
		}
		if len(ps) > 0 {
			worst := ps[0].L
			for i := range s {
				if s[i] < s[worst] {
					t.Errorf("q%d: the easiest pair must be (best, worst)", r.QuestionID)
				}
			}
		}
		total += len(ps)
	}
	if total == 0 {
		t.Fatal("no pairs")
	}
}

func TestCurryPairsRandomIsDeterministicPermutation(t *testing.T) {
	s := []float64{5, 1, 4, 2, 3, 0}
	a, _ := CurryPairs(s, "all_pairs", "random", 42)
	b, _ := CurryPairs(s, "all_pairs", "random", 42)
	g, _ := CurryPairs(s, "all_pairs", "score_gap", 0)
	if !reflect.DeepEqual(a, b) {
		t.Error("random order with one seed differs between calls")
	}
	if len(a) != len(g) || len(a) != 15 {
		t.Fatalf("random order has %d pairs, score_gap %d, want 15", len(a), len(g))
	}
	if reflect.DeepEqual(a, g) {
		t.Error("random order equals score_gap order")
	}
	if _, err := CurryPairs(s, "pairs", "score_gap", 0); err == nil {
		t.Error("unknown scheme: no error")
	}
}

// Stage k of the loss is DPO on each prompt's k-th pair.
func TestCurryStageIsDPOOnKthPair(t *testing.T) {
	pi := [][]float64{{-10, -12, -9, -15, -11}, {-20, -21, -22, -23, -24}}
	ref := [][]float64{{-11, -11, -11, -11, -11}, {-20, -20, -20, -20, -20}}
	scores := [][]float64{{5, 4, 3, 2, 1}, {1, 1, 2, 1, 1}} // second prompt: four gap-1 pairs, by the rejected's rank
	for stage := 1; stage <= 4; stage++ {
		c := &CurryDPO{Beta: 0.1, Scheme: "best_vs_rest", Order: "score_gap", Stage: stage}
		in := &Batch{Pi: pi, Ref: ref, Scores: scores}
		res, err := c.Loss(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, n := 0.0, 0
		for b := range pi {
			ps, _ := CurryPairs(scores[b], "best_vs_rest", "score_gap", 0)
			if stage > len(ps) {
				continue
			}
			p := ps[stage-1]
			want += softplusRef(-0.1 * ((pi[b][p.W] - ref[b][p.W]) - (pi[b][p.L] - ref[b][p.L])))
			n++
		}
		want /= float64(n)
		if math.Abs(res.Loss-want) > 1e-14 || res.Metrics["pairs"] != float64(n) {
			t.Errorf("stage %d: loss %v pairs %v, want %v %d", stage, res.Loss, res.Metrics["pairs"], want, n)
		}
	}
}
