package data

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// RowGroupBytes is the text size at which the Parquet writer closes a row group: about 64 MiB,
// so that readers stream the file with bounded memory.
const RowGroupBytes = 64 << 20

// Writer writes records of one kind to a .parquet, .jsonl or .jsonl.gz file. It writes to a
// temporary file beside the target and renames it on Close, so that a failed conversion never
// leaves a half-written file under the target's name.
//
// Parquet follows the Hugging Face conventions (zstd, row groups of about RowGroupBytes):
//
//	pairwise: id string, prompt string (the last user turn, for display), chosen and rejected
//	          list<struct<content: string, role: string>> holding the whole conversation, prompt
//	          included (as HuggingFaceH4/ultrafeedback_binarized), score_chosen and
//	          score_rejected double (nullable), meta list<struct<key, value>>
//	ranked:   id, prompt list<struct<content, role>>, responses list<struct<messages
//	          list<struct<content, role>>, score double, model string>>, meta
//	unpaired: id, prompt list<struct<content, role>>, completion list<struct<content, role>>,
//	          label bool, meta
//
// JSONL writes one object per record, with the prompt and responses as message lists and the
// responses without the prompt (TRL's conversational format with an explicit prompt):
// {"id", "prompt": [...], "chosen": [...], "rejected": [...], "score_chosen", "score_rejected",
// "meta": {...}}; ranked {"id", "prompt", "responses": [{"messages", "score", "model"}]};
// unpaired {"id", "prompt", "completion", "label"}.
type Writer struct {
	path, tmp string
	kind      Kind
	f         *os.File
	bw        *bufio.Writer
	gz        *gzip.Writer
	enc       *json.Encoder
	pair      *parquet.GenericWriter[pqPair]
	ranked    *parquet.GenericWriter[pqRanked]
	unpaired  *parquet.GenericWriter[pqUnpaired]
	groupText int
	// groupLimit is the text size of a row group (RowGroupBytes; tests make it small).
	groupLimit int
	rows       int
	closed     bool
}

type pqMessage struct {
	Content string `parquet:"content"`
	Role    string `parquet:"role"`
}

type pqKV struct {
	Key   string `parquet:"key"`
	Value string `parquet:"value"`
}

type pqPair struct {
	ID            string      `parquet:"id"`
	Prompt        string      `parquet:"prompt"`
	Chosen        []pqMessage `parquet:"chosen,list"`
	Rejected      []pqMessage `parquet:"rejected,list"`
	ScoreChosen   *float64    `parquet:"score_chosen,optional"`
	ScoreRejected *float64    `parquet:"score_rejected,optional"`
	Meta          []pqKV      `parquet:"meta,list"`
}

type pqResponse struct {
	Messages []pqMessage `parquet:"messages,list"`
	Score    float64     `parquet:"score"`
	Model    string      `parquet:"model"`
}

type pqRanked struct {
	ID        string       `parquet:"id"`
	Prompt    []pqMessage  `parquet:"prompt,list"`
	Responses []pqResponse `parquet:"responses,list"`
	Meta      []pqKV       `parquet:"meta,list"`
}

type pqUnpaired struct {
	ID         string      `parquet:"id"`
	Prompt     []pqMessage `parquet:"prompt,list"`
	Completion []pqMessage `parquet:"completion,list"`
	Label      bool        `parquet:"label"`
	Meta       []pqKV      `parquet:"meta,list"`
}

// OutputContainer picks the container from a path's extension: .parquet, or .jsonl / .jsonl.gz
// (also .json.gz and .ndjson).
func OutputContainer(path string) (Container, bool, error) {
	p := strings.ToLower(path)
	gz := strings.HasSuffix(p, ".gz")
	p = strings.TrimSuffix(p, ".gz")
	switch {
	case strings.HasSuffix(p, ".parquet") && !gz:
		return ContainerParquet, false, nil
	case strings.HasSuffix(p, ".jsonl"), strings.HasSuffix(p, ".ndjson"), strings.HasSuffix(p, ".json") && gz:
		return ContainerJSONL, gz, nil
	}
	return "", false, fmt.Errorf("data: %s: cannot tell the output format; name it .parquet, .jsonl or .jsonl.gz", filepath.Base(path))
}

