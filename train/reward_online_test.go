package train

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestOnlineStagesWithRewardJudge: INPO (tournament games) and DNO (graded rubric pairs) with
// online.judge.kind: reward yield pairs and take training steps, and every judgment in the
// stage's log is the reward model's (template reward, valid, the reward as the score and the
// raw text). No run here accepts "no training pairs".
func TestOnlineStagesWithRewardJudge(t *testing.T) {
	base := t.TempDir()
	rm := filepath.Join(base, "rm")
	run(t, load(t, "reward", append(append([]string{}, small...), "dataset.max_samples=40", "eval.held_out=1", "max_steps=3")...), rm)
	for name, sets := range map[string][]string{
		"inpo": {"objective.name=inpo", "online.pairs.rule=tournament"},
		"dno": {"objective.name=dno", "online.pairs.rule=rubric", "online.pairs.min_score=-100", "online.pairs.min_gap=0.001",
			"online.pairs.student_gap=0.001", "online.pairs.teacher=false"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(base, name)
			args := append(append([]string{}, small...), "online.judge.kind=reward", "online.judge.run="+rm, "eval.held_out=0")
			res := run(t, load(t, "quickstart", append(args, sets...)...), dir)
			if res.Pairs == 0 || res.Steps == 0 {
				t.Fatalf("%s with a reward judge: %d pairs, %d steps", name, res.Pairs, res.Steps)
			}
			f, err := os.Open(filepath.Join(dir, "stage-1", "judgments.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			n := 0
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var r struct {
					Judge, Template string
					Valid           bool
					Score           *float64
					Raws            []string
				}
				if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
					t.Fatal(err)
				}
				if r.Judge != "rm:"+rm || r.Template != "reward" || !r.Valid || r.Score == nil || len(r.Raws) != 1 {
					t.Fatalf("judgment %s", sc.Text())
				}
				n++
			}
			if n == 0 {
				t.Fatal("no judgment logged")
			}
			t.Logf("%s: %d pairs, %d steps, %d rewards logged", name, res.Pairs, res.Steps, n)
		})
	}
}
