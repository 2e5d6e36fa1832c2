package pairs

import (
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/alignkit/align/data"
)

func TestRankedPairsSchemes(t *testing.T) {
	resp := func(score float64, text string) data.Response {
		return data.Response{Messages: []data.Message{{Role: "assistant", Content: text}}, Score: score, Model: text}
	}
	r := data.Ranked{ID: "q", Prompt: []data.Message{{Role: "user", Content: "Q"}}, Responses: []data.Response{
		resp(3, "c"), resp(9, "a"), resp(3, "d"), resp(6, "b"), resp(9, "a2"),
	}}
	names := func(ps []data.Pair) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Chosen[0].Content+">"+p.Rejected[0].Content+"@"+p.Meta["stage"])
		}
		return out
	}
	// best_vs_rest: the first top-scored response ("a") against every strictly lower one; the
	// tie with "a2" gives no pair. Easy first: gap 6 twice (c before d by rank), then gap 3.
	ps, err := RankedPairs(r, "best_vs_rest")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(ps), []string{"a>c@1", "a>d@2", "a>b@3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("best_vs_rest %v, want %v", got, want)
	}
	all, err := RankedPairs(r, "all_pairs")
	if err != nil {
		t.Fatal(err)
	}
	// Pairs with score_i > score_j: a,a2 over b,c,d (6), b over c,d (2); no a/a2 nor c/d pair.
	if len(all) != 8 {
		t.Fatalf("all_pairs gave %d pairs: %v", len(all), names(all))
	}
	for k := 1; k < len(all); k++ {
		g0 := *all[k-1].ScoreChosen - *all[k-1].ScoreRejected
		g1 := *all[k].ScoreChosen - *all[k].ScoreRejected
		if g1 > g0 {
			t.Fatalf("all_pairs not easy first: %v", names(all))
		}
	}
	if _, err := RankedPairs(r, "nope"); err == nil {
		t.Fatal("unknown scheme accepted")
	}
}

func TestRealVicunaRankedPairs(t *testing.T) {
	path := "../testdata/data/vicuna80_ranked.jsonl"
	rs, rep, err := data.ReadAll(path, data.Options{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	// One prompt has an empty response; it is reported, not silently dropped.
	if rep.Rows != 80 || rep.Skipped != len(rep.Issues) || len(rs)+rep.Skipped != 80 {
		t.Fatalf("rows %d, %s", rep.Rows, rep.Summary())
	}
	for _, is := range rep.Issues {
		if is.Reason != "empty response" || is.Column != "responses" {
			t.Fatalf("unexpected issue %v", is.Error())
		}
	}
	out := filepath.Join(t.TempDir(), "pairs.parquet")
	res, err := MakeRankedPairs(path, out, "best_vs_rest", data.Options{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	// Independently: best_vs_rest gives one pair per response scored strictly below the top.
	wantPairs := 0
	byID := map[string]data.Ranked{}
	for _, r := range rs {
		top := r.Ranked.Responses[0].Score
		for _, x := range r.Ranked.Responses {
			if x.Score > top {
				top = x.Score
			}
		}
		for _, x := range r.Ranked.Responses {
			if x.Score < top {
				wantPairs++
			}
		}
		byID[r.Ranked.ID] = *r.Ranked
	}
	if res.Pairs != wantPairs || res.Prompts != len(rs) {
		t.Fatalf("pairs %d prompts %d, want %d and %d", res.Pairs, res.Prompts, wantPairs, len(rs))
	}
	ps, err := data.ReadPairs(out, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != wantPairs {
		t.Fatalf("read back %d pairs", len(ps))
	}
	// Stage-major order, and within a prompt the gaps never grow.
	lastStage := 0
	gaps := map[string][]float64{}
	for _, p := range ps {
		st := p.Meta["stage"]
		var k int
		for _, c := range st {
			k = k*10 + int(c-'0')
		}
		if k < lastStage {
			t.Fatalf("pair %s (stage %d) after stage %d", p.ID, k, lastStage)
		}
		lastStage = k
		if *p.ScoreChosen <= *p.ScoreRejected {
			t.Fatalf("pair %s: chosen score %v not above rejected %v", p.ID, *p.ScoreChosen, *p.ScoreRejected)
		}
		id := p.ID[:strings.LastIndex(p.ID, "/")]
		src := byID[id]
		if !reflect.DeepEqual(p.Prompt, src.Prompt) {
			t.Fatalf("pair %s prompt differs from its ranked source", p.ID)
		}
		gaps[id] = append(gaps[id], *p.ScoreChosen-*p.ScoreRejected)
	}
	for id, g := range gaps {
		if !sort.SliceIsSorted(g, func(i, j int) bool { return g[i] > g[j] }) {
			t.Fatalf("prompt %s gaps %v not easy first", id, g)
		}
	}
}
