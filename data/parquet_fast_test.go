package data

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// transcript reads a Parquet file with the fast path (or, with generic, the generic one) and
// writes down every record and issue, and the final report.
func transcript(name string, b []byte, generic bool) (out []string, fast, fatal bool) {
	src, err := openParquetAt(name, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return []string{"open: " + err.Error()}, false, true
	}
	if generic {
		src.fast = nil
	}
	fast = src.fast != nil
	r := &Reader{path: name, file: name, src: src, opt: Options{MaxRowBytes: 1 << 16}}
	r.format.Container = ContainerParquet
	if err := r.detect(); err != nil {
		return []string{"detect: " + err.Error()}, fast, true
	}
	defer r.Close()
	for n := 0; n < 100000; n++ {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			out = append(out, "issue: "+err.Error())
			if IsFatal(err) {
				fatal = true
				break
			}
			continue
		}
		j, _ := json.Marshal(rec)
		out = append(out, string(j))
	}
	j, _ := json.Marshal(r.Report())
	return append(out, "report: "+string(j)), fast, fatal
}

// firstDiff returns the first line where two transcripts differ, or -1.
func firstDiff(a, b []string) (int, string, string) {
	for i := range max(len(a), len(b)) {
		var f, g string
		if i < len(a) {
			f = a[i]
		}
		if i < len(b) {
			g = b[i]
		}
		if f != g {
			return i, f, g
		}
	}
	return -1, "", ""
}

func sameTranscripts(t *testing.T, name string, b []byte, wantFast bool) {
	t.Helper()
	fastOut, fast, _ := transcript(name, b, false)
	genOut, _, _ := transcript(name, b, true)
	if fast != wantFast {
		t.Errorf("%s: fast path used %v, want %v", name, fast, wantFast)
	}
	if i, f, g := firstDiff(fastOut, genOut); i >= 0 {
		t.Fatalf("%s: line %d differs:\nfast:    %.300s\ngeneric: %.300s", name, i+1, f, g)
	}
	if len(fastOut) < 2 {
		t.Errorf("%s: no records read: %v", name, fastOut)
	}
}

// TestParquetFastFixtures reads the arrow-go, pandas-style and align-written files with both
// paths: same records, same issues, same report.
func TestParquetFastFixtures(t *testing.T) {
	want := map[string]bool{ // which fixtures the fast path takes
		"hf_large_string_snappy.parquet":           true,
		"trl_conversational_zstd.parquet":          true,
		"kto_messages_zstd.parquet":                true,
		"legacy_2level_uncompressed.parquet":       true,
		"ultrafeedback_binarized_gzip.parquet":     true,
		"ultrafeedback_completions_snappy.parquet": true, // completions (nested lists) assembled generically
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "parquet", "*.parquet"))
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[filepath.Base(p)]
		if !ok {
			t.Errorf("%s: say whether the fast path takes it", p)
		}
		sameTranscripts(t, filepath.Base(p), b, w)
	}
}

type fastMsg struct {
	Content *string `parquet:"content,optional"`
	Role    string  `parquet:"role,dict"`
}

type fastRow struct {
	ID       string    `parquet:"id"`
	Prompt   *string   `parquet:"prompt,optional"`
	Chosen   []fastMsg `parquet:"chosen,list"`
	Rejected []fastMsg `parquet:"rejected,list"`
	Score    *float64  `parquet:"score_chosen,optional"`
	Meta     []fastKV  `parquet:"meta,list"`
	Tags     []string  `parquet:"tags,optional,list"`
}

type fastKV struct {
	Key   string `parquet:"key"`
	Value string `parquet:"value"`
}

