package data

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// The fixtures in testdata/parquet were written by arrow-go (testdata/gen), not by align. Their
// rows follow these formulas.
func fxQuestion(i int) string { return fmt.Sprintf("Question %d: what is %d plus %d?", i, i, i+1) }
func fxGood(i int) string     { return fmt.Sprintf("%d plus %d is %d.", i, i+1, 2*i+1) }
func fxBad(i int) string      { return fmt.Sprintf("I think it is %d, héhé.", 2*i+7) }

func fixture(name string) string { return filepath.Join("testdata", "parquet", name) }

// fileFacts reads a Parquet footer: row groups, the codecs and encodings of the column chunks.
func fileFacts(t *testing.T, path string) (groups int, codecs map[format.CompressionCodec]bool, dict bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	codecs = map[format.CompressionCodec]bool{}
	for _, rg := range pf.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			codecs[cc.MetaData.Codec] = true
			for _, e := range cc.MetaData.Encoding {
				if e == format.RLEDictionary || e == format.PlainDictionary {
					dict = true
				}
			}
		}
	}
	return len(pf.Metadata().RowGroups), codecs, dict
}

func TestParquetFixtures(t *testing.T) {
	cases := []struct {
		file   string
		groups int
		codec  format.CompressionCodec
		dict   bool
		layout Layout
		kind   Kind
		rows   int
	}{
		{"hf_large_string_snappy.parquet", 4, format.Snappy, true, LayoutPromptStrings, KindPairwise, 10},
		{"trl_conversational_zstd.parquet", 3, format.Zstd, false, LayoutImplicitConversational, KindPairwise, 10},
		{"ultrafeedback_binarized_gzip.parquet", 3, format.Gzip, true, LayoutImplicitConversational, KindPairwise, 6},
		{"ultrafeedback_completions_snappy.parquet", 3, format.Snappy, true, LayoutUltraFeedback, KindRanked, 5},
		{"kto_messages_zstd.parquet", 3, format.Zstd, true, LayoutUnpairedMessages, KindUnpaired, 8},
		{"legacy_2level_uncompressed.parquet", 2, format.Uncompressed, false, LayoutExplicitConversational, KindPairwise, 5},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := fixture(c.file)
			groups, codecs, dict := fileFacts(t, path)
			if groups != c.groups || !codecs[c.codec] || len(codecs) != 1 || dict != c.dict {
				t.Fatalf("fixture has %d row groups, codecs %v, dictionary %v; the test expects %d, %v, %v", groups, codecs, dict, c.groups, c.codec, c.dict)
			}
			r, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Format().Layout != c.layout || r.Kind() != c.kind || r.NumRows() != int64(c.rows) {
				t.Fatalf("layout %s kind %s rows %d", r.Format().Layout, r.Kind(), r.NumRows())
			}
			r.Close()
			recs, rep := readAllRecords(t, path, Options{})
			if len(recs) != c.rows || !rep.OK() {
				t.Fatalf("%d records, %s", len(recs), rep.Summary())
			}
			for i, rec := range recs {
				checkFixtureRow(t, c.file, i+1, rec)
			}
			roundTrip(t, path, Options{}, recs)
		})
	}
}

