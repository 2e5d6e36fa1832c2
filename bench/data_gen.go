//go:build ignore

// data_gen writes a synthetic preference JSONL file for the data benchmark
// (bench/data_convert.sh): N rows of {prompt, chosen, rejected, score_chosen, score_rejected},
// about 1,000 bytes of text per row, deterministic for a seed. It prints the text bytes
// (the sum of the three fields' lengths) on stderr.
//
//	go run bench/data_gen.go -rows 1000000 -out /tmp/align-bench/pref.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

var words = strings.Fields(`the a of and to in is you that it he was for on are as with his they at be this have from
or one had by word but not what all were we when your can said there use an each which she do how their if will up
other about out many then them these so some her would make like him into time has look two more write go see number
no way could people my than first water been call who oil its now find long down day did get come made may part
model answer question reason step because therefore result value function data train policy reward preference`)

func text(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

func main() {
	rows := flag.Int("rows", 1000000, "rows to write")
	out := flag.String("out", "/tmp/align-bench/pref.jsonl", "output JSONL")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	r := rand.New(rand.NewPCG(*seed, 0))
	total := 0
	for i := 0; i < *rows; i++ {
		row := map[string]any{
			"id":             fmt.Sprintf("r%07d", i),
			"prompt":         text(r, 150+r.IntN(100)),
			"chosen":         text(r, 300+r.IntN(200)),
			"rejected":       text(r, 300+r.IntN(200)),
			"score_chosen":   float64(5 + r.IntN(5)),
			"score_rejected": float64(r.IntN(5)),
		}
		total += len(row["prompt"].(string)) + len(row["chosen"].(string)) + len(row["rejected"].(string))
		if err := enc.Encode(row); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f.Close()
	fmt.Fprintf(os.Stderr, "rows %d text_bytes %d\n", *rows, total)
}
