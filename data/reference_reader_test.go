package data

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// hyparquetScript reads a Parquet file with hyparquet (a JavaScript Parquet reader written
// independently of parquet-go, with its zstd and snappy codecs from hyparquet-compressors) and
// prints its schema's top-level column names and every row as JSON.
const hyparquetScript = `
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema, toJson } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
const file = await asyncBufferFromFile(process.argv[2])
const schema = parquetSchema(await parquetMetadataAsync(file))
const rows = await parquetReadObjects({ file, compressors })
process.stdout.write(JSON.stringify({ columns: schema.children.map(c => c.element.name), rows: toJson(rows) }))
`

// hyparquetDir is where scripts/deps.sh installs hyparquet (make test runs it first).
func hyparquetDir(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("ALIGN_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "align")
	}
	version := os.Getenv("HYPARQUET_VERSION")
	if version == "" {
		version = "1.33.0" // keep in step with scripts/deps.sh
	}
	dir := filepath.Join(cache, "node-hyparquet-"+version)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "hyparquet-compressors", "package.json")); err != nil {
		if os.Getenv("ALIGN_SKIP_NODE") == "1" {
			t.Skip("SKIPPED: ALIGN_SKIP_NODE=1 and no hyparquet — align's Parquet was NOT checked against an independent reader")
		}
		t.Fatalf("hyparquet is not installed in %s: run `bash scripts/deps.sh` (make test does), or set ALIGN_SKIP_NODE=1 to skip", dir)
	}
	return dir
}

// messages reads a column that align writes either as a plain string (one user turn) or as a
// list of {role, content} structs.
func messages(v any) ([]Message, error) {
	switch x := v.(type) {
	case string:
		return []Message{{Role: "user", Content: x}}, nil
	case []any:
		out := make([]Message, len(x))
		for i, m := range x {
			mm, ok := m.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("element %d is %T", i, m)
			}
			out[i] = Message{Role: fmt.Sprint(mm["role"]), Content: fmt.Sprint(mm["content"])}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected %T", v)
}

// TestIndependentReaderReadsParquet converts a real dataset to Parquet and reads it back with
// hyparquet: every row's prompt, chosen and rejected must equal what align read from the JSONL.
// (pandas would be the natural peer, but Debian packages no pyarrow; hyparquet comes from npm.)
func TestIndependentReaderReadsParquet(t *testing.T) {
	dir := hyparquetDir(t)
	out := filepath.Join(t.TempDir(), "xstest.parquet")
	if _, err := Convert(realPath("xstest_refusal_pairs.jsonl"), out, Options{}); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "read.mjs")
	if err := os.WriteFile(script, []byte(hyparquetScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, out)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("hyparquet failed to read align's Parquet: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got struct {
		Columns []string
		Rows    []map[string]any
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	ps, err := ReadPairs(realPath("xstest_refusal_pairs.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"prompt", "chosen", "rejected"} {
		found := false
		for _, c := range got.Columns {
			found = found || c == col
		}
		if !found {
			t.Errorf("column %q missing from %v", col, got.Columns)
		}
	}
	if len(got.Rows) != len(ps) || len(ps) < 100 {
		t.Fatalf("hyparquet read %d rows, align read %d from the JSONL", len(got.Rows), len(ps))
	}
	for i, row := range got.Rows {
		// align's Parquet is TRL's conversational layout with an implicit prompt: chosen and
		// rejected hold the whole conversation, prompt turns first (docs/data.md).
		full := func(completion []Message) []Message {
			return append(append([]Message{}, ps[i].Prompt...), completion...)
		}
		for _, c := range []struct {
			name string
			want []Message
		}{{"prompt", ps[i].Prompt}, {"chosen", full(ps[i].Chosen)}, {"rejected", full(ps[i].Rejected)}} {
			m, err := messages(row[c.name])
			if err != nil {
				t.Fatalf("row %d column %s: %v", i, c.name, err)
			}
			if fmt.Sprint(m) != fmt.Sprint(c.want) {
				t.Fatalf("row %d column %s: hyparquet read %q, want %q", i, c.name, m, c.want)
			}
		}
	}
}