// Create opens a writer for records of the given kind; the format follows the extension.
func Create(path string, kind Kind) (*Writer, error) {
	c, gz, err := OutputContainer(path)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindPairwise, KindRanked, KindUnpaired:
	default:
		return nil, fmt.Errorf("data: create %s: unknown kind %q", path, kind)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("data: create %s: %w", path, err)
	}
	// CreateTemp makes the file private; the output is an ordinary data file.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("data: create %s: %w", path, err)
	}
	w := &Writer{path: path, tmp: f.Name(), kind: kind, f: f, bw: bufio.NewWriterSize(f, 1<<20), groupLimit: RowGroupBytes}
	if c == ContainerJSONL {
		var out io.Writer = w.bw
		if gz {
			w.gz = gzip.NewWriter(w.bw)
			out = w.gz
		}
		w.enc = json.NewEncoder(out)
		w.enc.SetEscapeHTML(false)
		return w, nil
	}
	opts := []parquet.WriterOption{parquet.Compression(&parquet.Zstd), parquet.PageBufferSize(1 << 20), parquet.CreatedBy("align", "", "")}
	switch kind {
	case KindPairwise:
		w.pair = parquet.NewGenericWriter[pqPair](w.bw, opts...)
	case KindRanked:
		w.ranked = parquet.NewGenericWriter[pqRanked](w.bw, opts...)
	case KindUnpaired:
		w.unpaired = parquet.NewGenericWriter[pqUnpaired](w.bw, opts...)
	}
	return w, nil
}

func toPQ(ms []Message) []pqMessage {
	out := make([]pqMessage, len(ms))
	for i, m := range ms {
		out[i] = pqMessage{Content: m.Content, Role: m.Role}
	}
	return out
}

func textSize(ms []Message) int {
	n := 0
	for _, m := range ms {
		n += len(m.Content)
	}
	return n
}

func metaKV(m map[string]string) []pqKV {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]pqKV, len(keys))
	for i, k := range keys {
		out[i] = pqKV{Key: k, Value: m[k]}
	}
	return out
}

func lastUser(ms []Message) string {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Role == "user" {
			return ms[i].Content
		}
	}
	return ""
}

// Write writes one record; its kind must be the writer's.
func (w *Writer) Write(rec Record) error {
	switch {
	case rec.Pair != nil:
		return w.WritePair(*rec.Pair)
	case rec.Ranked != nil:
		return w.WriteRanked(*rec.Ranked)
	case rec.Unpaired != nil:
		return w.WriteUnpaired(*rec.Unpaired)
	}
	return fmt.Errorf("data: write %s: empty record", filepath.Base(w.path))
}

func (w *Writer) wrongKind(k Kind) error {
	return fmt.Errorf("data: write %s: a %s record in a %s file", filepath.Base(w.path), k, w.kind)
}

func (w *Writer) wrap(err error) error {
	if err == nil {
		w.rows++
		return nil
	}
	return fmt.Errorf("data: write %s: %w", filepath.Base(w.path), err)
}

// rowGroupDone flushes a Parquet row group once it holds about RowGroupBytes of text.
func (w *Writer) rowGroupDone(n int, flush func() error) error {
	w.groupText += n
	if w.groupText < w.groupLimit {
		return nil
	}
	w.groupText = 0
	return flush()
}

// WritePair writes a pairwise record.
func (w *Writer) WritePair(p Pair) error {
	if w.kind != KindPairwise {
		return w.wrongKind(KindPairwise)
	}
	if w.enc != nil {
		return w.wrap(w.enc.Encode(jsonPair{ID: p.ID, Prompt: p.Prompt, Chosen: p.Chosen, Rejected: p.Rejected,
			ScoreChosen: p.ScoreChosen, ScoreRejected: p.ScoreRejected, Meta: p.Meta}))
	}
	row := pqPair{ID: p.ID, Prompt: lastUser(p.Prompt), ScoreChosen: p.ScoreChosen, ScoreRejected: p.ScoreRejected, Meta: metaKV(p.Meta)}
	row.Chosen = toPQ(append(append(make([]Message, 0, len(p.Prompt)+len(p.Chosen)), p.Prompt...), p.Chosen...))
	row.Rejected = toPQ(append(append(make([]Message, 0, len(p.Prompt)+len(p.Rejected)), p.Prompt...), p.Rejected...))
	if _, err := w.pair.Write([]pqPair{row}); err != nil {
		return w.wrap(err)
	}
	return w.wrap(w.rowGroupDone(2*textSize(p.Prompt)+textSize(p.Chosen)+textSize(p.Rejected), w.pair.Flush))
}

