package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// AppendLog is a resumable, crash-safe, append-only JSON Lines file: the results files of
// SampleJob and JudgeJob, curation's work logs and eval's judgment and safety caches.
//
// Each Append marshals one value, writes it with its newline in a single write(2) on an
// O_APPEND descriptor and fsyncs before it returns, so a crash or Ctrl-C loses nothing that
// Append returned for, and concurrent Appends never interleave within a line. A crash during
// a write can leave only the last line torn; OpenAppendLog cuts it off (see ScanJSONL for what
// counts as torn). Invalid JSON before the last line is corruption, not a crash, and is an
// error: guessing would lose or duplicate results.
type AppendLog struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// OpenAppendLog calls each, in order, for every complete line already in path (see ScanJSONL),
// cuts a torn last line off the file, and opens it for appending. A missing file is created,
// with its folder. It returns how many torn bytes were cut.
func OpenAppendLog(path string, each func(line []byte) error) (*AppendLog, int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, 0, fmt.Errorf("runtime: %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("runtime: open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("runtime: %s: %w", path, err)
	}
	torn, err := ScanJSONL(io.LimitReader(f, st.Size()), path, each)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if torn > 0 {
		if err := f.Truncate(st.Size() - torn); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("runtime: %s: drop torn last line: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("runtime: %s: %w", path, err)
		}
	}
	return &AppendLog{f: f, path: path}, torn, nil
}

// ScanAppendLog reads an AppendLog's file without opening it for writing: it calls each for
// the lines that OpenAppendLog would keep and returns how many torn bytes follow them. A
// missing file holds no lines.
func ScanAppendLog(path string, each func(line []byte) error) (torn int64, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("runtime: open %s: %w", path, err)
	}
	defer f.Close()
	return ScanJSONL(f, path, each)
}

// ScanJSONL calls each, in order, with every complete line of r, trimmed of white space; blank
// lines are skipped, and each may keep the slice. The last line is torn when it has no newline
// (even when it parses: its write did not finish) or when it is not valid JSON; it is left out
// and its length returned. Invalid JSON on an earlier line is an error naming the line, and so
// is an error from each. name is the file's name in errors.
func ScanJSONL(r io.Reader, name string, each func(line []byte) error) (torn int64, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, rerr := br.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return 0, fmt.Errorf("runtime: read %s: %w", name, rerr)
		}
		if rerr == io.EOF {
			return int64(len(line)), nil // empty at a clean end; otherwise the write was cut short
		}
		body := bytes.TrimSpace(line)
		if len(body) == 0 {
			continue
		}
		if !json.Valid(body) {
			_, perr := br.Peek(1)
			if perr == io.EOF {
				return int64(len(line)), nil // torn last line that happened to end in '\n'
			}
			if perr != nil {
				return 0, fmt.Errorf("runtime: read %s: %w", name, perr)
			}
			return 0, fmt.Errorf("runtime: %s line %d: invalid JSON before the last line (corruption, not a torn write); fix or move the file", name, lineNo)
		}
		if err := each(body); err != nil {
			return 0, fmt.Errorf("runtime: %s line %d: %w", name, lineNo, err)
		}
	}
}

// Append writes v as one JSON line and fsyncs it. It is safe for concurrent use.
func (l *AppendLog) Append(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("runtime: %s: encode: %w", l.path, err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("runtime: write %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("runtime: sync %s: %w", l.path, err)
	}
	return nil
}

// Close closes the file.
func (l *AppendLog) Close() error { return l.f.Close() }
