package data

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The real datasets, copied from ../shared/data with their licences (testdata/data/README.md).
const realDir = "../testdata/data"

func realPath(name string) string { return filepath.Join(realDir, name) }

func readAllRecords(t *testing.T, path string, opt Options) ([]Record, Report) {
	t.Helper()
	recs, rep, err := ReadAll(path, opt)
	if err != nil {
		t.Fatalf("ReadAll(%s): %v", path, err)
	}
	return recs, rep
}

// roundTrip converts src to .parquet and .jsonl in a temp dir, reads both back and checks
// that every record survives unchanged.
func roundTrip(t *testing.T, src string, opt Options, want []Record) {
	t.Helper()
	dir := t.TempDir()
	for _, ext := range []string{".parquet", ".jsonl", ".jsonl.gz"} {
		out := filepath.Join(dir, "out"+ext)
		res, err := Convert(src, out, opt)
		if err != nil {
			t.Fatalf("Convert %s -> %s: %v", src, ext, err)
		}
		if res.Written != len(want) {
			t.Fatalf("Convert %s -> %s wrote %d, want %d", src, ext, res.Written, len(want))
		}
		got, rep := readAllRecords(t, out, Options{})
		if !rep.OK() || len(got) != len(want) {
			t.Fatalf("%s: read back %d records (%s), want %d", ext, len(got), rep.Summary(), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			g.Row, w.Row = 0, 0
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("%s record %d differs after the round trip:\n got %+v\nwant %+v", ext, i+1, describe(g), describe(w))
			}
		}
	}
}

func describe(r Record) any {
	switch {
	case r.Pair != nil:
		return *r.Pair
	case r.Ranked != nil:
		return *r.Ranked
	case r.Unpaired != nil:
		return *r.Unpaired
	}
	return r
}

func TestRealHH(t *testing.T) {
	path := realPath("harmless-base-test.jsonl.gz")
	rep := Validate(path, Options{})
	if rep.Rows != 2312 {
		t.Fatalf("rows = %d, want 2312", rep.Rows)
	}
	var noPrefix []int
	for _, is := range rep.Issues {
		if is.Reason == "no shared prompt prefix" {
			noPrefix = append(noPrefix, is.Row)
			if is.Column != "rejected" || is.File != "harmless-base-test.jsonl.gz" {
				t.Errorf("issue located at %q column %q", is.File, is.Column)
			}
		}
	}
	// Independently: split both transcripts at the turn markers and compare all but the last turn.
	want := hhRowsWithoutSharedPrefix(t, path)
	if len(want) != 5 {
		t.Fatalf("independent count of rows without a shared prefix = %d, want 5 (data README)", len(want))
	}
	if !reflect.DeepEqual(noPrefix, want) {
		t.Fatalf("rows without shared prefix = %v, want %v", noPrefix, want)
	}
	// Without SkipInvalid the first invalid row stops the read, named by row and column.
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Format() != (Format{Container: ContainerJSONL, Gzip: true, Layout: LayoutHH}) {
		t.Fatalf("format = %v", r.Format())
	}
	var first Record
	n := 0
	for {
		rec, err := r.Next()
		if err != nil {
			var is *Issue
			if !errors.As(err, &is) || is.Row != rep.Issues[0].Row {
				t.Fatalf("first error %v, want the first invalid row %d", err, rep.Issues[0].Row)
			}
			break
		}
		if n == 0 {
			first = rec
		}
		n++
	}
	if n != rep.Issues[0].Row-1 {
		t.Fatalf("read %d records before the first invalid row %d", n, rep.Issues[0].Row)
	}
	p := first.Pair
	if len(p.Prompt) != 5 || p.Prompt[4].Role != "user" || p.Prompt[4].Content != "okay some of these do not have anything to do with pens" ||
		!strings.HasPrefix(p.Chosen[0].Content, "No, sorry!") || len(p.Chosen) != 1 || len(p.Rejected) != 1 {
		t.Fatalf("first HH pair split wrongly: %+v", p)
	}
	recs, srep := readAllRecords(t, path, Options{SkipInvalid: true})
	if len(recs) != 2312-srep.Skipped || srep.Reasons["no shared prompt prefix"] != 5 {
		t.Fatalf("SkipInvalid read %d records, report %s", len(recs), srep.Summary())
	}
	roundTrip(t, path, Options{SkipInvalid: true}, recs)
}

func hhRowsWithoutSharedPrefix(t *testing.T, path string) []int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(gz)
	turns := func(s string) []string {
		var out []string
		for _, part := range strings.Split(s, "\n\nHuman:") {
			for j, q := range strings.Split(part, "\n\nAssistant:") {
				if j > 0 {
					q = "A:" + q
				} else {
					q = "H:" + q
				}
				out = append(out, strings.TrimSpace(q))
			}
		}
		return out[1:]
	}
	var rows []int
	for row := 1; ; row++ {
		var r struct{ Chosen, Rejected string }
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		c, rj := turns(r.Chosen), turns(r.Rejected)
		if len(c) != len(rj) || !reflect.DeepEqual(c[:len(c)-1], rj[:len(rj)-1]) {
			rows = append(rows, row)
		}
	}
	return rows
}