func checkFixtureRow(t *testing.T, file string, i int, rec Record) {
	t.Helper()
	user := Message{Role: "user", Content: fxQuestion(i)}
	good := []Message{{Role: "assistant", Content: fxGood(i)}}
	bad := []Message{{Role: "assistant", Content: fxBad(i)}}
	fail := func() { t.Fatalf("%s row %d read wrongly: %+v", file, i, describe(rec)) }
	switch file {
	case "hf_large_string_snappy.parquet":
		p := rec.Pair
		if !reflect.DeepEqual(p.Prompt, []Message{user}) || !reflect.DeepEqual(p.Chosen, good) || !reflect.DeepEqual(p.Rejected, bad) {
			fail()
		}
		if i == 4 {
			if p.ScoreChosen != nil || p.ScoreRejected != nil {
				fail()
			}
		} else if p.ScoreChosen == nil || *p.ScoreChosen != float64(8+i%3) || *p.ScoreRejected != float64(2+i%3) {
			fail()
		}
	case "trl_conversational_zstd.parquet":
		var prompt []Message
		if i%2 == 1 {
			prompt = append(prompt, Message{"system", "You are a careful calculator."})
		}
		if i%3 == 0 {
			prompt = append(prompt, Message{"user", "Hello."}, Message{"assistant", "Hello! Ask me a sum."})
		}
		prompt = append(prompt, user)
		p := rec.Pair
		if !reflect.DeepEqual(p.Prompt, prompt) || !reflect.DeepEqual(p.Chosen, good) || !reflect.DeepEqual(p.Rejected, bad) {
			fail()
		}
	case "ultrafeedback_binarized_gzip.parquet":
		p := rec.Pair
		if p.ID != fmt.Sprintf("p%04d", i) || !reflect.DeepEqual(p.Prompt, []Message{user}) || !reflect.DeepEqual(p.Chosen, good) ||
			*p.ScoreChosen != 9 || *p.ScoreRejected != float64(i%5) {
			fail()
		}
	case "ultrafeedback_completions_snappy.parquet":
		r := rec.Ranked
		if !reflect.DeepEqual(r.Prompt, []Message{user}) || len(r.Responses) != 4 || r.Meta["source"] != "evol_instruct" {
			fail()
		}
		for k, m := range []string{"alpha", "beta", "gamma", "delta"} {
			x := r.Responses[k]
			// fine-grained_score is preferred over overall_score.
			if x.Model != m || x.Score != float64(5-k)-0.25*float64(i%2) || x.Messages[0].Content != fmt.Sprintf("%s answers question %d", m, i) {
				fail()
			}
		}
	case "kto_messages_zstd.parquet":
		u := rec.Unpaired
		want := good
		if i%2 == 0 {
			want = bad
		}
		if u.Label != (i%2 == 1) || !reflect.DeepEqual(u.Prompt, []Message{user}) || !reflect.DeepEqual(u.Completion, want) {
			fail()
		}
	case "legacy_2level_uncompressed.parquet":
		p := rec.Pair
		if !reflect.DeepEqual(p.Prompt, []Message{user}) || !reflect.DeepEqual(p.Chosen, good) || !reflect.DeepEqual(p.Rejected, bad) {
			fail()
		}
	}
}

// TestParquetAssembly checks the raw assembly of the 2-level lists, including a null list, an
// empty list and a list of strings.
func TestParquetAssembly(t *testing.T) {
	f, err := os.Open(fixture("legacy_2level_uncompressed.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := openParquet(f.Name(), f)
	if err != nil {
		t.Fatal(err)
	}
	var tags []any
	for {
		rr, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil || rr.issue != nil {
			t.Fatal(err, rr.issue)
		}
		tags = append(tags, rr.fields["tags"])
	}
	list := func(xs ...any) any { return &xs }
	want := []any{list("math", "t1"), nil, list("math", "t3"), list(), list("math", "t5")}
	if len(tags) != len(want) {
		t.Fatalf("%d rows", len(tags))
	}
	for i := range want {
		g, w := tags[i], want[i]
		if w == nil {
			if g != nil {
				t.Fatalf("row %d tags = %v, want null", i+1, g)
			}
			continue
		}
		gl, ok := g.(*[]any)
		if !ok || len(*gl) != len(*w.(*[]any)) || (len(*gl) > 0 && !reflect.DeepEqual(*gl, *w.(*[]any))) {
			t.Fatalf("row %d tags = %#v, want %v", i+1, g, *w.(*[]any))
		}
	}
	if got := src.schema()[3]; got.Name != "tags" || got.Type != "list<string>" {
		t.Fatalf("schema of tags = %+v", got)
	}
}

// TestParquetWriterSchema checks the schema align writes, which pandas and HF datasets read.
func TestParquetWriterSchema(t *testing.T) {
	out := filepath.Join(t.TempDir(), "p.parquet")
	w, err := Create(out, KindPairwise)
	if err != nil {
		t.Fatal(err)
	}
	s := 1.5
	w.groupLimit = 100 // small row groups, to check that the writer splits them
	for i := 1; i <= 20; i++ {
		if err := w.WritePair(Pair{ID: fmt.Sprint(i), Prompt: []Message{{"system", "Be brief."}, {"user", fxQuestion(i)}},
			Chosen: []Message{{"assistant", fxGood(i)}}, Rejected: []Message{{"assistant", fxBad(i)}}, ScoreChosen: &s}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	groups, codecs, _ := fileFacts(t, out)
	if groups < 5 || !codecs[format.Zstd] || len(codecs) != 1 {
		t.Fatalf("%d row groups, codecs %v", groups, codecs)
	}
	r, err := Open(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := map[string]string{}
	for _, c := range r.Schema() {
		got[c.Name] = c.Type
	}
	want := map[string]string{
		"id": "string", "prompt": "string",
		"chosen":       "list<struct<content: string, role: string>>",
		"rejected":     "list<struct<content: string, role: string>>",
		"score_chosen": "double", "score_rejected": "double",
		"meta": "list<struct<key: string, value: string>>",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("schema %v\nwant %v", got, want)
	}
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if rec.Pair.ScoreRejected != nil || *rec.Pair.ScoreChosen != 1.5 || len(rec.Pair.Prompt) != 2 {
		t.Fatalf("first record %+v", *rec.Pair)
	}
}
