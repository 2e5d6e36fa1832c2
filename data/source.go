package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// rawRow is one row as the container gives it, before the layout maps it to a record: a JSON
// object, or a Parquet row assembled into the same generic values (string, float64, int64,
// bool, nil, map[string]any, and []any or *[]any for lists).
type rawRow struct {
	row, line int
	fields    map[string]any
	// issue is a problem found while decoding the row (a JSON syntax error, invalid UTF-8);
	// the row is invalid and fields may be nil.
	issue *Issue
	// str holds the row's value when it is a JSON string rather than an object (issue is then
	// set too: a string is no record, but it is a prompt to ReadPrompts).
	str   string
	isStr bool
}

// source yields raw rows. next returns io.EOF at the end, and a non-nil error for problems
// that end the read (a truncated gzip stream, a corrupted Parquet page).
type source interface {
	next() (rawRow, error)
	schema() []ColumnInfo
	numRows() int64 // -1 when unknown before reading
	close() error
}

// ColumnInfo describes one top-level column: its name and its type as the container states it
// (a Parquet schema) or as the first row shows it (JSON).
type ColumnInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// maxLineBytes bounds one JSONL line (a row over MaxRowBytes is reported anyway; this only
// keeps a pathological line from exhausting memory).
const maxLineBytes = 256 << 20

var gzipMagic = []byte{0x1f, 0x8b}

// openText opens a JSON or JSONL file, gzip-compressed or not, telling them apart by content:
// a first non-space byte '[' is a JSON array, '{' is JSONL.
func openText(path string, f io.Reader) (source, Format, error) {
	name := filepath.Base(path)
	br := bufio.NewReaderSize(f, 1<<20)
	var format Format
	var r io.Reader = br
	var gz *gzip.Reader
	if head, _ := br.Peek(2); bytes.Equal(head, gzipMagic) {
		var err error
		gz, err = gzip.NewReader(br)
		if err != nil {
			return nil, format, &Issue{File: name, Reason: "corrupt gzip header", Detail: err.Error()}
		}
		format.Gzip = true
		r = bufio.NewReaderSize(gz, 1<<20)
	}
	tr := r.(*bufio.Reader)
	for {
		b, err := tr.ReadByte()
		if err != nil {
			if err == io.EOF {
				return nil, format, &Issue{File: name, Reason: "empty file"}
			}
			return nil, format, textReadError(name, 0, err)
		}
		if b == ' ' || b == '\n' || b == '\r' || b == '\t' {
			continue
		}
		if b == 0xEF { // a UTF-8 byte order mark
			if bom, _ := tr.Peek(2); bytes.Equal(bom, []byte{0xBB, 0xBF}) {
				_, _ = tr.Discard(2)
				continue
			}
		}
		if err := tr.UnreadByte(); err != nil {
			return nil, format, err
		}
		switch b {
		case '[':
			format.Container = ContainerJSON
			return newJSONArraySource(name, tr, gz), format, nil
		case '{':
			format.Container = ContainerJSONL
			return &jsonlSource{file: name, r: tr, gz: gz}, format, nil
		}
		return nil, format, &Issue{File: name, Reason: "not JSON, JSONL or Parquet", Detail: fmt.Sprintf("the file starts with %q", string(b))}
	}
}

// textReadError turns a read error into an Issue; a gzip stream that ends early is the common case.
func textReadError(file string, afterRow int, err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Issue{File: file, Reason: "gzip stream ends early", Detail: fmt.Sprintf("after row %d (truncated file?)", afterRow)}
	case errors.Is(err, gzip.ErrChecksum):
		return &Issue{File: file, Reason: "gzip checksum mismatch", Detail: fmt.Sprintf("after row %d (corrupted file?)", afterRow)}
	case errors.Is(err, gzip.ErrHeader):
		return &Issue{File: file, Reason: "corrupt gzip stream", Detail: fmt.Sprintf("after row %d", afterRow)}
	}
	var ce interface{ Error() string }
	if errors.As(err, &ce) && strings.Contains(err.Error(), "flate") {
		return &Issue{File: file, Reason: "corrupt gzip stream", Detail: fmt.Sprintf("after row %d: %v", afterRow, err)}
	}
	return fmt.Errorf("data: %s: read: %w", file, err)
}

