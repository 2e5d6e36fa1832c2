package train

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
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

// readRecords reads a JSONL/JSON file of pairs ({prompt, chosen, rejected}), ranked lists
// ({prompt, responses: [{content|text, score}]}) or prompts ({prompt}). Each field may be a
// string or a list of {role, content} messages. columns renames fields (align name → file name).
// format "auto" decides from the first record's fields.
func readRecords(src []byte, name, format string, columns map[string]string) (*Records, error) {
	sum := sha256.Sum256(src)
	rec := &Records{Hash: hex.EncodeToString(sum[:])}
	col := func(k string) string {
		if c, ok := columns[k]; ok {
			return c
		}
		return k
	}
	var rows []map[string]json.RawMessage
	trimmed := bytes.TrimSpace(src)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &rows); err != nil {
			return nil, fmt.Errorf("train: dataset %s: %w", name, err)
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(src))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		line := 0
		for sc.Scan() {
			line++
			t := bytes.TrimSpace(sc.Bytes())
			if len(t) == 0 {
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(t, &m); err != nil {
				return nil, fmt.Errorf("train: dataset %s line %d: %w", name, line, err)
			}
			rows = append(rows, m)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("train: dataset %s: %w", name, err)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("train: dataset %s: no records", name)
	}
	kind := format
	if kind == "" || kind == "auto" {
		f := rows[0]
		switch {
		case f[col("chosen")] != nil && f[col("rejected")] != nil:
			kind = "pairs"
		case f[col("responses")] != nil:
			kind = "ranked"
		case f[col("prompt")] != nil:
			kind = "prompts"
		default:
			keys := make([]string, 0, len(f))
			for k := range f {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, fmt.Errorf("train: dataset %s: cannot tell the layout from fields %v (want prompt/chosen/rejected, prompt/responses or prompt; map columns with dataset.columns)", name, keys)
		}
	}
	rec.Kind = kind
	for i, r := range rows {
		where := fmt.Sprintf("train: dataset %s record %d", name, i+1)
		prompt, err := messages(r[col("prompt")], "user")
		if err != nil || len(prompt) == 0 {
			return nil, fmt.Errorf("%s: field %q: missing or not text/messages", where, col("prompt"))
		}
		id := fmt.Sprintf("row %d", i+1)
		switch kind {
		case "pairs":
			c, err1 := messages(r[col("chosen")], "assistant")
			j, err2 := messages(r[col("rejected")], "assistant")
			if err1 != nil || err2 != nil || len(c) == 0 || len(j) == 0 {
				if r[col("responses")] != nil {
					return nil, fmt.Errorf("%s: this is ranked data (responses with scores); set dataset.format: ranked or use an objective that takes ranked lists", where)
				}
				if r[col("chosen")] == nil && r[col("rejected")] == nil {
					return nil, fmt.Errorf("%s: no %q/%q responses (a prompts file?); offline objectives train on preference pairs, online recipes sample them from prompts (online.iterations)", where, col("chosen"), col("rejected"))
				}
				return nil, fmt.Errorf("%s: want %q and %q responses", where, col("chosen"), col("rejected"))
			}
			rec.Pairs = append(rec.Pairs, data.Pair{ID: id, Prompt: prompt, Chosen: c, Rejected: j})
		case "ranked":
			var rs []map[string]json.RawMessage
			if err := json.Unmarshal(r[col("responses")], &rs); err != nil || len(rs) == 0 {
				if r[col("chosen")] != nil {
					return nil, fmt.Errorf("%s: this objective needs ranked data (a prompt with scored responses), but the dataset holds pairs (chosen/rejected)", where)
				}
				return nil, fmt.Errorf("%s: field %q: want a list of {content, score}", where, col("responses"))
			}
			rk := data.Ranked{ID: id, Prompt: prompt}
			for _, x := range rs {
				raw := x["content"]
				if raw == nil {
					raw = x["text"]
				}
				m, err := messages(raw, "assistant")
				var score float64
				if err == nil {
					err = json.Unmarshal(x["score"], &score)
				}
				if err != nil {
					return nil, fmt.Errorf("%s: response: want {content, score}", where)
				}
				rk.Responses = append(rk.Responses, data.Response{Messages: m, Score: score})
			}
			rec.Ranked = append(rec.Ranked, rk)
		case "prompts":
			rec.Prompts = append(rec.Prompts, prompt)
			var teacher string
			for _, k := range []string{col("reference"), "reference", "output"} {
				if ms, err := messages(r[k], "assistant"); err == nil {
					teacher = teacherText(ms)
					break
				}
			}
			rec.Teachers = append(rec.Teachers, teacher)
		default:
			return nil, fmt.Errorf("train: dataset %s: unknown format %q", name, kind)
		}
	}
	return rec, nil
}

// messages reads a string (one message of the given role) or a list of {role, content}.
func messages(raw json.RawMessage, role string) ([]data.Message, error) {
	if raw == nil {
		return nil, fmt.Errorf("missing")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []data.Message{{Role: role, Content: s}}, nil
	}
	var ms []data.Message
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, err
	}
	return ms, nil
}

// readDatasetFile reads a dataset path, resolving asset: names.
func readDatasetFile(path string) ([]byte, error) {
	if name, ok := strings.CutPrefix(path, "asset:"); ok {
		return assetBytes(name)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: dataset: %w", err)
	}
	return b, nil
}

// readDataFile reads a dataset from disk through the data package (JSONL, JSON, Parquet, the
// common layouts), as pairs, ranked lists or prompts.
func readDataFile(path, format string, columns map[string]string, skipInvalid bool) (*Records, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: dataset: %w", err)
	}
	sum := sha256.Sum256(b)
	rec := &Records{Hash: hex.EncodeToString(sum[:])}
	opt := data.Options{Columns: columns, SkipInvalid: skipInvalid}
	kind := format
	if kind == "" || kind == "auto" {
		r, err := data.Open(path, opt)
		if err != nil {
			// Not a preference layout: try prompts.
			kind = "prompts"
		} else {
			switch r.Kind() {
			case data.KindPairwise:
				kind = "pairs"
			case data.KindRanked:
				kind = "ranked"
			default:
				r.Close()
				return nil, fmt.Errorf("train: dataset %s holds %s records; training takes pairs, ranked lists or prompts", path, r.Kind())
			}
			r.Close()
		}
	}
	rec.Kind = kind
	switch kind {
	case "pairs":
		rec.Pairs, err = data.ReadPairs(path, opt)
	case "ranked":
		rec.Ranked, err = data.ReadRanked(path, opt)
	case "prompts":
		var ps []data.Prompt
		ps, err = data.ReadPrompts(path)
		for _, p := range ps {
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
		return nil, fmt.Errorf("train: dataset %s: no records", path)
	}
	return rec, nil
}
