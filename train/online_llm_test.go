package train

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/alignkit/align/pairs"
)

type judgment struct {
	Key     string     `json:"key"`
	Kind    string     `json:"kind"`
	Bracket string     `json:"bracket"`
	Valid   bool       `json:"valid"`
	Scores  []*float64 `json:"scores"`
	Raws    []string   `json:"raws"`
}

func readJudgments(t *testing.T, path string) []judgment {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []judgment
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var j judgment
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

// TestLLMJudgedStagesTrain runs one iteration of INPO and APO with a pairwise LLM judge, and of
// DNO-Prct and theoretical DNO with the side-by-side rubric, against the real server:
// stories260k judges with structured outputs (so its answers parse; the pairwise stages use
// MT-Bench's A/B/C verdict, which it samples with some variety, where its AlpacaEval m/M
// answer is always the same letter and so always a tie over both orders), the policy samples with
// the local sampler. Each stage must yield pairs and take its training step; the judgments
// show the rule's shape (INPO: one fresh final per prompt; DNO: one side-by-side call per
// prompt).
func TestLLMJudgedStagesTrain(t *testing.T) {
	host := ollamaHost(t)
	common := append(append([]string{}, small...), "max_steps=1", "eval.held_out=0", "online.iterations=1", "online.local_sampler=true",
		"online.judge.kind=llm", "online.judge.model=stories260k", "online.judge.structured=true", "online.judge.temperature=1")
	cases := []struct {
		recipe  string
		prompts int
		k       int
		sets    []string
	}{
		{"inpo", 6, 8, []string{"online.judge.template=mt-bench/pair-v2"}},
		{"apo", 8, 4, []string{"online.judge.template=mt-bench/pair-v2"}},
		{"dno", 6, 5, []string{"online.select_best=false"}},
		{"dno", 6, 4, []string{"objective.name=dno", "online.pairs.rule=all_pairs", "online.select_best=false", "online.pairs.teacher=false"}},
	}
	for _, c := range cases {
		name := c.recipe
		if len(c.sets) > 0 && c.sets[0] == "objective.name=dno" {
			name = "dno_theoretical"
		}
		t.Run(name, func(t *testing.T) {
			sets := append(append([]string{}, common...), "dataset.max_samples="+strconv.Itoa(c.prompts), "online.samples_per_prompt="+strconv.Itoa(c.k))
			r := load(t, c.recipe, append(sets, c.sets...)...)
			base := t.TempDir()
			dir := filepath.Join(base, "run")
			res, err := Run(context.Background(), Options{Recipe: r, RunDir: dir, CacheDir: filepath.Join(base, "cache"), OllamaHosts: []string{host}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Steps != 1 || res.Pairs == 0 || math.IsNaN(res.FinalLoss) || math.IsInf(res.FinalLoss, 0) {
				t.Fatalf("result %+v", res)
			}
			sd := filepath.Join(dir, "stage-1")
			js := readJudgments(t, filepath.Join(sd, "judgments.jsonl"))
			ps, err := pairs.ReadPairs(filepath.Join(sd, "pairs.jsonl"))
			if err != nil || len(ps) != res.Pairs {
				t.Fatalf("pairs.jsonl: %d pairs, %v; the run trained on %d", len(ps), err, res.Pairs)
			}
			count := map[string]int{}
			for _, j := range js {
				count[j.Kind+"/"+j.Bracket]++
				if !j.Valid {
					t.Errorf("a structured answer did not parse: %q", j.Raws)
				}
				for _, raw := range j.Raws {
					if !json.Valid([]byte(raw)) {
						t.Errorf("raw structured answer %q is not JSON", raw)
					}
				}
			}
			t.Logf("%s: %d pairs from %d prompts; judgments %v", name, len(ps), c.prompts, count)
			switch c.recipe {
			case "inpo":
				// 11 games per prompt: 7 in the winners' bracket, 3 in the losers', 1 final.
				if count["pair/final"] != c.prompts || count["pair/winners"] != 7*c.prompts || count["pair/losers"] != 3*c.prompts || len(js) != 11*c.prompts {
					t.Errorf("INPO judgments %v, want 7, 3 and 1 per prompt", count)
				}
				if len(ps) > c.prompts {
					t.Errorf("%d INPO pairs from %d prompts: at most one each", len(ps), c.prompts)
				}
			case "apo":
				if count["pair/scan"] == 0 {
					t.Errorf("APO judgments %v", count)
				}
			case "dno":
				if count["side_by_side/"] != c.prompts || len(js) != c.prompts {
					t.Errorf("DNO judgments %v: want one side-by-side call per prompt", count)
				}
				for _, j := range js {
					if len(j.Scores) < 2 || len(j.Scores) > c.k+1 {
						t.Errorf("side-by-side answer with %d scores for %d candidates", len(j.Scores), c.k)
					}
				}
				if name == "dno_theoretical" {
					for _, p := range ps {
						if p.WinChosen == nil || p.WinRejected == nil || *p.WinChosen <= *p.WinRejected {
							t.Errorf("theoretical DNO pair without ordered win rates: %+v", p)
						}
					}
				}
			}
		})
	}
}
