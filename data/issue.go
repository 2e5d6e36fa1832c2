package data

import (
	"fmt"
	"sort"
	"strings"
)

// Issue is one problem found in a dataset, located by file, row (1-based record number), line
// (for text formats, when known) and column. Its Error method reads like
// `data: hh.parquet row 1041 column "chosen": empty response`.
type Issue struct {
	File   string `json:"file"`
	Row    int    `json:"row,omitempty"`    // 1-based; 0 when the problem is the whole file
	Line   int    `json:"line,omitempty"`   // 1-based line in a text file; 0 when unknown
	Column string `json:"column,omitempty"` // "" when the problem is the whole row
	// Reason is a short fixed phrase that groups issues ("empty response", "invalid UTF-8").
	Reason string `json:"reason"`
	// Detail adds what varies (the offending value's type, a byte offset).
	Detail string `json:"detail,omitempty"`
	fatal  bool   // the problem ends the read
}

func (e *Issue) Error() string {
	var b strings.Builder
	b.WriteString("data: ")
	b.WriteString(e.File)
	if e.Row > 0 {
		fmt.Fprintf(&b, " row %d", e.Row)
	}
	if e.Line > 0 && e.Line != e.Row {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, " column %q", e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// maxKeptIssues bounds the issues a Report keeps in full; the counts stay exact.
const maxKeptIssues = 1000

// Report counts what a read saw: rows read, rows skipped and why, and warnings (problems that
// do not invalidate a row).
type Report struct {
	Rows    int            `json:"rows"`    // rows seen in the file
	Valid   int            `json:"valid"`   // rows returned as records
	Skipped int            `json:"skipped"` // invalid rows (skipped with SkipInvalid, or counted by Validate)
	Reasons map[string]int `json:"reasons,omitempty"`
	Issues  []Issue        `json:"issues,omitempty"` // the first 1000 problems in full
	// Fatal is the problem that ended the read early (a truncated file), if any; it is also
	// the last of Issues.
	Fatal *Issue `json:"fatal,omitempty"`
}

// OK reports whether the read found no problem at all.
func (r Report) OK() bool { return r.Skipped == 0 && r.Fatal == nil }

func (r *Report) add(is Issue) {
	r.Skipped++
	if r.Reasons == nil {
		r.Reasons = map[string]int{}
	}
	r.Reasons[is.Reason]++
	if len(r.Issues) < maxKeptIssues {
		r.Issues = append(r.Issues, is)
	}
}

// Summary is one line: "skipped 5 of 2312 rows: 5 no shared prompt prefix".
func (r Report) Summary() string {
	if r.Skipped == 0 && r.Fatal == nil {
		return fmt.Sprintf("%d rows, none invalid", r.Rows)
	}
	reasons := make([]string, 0, len(r.Reasons))
	for k := range r.Reasons {
		reasons = append(reasons, k)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if r.Reasons[reasons[i]] != r.Reasons[reasons[j]] {
			return r.Reasons[reasons[i]] > r.Reasons[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	parts := make([]string, len(reasons))
	for i, k := range reasons {
		parts[i] = fmt.Sprintf("%d %s", r.Reasons[k], k)
	}
	s := fmt.Sprintf("%d of %d rows invalid: %s", r.Skipped, r.Rows, strings.Join(parts, ", "))
	if r.Fatal != nil {
		s += "; the read stopped early: " + r.Fatal.Error()
	}
	return s
}
