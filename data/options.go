package data

import (
	"fmt"
	"sort"
	"strings"
)

// DefaultMaxRowBytes is the default limit on a row's text: 1 MiB.
const DefaultMaxRowBytes = 1 << 20

// Options control how Open reads a file. The zero value detects everything and stops at the
// first invalid row.
type Options struct {
	// Columns maps align's column names (prompt, chosen, rejected, score_chosen,
	// score_rejected, id, messages, completion, label, responses, completions, conversations,
	// instruction) to the file's own names, e.g. {"chosen": "good_response"}.
	Columns map[string]string
	// SkipInvalid skips invalid rows instead of failing; Reader.Report counts them and why.
	SkipInvalid bool
	// MaxRowBytes is the most text one row may hold (0 means DefaultMaxRowBytes; <0 no limit).
	MaxRowBytes int
	// NoRoleCheck turns off the check that roles alternate user/assistant.
	NoRoleCheck bool
}

// knownColumns are the names Options.Columns may map.
var knownColumns = []string{"prompt", "chosen", "rejected", "score_chosen", "score_rejected", "id",
	"messages", "completion", "label", "responses", "completions", "conversations", "instruction",
	"chosen_messages", "rejected_messages"}

// ParseColumnMap parses "name=source" pairs (the --map flag) into Options.Columns, rejecting
// names align does not know.
func ParseColumnMap(pairs []string, into map[string]string) error {
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return fmt.Errorf("data: column mapping %q: want name=source, e.g. chosen=good_response", p)
		}
		if !isKnownColumn(k) {
			known := append([]string(nil), knownColumns...)
			sort.Strings(known)
			return fmt.Errorf("data: column mapping %q: unknown name %q (known: %s)", p, k, strings.Join(known, ", "))
		}
		into[k] = v
	}
	return nil
}

func isKnownColumn(k string) bool {
	for _, c := range knownColumns {
		if c == k {
			return true
		}
	}
	return false
}

func (o Options) maxRowBytes() int {
	switch {
	case o.MaxRowBytes == 0:
		return DefaultMaxRowBytes
	case o.MaxRowBytes < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxRowBytes
}
