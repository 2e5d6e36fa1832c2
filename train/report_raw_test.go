package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTrainReportShowsRuleJudgeRaw: a quickstart run's held-out rows carry the rule judge's
// raw text, whose counts agree with a count of the target words done here, and the report's
// side-by-side examples show that text.
func TestTrainReportShowsRuleJudgeRaw(t *testing.T) {
	r := load(t, "quickstart", "dataset.max_samples=12", "eval.held_out=6", "eval.samples=1", "max_steps=2",
		"online.sampling.max_tokens=24")
	dir := filepath.Join(t.TempDir(), "run")
	run(t, r, dir)
	f, err := os.Open(filepath.Join(dir, "eval.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	words := regexp.MustCompile(`[\p{L}']+`)
	count := func(s string) int {
		n := 0
		for _, tok := range words.FindAllString(strings.ToLower(s), -1) {
			for _, w := range r.Online.Judge.Words {
				if tok == w {
					n++
				}
			}
		}
		return n
	}
	var raws []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var row struct {
			Base, Trained, Raw string
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{fmt.Sprintf("trained: %d target words", count(row.Trained)), fmt.Sprintf("\nbase: %d target words", count(row.Base)), "\nverdict: "} {
			if !strings.Contains(row.Raw, want) {
				t.Errorf("raw %q lacks %q", row.Raw, want)
			}
		}
		raws = append(raws, row.Raw)
	}
	if len(raws) != 6 {
		t.Fatalf("%d held-out rows, want 6", len(raws))
	}
	h, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for _, raw := range raws {
		if strings.Contains(string(h), html.EscapeString(raw)) {
			shown++
		}
	}
	if shown == 0 || strings.Contains(string(h), "no judge text recorded") {
		t.Fatalf("report.html shows %d of the %d raw texts", shown, len(raws))
	}
}