// jsonlSource reads one JSON object per line; blank lines are allowed.
type jsonlSource struct {
	file  string
	r     *bufio.Reader
	gz    *gzip.Reader
	line  int
	row   int
	first map[string]any
	buf   []byte
}

func (s *jsonlSource) readLine() ([]byte, bool, error) {
	s.buf = s.buf[:0]
	tooLong := false
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(s.buf)+len(chunk) <= maxLineBytes {
			s.buf = append(s.buf, chunk...)
		} else {
			tooLong = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && (len(s.buf) > 0 || tooLong) {
			return s.buf, tooLong, nil
		}
		return s.buf, tooLong, err
	}
}

func (s *jsonlSource) next() (rawRow, error) {
	for {
		line, tooLong, err := s.readLine()
		if err != nil {
			if err == io.EOF {
				return rawRow{}, io.EOF
			}
			return rawRow{}, textReadError(s.file, s.row, err)
		}
		s.line++
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 && !tooLong {
			continue
		}
		s.row++
		rr := rawRow{row: s.row, line: s.line}
		if tooLong {
			rr.issue = &Issue{File: s.file, Row: s.row, Line: s.line, Reason: "huge row", Detail: fmt.Sprintf("line longer than %d MiB", maxLineBytes>>20)}
			return rr, nil
		}
		rr.fields, rr.issue = decodeObject(trimmed, s.file, s.row, s.line)
		rr.str, rr.isStr = jsonString(trimmed, rr.issue)
		if s.first == nil && rr.fields != nil {
			s.first = rr.fields
		}
		return rr, nil
	}
}

func (s *jsonlSource) schema() []ColumnInfo { return jsonSchema(s.first) }
func (s *jsonlSource) numRows() int64       { return -1 }
func (s *jsonlSource) close() error {
	if s.gz != nil {
		return s.gz.Close()
	}
	return nil
}

// decodeObject decodes one JSON object, checking first that its text is valid UTF-8 (the
// decoder would silently replace bad bytes with U+FFFD).
func decodeObject(b []byte, file string, row, line int) (map[string]any, *Issue) {
	if !utf8.Valid(b) {
		is := &Issue{File: file, Row: row, Line: line, Reason: "invalid UTF-8"}
		var cols map[string]json.RawMessage
		if json.Unmarshal(b, &cols) == nil {
			keys := make([]string, 0, len(cols))
			for k := range cols {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if !utf8.Valid([]byte(k)) || !utf8.Valid(cols[k]) {
					is.Column = strings.ToValidUTF8(k, "\uFFFD")
					break
				}
			}
		}
		is.Detail = fmt.Sprintf("at byte %d", firstInvalidUTF8(b))
		return nil, is
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, &Issue{File: file, Row: row, Line: line, Reason: "JSON syntax error", Detail: fmt.Sprintf("%v (column %d)", se, se.Offset)}
		case errors.As(err, &te):
			return nil, &Issue{File: file, Row: row, Line: line, Reason: "row is not a JSON object", Detail: "got " + te.Value}
		}
		return nil, &Issue{File: file, Row: row, Line: line, Reason: "JSON syntax error", Detail: err.Error()}
	}
	if m == nil {
		return nil, &Issue{File: file, Row: row, Line: line, Reason: "row is not a JSON object", Detail: "got null"}
	}
	return m, nil
}

// jsonString decodes a row that decodeObject found to be a JSON string.
func jsonString(b []byte, is *Issue) (string, bool) {
	if is == nil || is.Reason != "row is not a JSON object" || is.Detail != "got string" {
		return "", false
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		return "", false
	}
	return s, true
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// jsonSchema describes a JSON object's top-level keys and the JSON type of their values.
func jsonSchema(m map[string]any) []ColumnInfo {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ColumnInfo, len(keys))
	for i, k := range keys {
		out[i] = ColumnInfo{Name: k, Type: jsonTypeName(m[k])}
	}
	return out
}

func jsonTypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, int64:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "object{" + strings.Join(keys, ",") + "}"
	case []any:
		if len(x) == 0 {
			return "array"
		}
		return "array<" + jsonTypeName(x[0]) + ">"
	case *[]any:
		return jsonTypeName(*x)
	}
	return fmt.Sprintf("%T", v)
}

// lineCounter wraps the reader under a json.Decoder and remembers where newlines fall, so that
// a decoder offset can be turned into a line number. Offsets are asked in increasing order,
// so it keeps only the newlines past the last offset asked.
type lineCounter struct {
	r        io.Reader
	read     int64   // bytes passed on
	newlines []int64 // offsets of newlines not yet counted
	base     int     // newlines before the last offset asked
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		c.newlines = append(c.newlines, c.read+int64(i+j))
		i += j + 1
	}
	c.read += int64(n)
	return n, err
}

// lineAt returns the 1-based line holding byte offset off.
func (c *lineCounter) lineAt(off int64) int {
	k := sort.Search(len(c.newlines), func(i int) bool { return c.newlines[i] >= off })
	c.base += k
	c.newlines = c.newlines[k:]
	return c.base + 1
}

// jsonArraySource streams the elements of one JSON array.
type jsonArraySource struct {
	file    string
	lc      *lineCounter
	dec     *json.Decoder
	gz      *gzip.Reader
	started bool
	done    bool
	row     int
	first   map[string]any
}

func newJSONArraySource(file string, r io.Reader, gz *gzip.Reader) *jsonArraySource {
	lc := &lineCounter{r: r}
	return &jsonArraySource{file: file, lc: lc, dec: json.NewDecoder(lc), gz: gz}
}

func (s *jsonArraySource) syntaxError(err error) error {
	var se *json.SyntaxError
	off := s.dec.InputOffset()
	if errors.As(err, &se) {
		off = se.Offset
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		if s.gz != nil {
			if _, gerr := s.gz.Read(make([]byte, 1)); gerr != nil && gerr != io.EOF {
				return textReadError(s.file, s.row, gerr)
			}
		}
		return &Issue{File: s.file, Row: s.row + 1, Line: s.lc.lineAt(off), Reason: "JSON syntax error", Detail: "the file ends inside the array (truncated file?)"}
	}
	var other interface{ Error() string } = err
	if !errors.As(err, &se) {
		var ie *Issue
		if errors.As(err, &ie) {
			return ie
		}
		if strings.Contains(err.Error(), "gzip") || strings.Contains(err.Error(), "flate") {
			return textReadError(s.file, s.row, err)
		}
	}
	return &Issue{File: s.file, Row: s.row + 1, Line: s.lc.lineAt(off), Reason: "JSON syntax error", Detail: other.Error()}
}

func (s *jsonArraySource) next() (rawRow, error) {
	if s.done {
		return rawRow{}, io.EOF
	}
	if !s.started {
		s.started = true
		if _, err := s.dec.Token(); err != nil {
			return rawRow{}, s.syntaxError(err)
		}
	}
	if !s.dec.More() {
		s.done = true
		if _, err := s.dec.Token(); err != nil {
			return rawRow{}, s.syntaxError(err)
		}
		return rawRow{}, io.EOF
	}
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		return rawRow{}, s.syntaxError(err)
	}
	s.row++
	end := s.dec.InputOffset()
	start := end - int64(len(raw))
	line := s.lc.lineAt(start)
	rr := rawRow{row: s.row, line: line}
	rr.fields, rr.issue = decodeObject(raw, s.file, s.row, line)
	rr.str, rr.isStr = jsonString(raw, rr.issue)
	if s.first == nil && rr.fields != nil {
		s.first = rr.fields
	}
	return rr, nil
}

func (s *jsonArraySource) schema() []ColumnInfo { return jsonSchema(s.first) }
func (s *jsonArraySource) numRows() int64       { return -1 }
func (s *jsonArraySource) close() error {
	if s.gz != nil {
		return s.gz.Close()
	}
	return nil
}
