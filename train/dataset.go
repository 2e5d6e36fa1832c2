package train

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/alignkit/align/data"
)

// Records is a dataset as the loop needs it: pairs, ranked lists or bare prompts, plus the
// SHA-256 of the file's bytes (part of the reference-cache key).
type Records struct {
	Kind    string // pairs, ranked or prompts
	Pairs   []data.Pair
	Ranked  []data.Ranked
	Prompts [][]data.Message
	// Teachers holds, parallel to Prompts, each prompt's reference response ("" = none): a
	// prompts file's reference column (dataset.columns.reference; else "reference" or "output"),
	// or a pairs file's chosen response. DNO judges it as the gold/teacher candidate.
	Teachers []string
	Hash     string
}

// teacherText is a reference response's text: its messages' contents, joined.
func teacherText(ms []data.Message) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Content)
	}
	return b.String()
}

// readDataFile reads a dataset from disk through the data package (JSONL, JSON, Parquet, the
// common layouts), as pairs, ranked lists or prompts; name is the recipe's dataset.path, for
// messages. format "auto" (or "") takes the file's own kind: pairs, ranked, else prompts. A
// file of another kind than format asks for gets an error that says what it holds.
func readDataFile(path, name, format string, columns map[string]string, skipInvalid bool) (*Records, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: dataset: %w", err)
	}
	sum := sha256.Sum256(b)
	rec := &Records{Hash: hex.EncodeToString(sum[:])}
	opt := data.Options{Columns: columns, SkipInvalid: skipInvalid}
	held := "prompts" // what the file holds: pairs, ranked, prompts (no preference layout)
	var openErr error
	if r, err := data.Open(path, opt); err != nil {
		openErr = err
	} else {
		switch r.Kind() {
		case data.KindPairwise:
			held = "pairs"
		case data.KindRanked:
			held = "ranked"
		default:
			r.Close()
			return nil, fmt.Errorf("train: dataset %s holds %s records; training takes pairs, ranked lists or prompts", name, r.Kind())
		}
		r.Close()
	}
	kind := format
	if kind == "" || kind == "auto" {
		kind = held
	}
	switch {
	case kind == "pairs" && held == "ranked":
		return nil, fmt.Errorf("train: dataset %s: this is ranked data (responses with scores); set dataset.format: ranked or use an objective that takes ranked lists", name)
	case kind == "ranked" && held == "pairs":
		return nil, fmt.Errorf("train: dataset %s: this objective needs ranked data (a prompt with scored responses), but the dataset holds pairs (chosen/rejected)", name)
	case kind != "prompts" && held == "prompts":
		if _, err := data.ReadPromptFile(path, opt); err == nil {
			return nil, fmt.Errorf("train: dataset %s: no %q/%q responses (a prompts file?); offline objectives train on preference pairs, online recipes sample them from prompts (online.iterations)", name, colName(columns, "chosen"), colName(columns, "rejected"))
		}
		return nil, fmt.Errorf("train: dataset: %w", openErr)
	}
	rec.Kind = kind
	switch kind {
	case "pairs":
		rec.Pairs, err = data.ReadPairs(path, opt)
	case "ranked":
		rec.Ranked, err = data.ReadRanked(path, opt)
	case "prompts":
		var pf data.PromptFile
		pf, err = data.ReadPromptFile(path, opt)
		for _, p := range pf.Prompts {
			rec.Prompts = append(rec.Prompts, p.Messages)
			teacher := p.Output
			for _, k := range []string{columns["reference"], "reference"} {
				if v := p.Meta[k]; k != "" && v != "" {
					teacher = v
					break
				}
			}
			rec.Teachers = append(rec.Teachers, teacher)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("train: dataset: %w", err)
	}
	if len(rec.Pairs)+len(rec.Ranked)+len(rec.Prompts) == 0 {
		return nil, fmt.Errorf("train: dataset %s: no records", name)
	}
	return rec, nil
}

// colName is the file's name of an align column under dataset.columns.
func colName(columns map[string]string, k string) string {
	if c, ok := columns[k]; ok {
		return c
	}
	return k
}