// TestParquetFastOddRows checks the rows the fast path hands to the generic assembly (null
// content, unknown roles) and the ones it reads itself (invalid UTF-8, HF role spellings,
// empty lists, dictionary-encoded roles, values across many small pages), with generic
// columns beside them (meta and tags lists, empty, null or not).
func TestParquetFastOddRows(t *testing.T) {
	str := func(s string) *string { return &s }
	var rows []fastRow
	for i := 0; i < 3000; i++ {
		sc := float64(i)
		r := fastRow{ID: string(rune('a' + i%26)), Prompt: str(strings.Repeat("question ", 1+i%7)),
			Chosen:   []fastMsg{{Content: str(strings.Repeat("good ", 1+i%13)), Role: "assistant"}},
			Rejected: []fastMsg{{Content: str("bad"), Role: "assistant"}}, Score: &sc}
		switch i % 10 {
		case 1:
			r.Chosen[0].Content = str("bad \xff utf8")
		case 2:
			r.Rejected[0].Role = "robot"
		case 3:
			r.Rejected[0].Content = nil
		case 4:
			r.Chosen = []fastMsg{{Content: str("q"), Role: "Human"}, {Content: str("a"), Role: "gpt"}}
			r.Rejected = []fastMsg{{Content: str("q"), Role: "human"}, {Content: str("b"), Role: "assistant"}}
		case 5:
			r.Rejected = nil
		case 6:
			r.Prompt, r.Score = nil, nil
		case 7:
			r.Prompt = str("é\xc3") // a value that ends inside a rune
		case 8:
			r.Meta = []fastKV{{"source", "test"}, {"n", string(rune('0' + i%10))}}
			r.Tags = []string{"x", "y"}
		case 9:
			r.Tags = []string{}
		}
		rows = append(rows, r)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[fastRow](&buf, parquet.PageBufferSize(4096), parquet.Compression(&parquet.Zstd))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sameTranscripts(t, "odd.parquet", buf.Bytes(), true)
	out, _, fatal := transcript("odd.parquet", buf.Bytes(), false)
	if fatal {
		t.Fatalf("fatal error: %v", out[len(out)-1])
	}
	issues := 0
	for _, s := range out {
		if strings.HasPrefix(s, "issue: ") {
			issues++
		}
	}
	if issues < 300*3 { // rows 1, 2 and 3 of every ten at least, and the prompt cut inside a rune
		t.Errorf("%d issues in %d rows, want at least 900", issues, len(rows))
	}
}

// footer returns a Parquet file's footer (metadata, its length and the magic).
func footer(b []byte) string {
	if len(b) < 12 {
		return ""
	}
	n := int(uint32(b[len(b)-8]) | uint32(b[len(b)-7])<<8 | uint32(b[len(b)-6])<<16 | uint32(b[len(b)-5])<<24)
	if n < 0 || n > len(b)-12 {
		return ""
	}
	return string(b[len(b)-8-n:])
}

// FuzzParquetFast checks that the fast and generic paths agree on mutated files. The check
// runs where the footer is a fixture's own (a damaged footer makes parquet-go's row reader and
// its page reader interpret the metadata differently, with neither noticing: e.g. nulls from
// one where the other reads the page's values), where neither path reports a fatal error or an
// invalid row, and where each path gives the same transcript twice with no NUL character in it
// (a corrupted byte array page can make parquet-go hand out bytes past the page's values, from
// its pooled buffers or the page's zero padding, which differ between its two readers and from
// run to run). Elsewhere it checks that both paths end without a crash.
func FuzzParquetFast(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "parquet", "*.parquet"))
	footers := map[string]bool{}
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
			footers[footer(b)] = true
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 || string(b[:4]) != "PAR1" {
			return
		}
		if !footers[footer(b)] {
			transcript("f.parquet", b, false)
			transcript("f.parquet", b, true)
			return
		}
		var outs [4][]string
		for i := range outs {
			out, _, fatal := transcript("f.parquet", b, i%2 == 1)
			if fatal {
				return // a corrupted file: the paths may notice at different rows
			}
			for _, line := range out {
				if strings.HasPrefix(line, "issue: ") || strings.Contains(line, `\u0000`) {
					return // an invalid row, or bytes past a page's values (see above)
				}
			}
			outs[i] = out
		}
		if i, _, _ := firstDiff(outs[0], outs[2]); i >= 0 {
			return
		}
		if i, _, _ := firstDiff(outs[1], outs[3]); i >= 0 {
			return
		}
		if i, f, g := firstDiff(outs[0], outs[1]); i >= 0 {
			t.Fatalf("paths differ at line %d:\nfast:    %.500q\ngeneric: %.500q", i+1, f, g)
		}
	})
}