func TestRealDPODemo(t *testing.T) {
	path := realPath("dpo_en_demo.json")
	recs, rep := readAllRecords(t, path, Options{})
	if len(recs) != 300 || !rep.OK() {
		t.Fatalf("%d records, %s", len(recs), rep.Summary())
	}
	var raw []struct {
		Conversations []struct{ From, Value string }
		Chosen        struct{ From, Value string }
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	multi := 0
	for i, r := range raw {
		p := recs[i].Pair
		if len(p.Prompt) != len(r.Conversations) {
			t.Fatalf("row %d: prompt has %d messages, source %d", i+1, len(p.Prompt), len(r.Conversations))
		}
		humans := 0
		for k, c := range r.Conversations {
			if c.From == "human" {
				humans++
			}
			if p.Prompt[k].Content != c.Value {
				t.Fatalf("row %d message %d content differs", i+1, k+1)
			}
		}
		if humans > 1 {
			multi++
		}
		if p.Chosen[0].Content != r.Chosen.Value || p.Chosen[0].Role != "assistant" {
			t.Fatalf("row %d chosen differs", i+1)
		}
	}
	if multi < 50 {
		t.Fatalf("only %d multi-turn rows; the demo has many", multi)
	}
	roundTrip(t, path, Options{}, recs)
}

func TestRealKTO(t *testing.T) {
	path := realPath("kto_en_demo.json")
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind() != KindUnpaired || r.Format().Layout != LayoutUnpairedMessages {
		t.Fatalf("kind %s layout %s", r.Kind(), r.Format().Layout)
	}
	r.Close()
	us, err := ReadUnpaired(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var raw []struct {
		Messages []struct{ Role, Content string }
		Label    bool
	}
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if len(us) != len(raw) || len(us) != 300 {
		t.Fatalf("%d records, source %d", len(us), len(raw))
	}
	for i := range raw {
		last := raw[i].Messages[len(raw[i].Messages)-1]
		if us[i].Label != raw[i].Label || us[i].Completion[0].Content != last.Content || len(us[i].Prompt) != len(raw[i].Messages)-1 {
			t.Fatalf("row %d differs from the source", i+1)
		}
	}
	recs, _ := readAllRecords(t, path, Options{})
	roundTrip(t, path, Options{}, recs)
	if _, err := ReadPairs(path, Options{}); err == nil || !strings.Contains(err.Error(), "unpaired") {
		t.Fatalf("ReadPairs on unpaired data: %v", err)
	}
}

func TestRealV1DPODemo(t *testing.T) {
	recs, rep := readAllRecords(t, realPath("v1_dpo_demo.jsonl"), Options{})
	if len(recs) != 10 || !rep.OK() {
		t.Fatalf("%d records, %s", len(recs), rep.Summary())
	}
	p := recs[0].Pair
	if p.Prompt[0].Role != "system" || p.Prompt[1].Role != "user" || len(p.Chosen) != 1 || p.Chosen[0].Role != "assistant" {
		t.Fatalf("v1 record split wrongly: %+v", p)
	}
}

func TestRealXSTest(t *testing.T) {
	path := realPath("xstest_refusal_pairs.jsonl")
	ps, err := ReadPairs(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 976 {
		t.Fatalf("%d pairs, want 976", len(ps))
	}
	labels := map[string]int{}
	for _, p := range ps {
		labels[p.Meta["label"]]++
		if p.Meta["chosen_model"] == "" || p.Meta["type"] == "" {
			t.Fatalf("pair %s lost its metadata: %v", p.ID, p.Meta)
		}
	}
	// Count the labels independently.
	b, _ := os.ReadFile(path)
	want := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct{ Label string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		want[r.Label]++
	}
	if !reflect.DeepEqual(labels, want) {
		t.Fatalf("labels %v, source %v", labels, want)
	}
	recs, _ := readAllRecords(t, path, Options{})
	roundTrip(t, path, Options{}, recs)
}

func TestRealVicunaRanked(t *testing.T) {
	path := realPath("vicuna80_ranked.jsonl")
	rs, rep := readAllRecords(t, path, Options{SkipInvalid: true})
	// One prompt has an empty response; it is reported, not silently dropped.
	if rep.Rows != 80 || rep.Skipped != len(rep.Issues) || len(rs)+rep.Skipped != 80 {
		t.Fatalf("rows %d, %s", rep.Rows, rep.Summary())
	}
	for _, is := range rep.Issues {
		if is.Reason != "empty response" || is.Column != "responses" {
			t.Fatalf("unexpected issue %v", is.Error())
		}
	}
	roundTrip(t, path, Options{SkipInvalid: true}, rs)
}
