package curate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/runtime"
)

// RankedRow is one prompt of the ranked output. Its columns extend the data package's ranked
// layout (id, prompt, responses [{messages, score, model}]) with what reproduces and audits
// each response, so `align data pairs` and the data readers read it as ranked data.
type RankedRow struct {
	ID     string         `parquet:"id" json:"id"`
	Prompt []data.Message `parquet:"prompt,list" json:"prompt"`
	// Responses holds the scored responses, best first: judged ones with a valid verdict and
	// the automatic negatives.
	Responses []RankedResponse `parquet:"responses,list" json:"responses"`
	// Filtered holds the responses that got no score: dropped by a filter, or whose judge
	// answer never parsed (reason "judge_invalid").
	Filtered []FilteredResponse `parquet:"filtered,list" json:"filtered"`
	Rubric   string             `parquet:"rubric" json:"rubric"`
	Judge    string             `parquet:"judge" json:"judge"`
}

// RankedResponse is one scored response.
type RankedResponse struct {
	Messages []data.Message `parquet:"messages,list" json:"messages"`
	Score    float64        `parquet:"score" json:"score"`
	Model    string         `parquet:"model" json:"model"`
	Seed     int64          `parquet:"seed" json:"seed"`
	Sample   int32          `parquet:"sample" json:"sample"`
	// JudgeRaw is the judge's raw answer(s); pairwise games are prefixed "[vs model/sample]".
	JudgeRaw     string `parquet:"judge_raw" json:"judge_raw"`
	AutoNegative bool   `parquet:"auto_negative" json:"auto_negative"`
	Student      bool   `parquet:"student" json:"student"`
	DoneReason   string `parquet:"done_reason" json:"done_reason"`
}

// Text is the response's text.
func (r RankedResponse) Text() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[len(r.Messages)-1].Content
}

// FilteredResponse is a response without a score, and why.
type FilteredResponse struct {
	Messages   []data.Message `parquet:"messages,list" json:"messages"`
	Model      string         `parquet:"model" json:"model"`
	Seed       int64          `parquet:"seed" json:"seed"`
	Sample     int32          `parquet:"sample" json:"sample"`
	Reason     string         `parquet:"reason" json:"reason"`
	DoneReason string         `parquet:"done_reason" json:"done_reason"`
	JudgeRaw   string         `parquet:"judge_raw" json:"judge_raw"`
}

// Assistant is a one-turn assistant message.
func Assistant(text string) []data.Message {
	return []data.Message{{Role: "assistant", Content: text}}
}

// WriteRanked writes the rows to path (.parquet, or .jsonl one object per row) through a
// temporary file renamed into place, so a kill never leaves a half-written output.
func WriteRanked(path string, rows []RankedRow) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("curate: write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("curate: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	switch {
	case strings.HasSuffix(strings.ToLower(path), ".parquet"):
		err = parquet.Write(bw, rows, parquet.Compression(&parquet.Zstd))
	case strings.HasSuffix(strings.ToLower(path), ".jsonl"):
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		for _, r := range rows {
			if err = enc.Encode(r); err != nil {
				break
			}
		}
	default:
		err = fmt.Errorf("name it .parquet or .jsonl")
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("curate: write %s: %w", path, err)
	}
	return nil
}

// ReadRanked reads a file written by WriteRanked.
func ReadRanked(path string) ([]RankedRow, error) {
	if strings.HasSuffix(strings.ToLower(path), ".parquet") {
		rows, err := parquet.ReadFile[RankedRow](path)
		if err != nil {
			return nil, fmt.Errorf("curate: read %s: %w", path, err)
		}
		return rows, nil
	}
	var rows []RankedRow
	_, err := runtime.ScanAppendLog(path, func(line []byte) error {
		var r RankedRow
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		rows = append(rows, r)
		return nil
	})
	return rows, err
}

// WritePairs writes pairs through the data package's writer (.parquet in the Hugging Face
// conventions, or .jsonl).
func WritePairs(path string, pairs []data.Pair) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("curate: write %s: %w", path, err)
	}
	w, err := data.Create(path, data.KindPairwise)
	if err != nil {
		return fmt.Errorf("curate: %w", err)
	}
	for _, p := range pairs {
		if err := w.WritePair(p); err != nil {
			w.Abort()
			return fmt.Errorf("curate: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("curate: %w", err)
	}
	return nil
}
