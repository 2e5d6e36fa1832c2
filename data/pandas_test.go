package data

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPandasReadsParquet checks that pandas (through pyarrow) reads align's Parquet, when
// /usr/bin/python3 has pyarrow. Debian bookworm packages pandas but not pyarrow, so on a plain
// Debian machine this test is skipped, loudly.
func TestPandasReadsParquet(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import pandas, pyarrow.parquet").Run(); err != nil {
		t.Skip("SKIP: " + py + " lacks pandas or pyarrow (Debian bookworm has no python3-pyarrow); align's Parquet was NOT checked against pandas here")
	}
	out := filepath.Join(t.TempDir(), "xstest.parquet")
	if _, err := Convert(realPath("xstest_refusal_pairs.jsonl"), out, Options{}); err != nil {
		t.Fatal(err)
	}
	script := `import sys, json, pandas as pd
df = pd.read_parquet(sys.argv[1])
r = df.iloc[0]
print(json.dumps({"rows": len(df), "columns": list(df.columns), "chosen_last": str(r["chosen"][-1]["content"]), "prompt": str(r["prompt"])}))`
	b, err := exec.Command(py, "-c", script, out).Output()
	if err != nil {
		t.Fatalf("pandas failed to read align's Parquet: %v", err)
	}
	var got struct {
		Rows       int
		Columns    []string
		ChosenLast string `json:"chosen_last"`
		Prompt     string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	ps, err := ReadPairs(realPath("xstest_refusal_pairs.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != len(ps) || got.ChosenLast != ps[0].Chosen[0].Content || got.Prompt != ps[0].Prompt[0].Content {
		t.Fatalf("pandas read %+v", got)
	}
}