// WriteRanked writes a ranked record.
func (w *Writer) WriteRanked(r Ranked) error {
	if w.kind != KindRanked {
		return w.wrongKind(KindRanked)
	}
	if w.enc != nil {
		jr := jsonRanked{ID: r.ID, Prompt: r.Prompt, Meta: r.Meta}
		for _, x := range r.Responses {
			jr.Responses = append(jr.Responses, jsonResponse{Messages: x.Messages, Score: x.Score, Model: x.Model})
		}
		return w.wrap(w.enc.Encode(jr))
	}
	row := pqRanked{ID: r.ID, Prompt: toPQ(r.Prompt), Meta: metaKV(r.Meta)}
	n := textSize(r.Prompt)
	for _, x := range r.Responses {
		row.Responses = append(row.Responses, pqResponse{Messages: toPQ(x.Messages), Score: x.Score, Model: x.Model})
		n += textSize(x.Messages)
	}
	if _, err := w.ranked.Write([]pqRanked{row}); err != nil {
		return w.wrap(err)
	}
	return w.wrap(w.rowGroupDone(n, w.ranked.Flush))
}

// WriteUnpaired writes an unpaired record.
func (w *Writer) WriteUnpaired(u Unpaired) error {
	if w.kind != KindUnpaired {
		return w.wrongKind(KindUnpaired)
	}
	if w.enc != nil {
		return w.wrap(w.enc.Encode(jsonUnpaired{ID: u.ID, Prompt: u.Prompt, Completion: u.Completion, Label: u.Label, Meta: u.Meta}))
	}
	row := pqUnpaired{ID: u.ID, Prompt: toPQ(u.Prompt), Completion: toPQ(u.Completion), Label: u.Label, Meta: metaKV(u.Meta)}
	if _, err := w.unpaired.Write([]pqUnpaired{row}); err != nil {
		return w.wrap(err)
	}
	return w.wrap(w.rowGroupDone(textSize(u.Prompt)+textSize(u.Completion), w.unpaired.Flush))
}

// Rows returns the number of records written.
func (w *Writer) Rows() int { return w.rows }

// Close finishes the file and moves it to its name. On error the partial file is removed.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.finish()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp, w.path)
	}
	if err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("data: write %s: %w", filepath.Base(w.path), err)
	}
	return nil
}

// Abort discards the partial output.
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.f.Close()
	os.Remove(w.tmp)
}

func (w *Writer) finish() error {
	var err error
	switch {
	case w.pair != nil:
		err = w.pair.Close()
	case w.ranked != nil:
		err = w.ranked.Close()
	case w.unpaired != nil:
		err = w.unpaired.Close()
	case w.gz != nil:
		err = w.gz.Close()
	}
	if err != nil {
		return err
	}
	return w.bw.Flush()
}

type jsonPair struct {
	ID            string            `json:"id,omitempty"`
	Prompt        []Message         `json:"prompt"`
	Chosen        []Message         `json:"chosen"`
	Rejected      []Message         `json:"rejected"`
	ScoreChosen   *float64          `json:"score_chosen,omitempty"`
	ScoreRejected *float64          `json:"score_rejected,omitempty"`
	Meta          map[string]string `json:"meta,omitempty"`
}

type jsonResponse struct {
	Messages []Message `json:"messages"`
	Score    float64   `json:"score"`
	Model    string    `json:"model,omitempty"`
}

type jsonRanked struct {
	ID        string            `json:"id,omitempty"`
	Prompt    []Message         `json:"prompt"`
	Responses []jsonResponse    `json:"responses"`
	Meta      map[string]string `json:"meta,omitempty"`
}

type jsonUnpaired struct {
	ID         string            `json:"id,omitempty"`
	Prompt     []Message         `json:"prompt"`
	Completion []Message         `json:"completion"`
	Label      bool              `json:"label"`
	Meta       map[string]string `json:"meta,omitempty"`
}
