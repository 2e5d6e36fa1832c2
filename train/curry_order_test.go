package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCurryNonIterativeKeepsCurriculum trains Curry-DPO's non-iterative variant for one epoch
// on the vicuna80 ranked data and checks the order it trained in: every prompt's first
// (easiest) pair before any prompt's second, each prompt's pairs by descending score gap with
// its top-scored response chosen, and the data order unshuffled.
func TestCurryNonIterativeKeepsCurriculum(t *testing.T) {
	r := load(t, "curry-dpo", append(append([]string{}, small...), "dataset.path=../testdata/data/vicuna80_ranked.jsonl",
		"dataset.format=auto", "dataset.skip_invalid=true", "dataset.max_samples=5", "objective.iterative=false",
		"per_device_train_batch_size=4", "max_length=48", "max_prompt_length=16")...)
	dir := filepath.Join(t.TempDir(), "run")
	res := run(t, r, dir)
	f, err := os.Open(filepath.Join(dir, "stage-1", "curriculum.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type row struct {
		ID            string  `json:"id"`
		ScoreChosen   float64 `json:"score_chosen"`
		ScoreRejected float64 `json:"score_rejected"`
	}
	var rows []row
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var x row
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, x)
	}
	if len(rows) < 10 || res.Pairs != len(rows) {
		t.Fatalf("%d pairs in the curriculum, %d trained", len(rows), res.Pairs)
	}
	lastStage := 0
	lastGap := map[string]float64{}
	best := map[string]float64{}
	for i, x := range rows {
		k := strings.LastIndex(x.ID, " pair ")
		prompt := x.ID[:k]
		var stage int
		fmt.Sscanf(x.ID[k+6:], "%d", &stage)
		if stage < lastStage {
			t.Fatalf("row %d (%s): stage %d after stage %d: the curriculum was reshuffled", i, x.ID, stage, lastStage)
		}
		lastStage = stage
		gap := x.ScoreChosen - x.ScoreRejected
		if g, ok := lastGap[prompt]; ok && gap > g {
			t.Errorf("%s: gap %g after %g: not easiest first", x.ID, gap, g)
		}
		lastGap[prompt] = gap
		if b, ok := best[prompt]; ok && b != x.ScoreChosen {
			t.Errorf("%s: chosen score %g, the prompt's best is %g", x.ID, x.ScoreChosen, b)
		}
		best[prompt] = x.ScoreChosen
		if gap <= 0 {
			t.Errorf("%s: a tie or inverted pair", x.ID)
		}
	}
	// The loop's data order: the identity for the non-iterative run, a shuffle otherwise.
	tr := &trainer{r: r, st: loopState{RNG: NewRNG(r.Seed, 0)}}
	for i, p := range tr.dataOrder(len(rows)) {
		if p != i {
			t.Fatalf("non-iterative Curry-DPO data order shuffled at %d", i)
		}
	}
	it := true
	tr.r.Objective.Iterative = &it
	shuffled := false
	for i, p := range tr.dataOrder(len(rows)) {
		shuffled = shuffled || p != i
	}
	if !shuffled {
		t.Error("iterative stages are not shuffled")
	}
}