// benchParquetPath reads the 20,000 pairs of benchFile through a Reader on the fast or the
// generic path.
func benchParquetPath(b *testing.B, generic bool) {
	path, text := benchFile(b, 20000, ".parquet")
	b.SetBytes(text)
	b.ResetTimer()
	start := cpuTime()
	defer reportCPU(b, start, text)
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := f.Stat()
		src, err := openParquetAt("bench.parquet", f, st.Size())
		if err != nil {
			b.Fatal(err)
		}
		if generic {
			src.fast = nil
		} else if src.fast == nil {
			b.Fatal("no fast path")
		}
		r := &Reader{path: path, file: "bench.parquet", src: src}
		if err := r.detect(); err != nil {
			b.Fatal(err)
		}
		n := drainRecords(b, r)
		f.Close()
		if n != 20000 {
			b.Fatalf("%d records", n)
		}
	}
}

// BenchmarkReadParquetGeneric reads with the generic path (parquet-go rows, generic maps):
// the baseline for BenchmarkReadParquet, which takes the fast path.
func BenchmarkReadParquetGeneric(b *testing.B) { benchParquetPath(b, true) }

// BenchmarkReadParquetFast is BenchmarkReadParquet without Open's file handling.
func BenchmarkReadParquetFast(b *testing.B) { benchParquetPath(b, false) }

// BenchmarkParquetPages reads and decompresses every page of the same file and nothing else:
// the floor under any reader built on parquet-go's pages.
func BenchmarkParquetPages(b *testing.B) {
	path, text := benchFile(b, 20000, ".parquet")
	b.SetBytes(text)
	b.ResetTimer()
	start := cpuTime()
	defer reportCPU(b, start, text)
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, rg := range pf.RowGroups() {
			for _, cc := range rg.ColumnChunks() {
				pages := cc.Pages()
				for {
					pg, err := pages.ReadPage()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n += pg.NumValues()
					parquet.Release(pg)
				}
				pages.Close()
			}
		}
		f.Close()
		if n < 20000 {
			b.Fatalf("%d values", n)
		}
	}
}

type benchMsg struct {
	Role    string `parquet:"role"`
	Content string `parquet:"content"`
}

type benchRow struct {
	ID       string     `parquet:"id"`
	Prompt   []benchMsg `parquet:"prompt,list"`
	Chosen   []benchMsg `parquet:"chosen,list"`
	Rejected []benchMsg `parquet:"rejected,list"`
	SC       float64    `parquet:"score_chosen"`
	SR       float64    `parquet:"score_rejected"`
}

// BenchmarkReadParquetCodec reads the same pairs written with each codec and zstd level
// (parquet-go's writer, align's schema without meta): does the writer's choice matter?
func BenchmarkReadParquetCodec(b *testing.B) {
	src, text := benchFile(b, 20000, ".parquet")
	recs, err := ReadPairs(src, Options{})
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]benchRow, len(recs))
	conv := func(ms []Message) []benchMsg {
		out := make([]benchMsg, len(ms))
		for i, m := range ms {
			out[i] = benchMsg(m)
		}
		return out
	}
	for i, p := range recs {
		rows[i] = benchRow{ID: p.ID, Prompt: conv(p.Prompt), Chosen: conv(p.Chosen), Rejected: conv(p.Rejected), SC: *p.ScoreChosen, SR: *p.ScoreRejected}
	}
	for _, c := range []struct {
		name  string
		codec parquet.WriterOption
	}{
		{"zstd-fastest", parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest})},
		{"zstd-default", parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault})},
		{"zstd-better", parquet.Compression(&zstd.Codec{Level: zstd.SpeedBetterCompression})},
		{"zstd-best", parquet.Compression(&zstd.Codec{Level: zstd.SpeedBestCompression})},
		{"snappy", parquet.Compression(&parquet.Snappy)},
		{"none", parquet.Compression(&parquet.Uncompressed)},
	} {
		path := filepath.Join(b.TempDir(), c.name+".parquet")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		w := parquet.NewGenericWriter[benchRow](f, c.codec, parquet.PageBufferSize(1<<20))
		if _, err := w.Write(rows); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		st, _ := f.Stat()
		f.Close()
		b.Run(c.name, func(b *testing.B) {
			b.ReportMetric(float64(st.Size())/1e6, "file-MB")
			b.SetBytes(text)
			start := cpuTime()
			defer reportCPU(b, start, text)
			for i := 0; i < b.N; i++ {
				r, err := Open(path, Options{})
				if err != nil {
					b.Fatal(err)
				}
				n := drainRecords(b, r)
				if n != len(rows) {
					b.Fatalf("%d records", n)
				}
			}
		})
	}
}
