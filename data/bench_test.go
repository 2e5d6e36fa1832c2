package data

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// cpuTime is the process's user+system CPU time: on a shared machine it, not the wall clock,
// says what one core does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds MB/cpu-s of text to a benchmark's output.
func reportCPU(b *testing.B, start time.Duration, text int64) {
	cpu := (cpuTime() - start).Seconds()
	if cpu > 0 {
		b.ReportMetric(float64(text)*float64(b.N)/cpu/1e6, "MB/cpu-s")
	}
}

// benchFile writes n synthetic pairs (about 1,000 bytes of text each) as Parquet or JSONL and
// returns the path and the text bytes.
func benchFile(b *testing.B, n int, ext string) (string, int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench"+ext)
	w, err := Create(path, KindPairwise)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the a of and to in is you that it model answer question reason step data train policy reward")
	text := func(k int) string {
		var s strings.Builder
		for s.Len() < k {
			s.WriteString(words[r.IntN(len(words))])
			s.WriteByte(' ')
		}
		return s.String()
	}
	var total int64
	for i := 0; i < n; i++ {
		sc, sr := 7.0, 2.0
		p := Pair{ID: fmt.Sprint(i), Prompt: []Message{{"user", text(200)}}, Chosen: []Message{{"assistant", text(400)}},
			Rejected: []Message{{"assistant", text(400)}}, ScoreChosen: &sc, ScoreRejected: &sr}
		total += int64(textSize(p.Prompt) + textSize(p.Chosen) + textSize(p.Rejected))
		if err := w.WritePair(p); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path, total
}

func benchRead(b *testing.B, ext string) {
	path, text := benchFile(b, 20000, ext)
	b.SetBytes(text)
	b.ResetTimer()
	start := cpuTime()
	defer reportCPU(b, start, text)
	for i := 0; i < b.N; i++ {
		r, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := drainRecords(b, r)
		if n != 20000 {
			b.Fatalf("%d records", n)
		}
	}
}

// BenchmarkReadParquet reads 20,000 pairs (about 20 MB of text) from align's Parquet; MB/s is
// text.
func BenchmarkReadParquet(b *testing.B) { benchRead(b, ".parquet") }

// BenchmarkReadJSONL reads the same pairs from JSONL.
func BenchmarkReadJSONL(b *testing.B) { benchRead(b, ".jsonl") }

// BenchmarkParquetGoRows reads the same Parquet file's rows with parquet-go alone (pages,
// zstd, levels; no assembly, mapping or validation): the ceiling for BenchmarkReadParquet.
func BenchmarkParquetGoRows(b *testing.B) {
	path, text := benchFile(b, 20000, ".parquet")
	b.SetBytes(text)
	b.ResetTimer()
	start := cpuTime()
	defer reportCPU(b, start, text)
	buf := make([]parquet.Row, 64)
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
		n := 0
		for _, rg := range pf.RowGroups() {
			rows := rg.Rows()
			for {
				k, err := rows.ReadRows(buf)
				n += k
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			rows.Close()
		}
		f.Close()
		if n != 20000 {
			b.Fatalf("%d rows", n)
		}
	}
}

// drainRecords reads r to the end, failing the benchmark on any error, closes it, and returns
// how many records it gave.
func drainRecords(b *testing.B, r *Reader) int {
	b.Helper()
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	r.Close()
	return n
}
