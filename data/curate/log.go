package curate

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

// appendLog is an append-only JSONL file: each line goes out in one write(2) on an O_APPEND
// descriptor and is fsynced before Append returns, so a kill loses nothing Append returned for.
// A torn last line (a kill during the write) is cut off when the file is opened again.
type appendLog struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// openLog calls each for every complete line of path, cuts a torn last line, and opens the file
// for appending (creating it and its folder). It returns the number of torn bytes cut.
func openLog(path string, each func(line []byte) error) (*appendLog, int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, 0, fmt.Errorf("curate: %w", err)
	}
	good, size, err := scanLog(path, each)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("curate: %w", err)
	}
	if good < size {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("curate: %s: cut torn last line: %w", path, err)
		}
	}
	return &appendLog{f: f, path: path}, size - good, nil
}

// scanLog reads the complete lines of path. A last line without its newline, or with invalid
// JSON, is torn and left out; invalid JSON earlier is corruption and an error.
func scanLog(path string, each func(line []byte) error) (good, size int64, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("curate: %w", err)
	}
	size = int64(len(b))
	r := bufio.NewReader(bytes.NewReader(b))
	line := 0
	for {
		s, err := r.ReadBytes('\n')
		if err == io.EOF {
			// s (possibly empty) has no newline: torn.
			return good, size, nil
		}
		line++
		t := bytes.TrimSpace(s)
		if len(t) > 0 {
			if !json.Valid(t) {
				if good+int64(len(s)) == size {
					return good, size, nil // torn last line that happens to end in a newline
				}
				return 0, 0, fmt.Errorf("curate: %s line %d: invalid JSON before the end of the file", path, line)
			}
			if err := each(t); err != nil {
				return 0, 0, fmt.Errorf("curate: %s line %d: %w", path, line, err)
			}
		}
		good += int64(len(s))
	}
}

// Append writes v as one line.
func (l *appendLog) Append(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("curate: %s: %w", l.path, err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("curate: %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("curate: %s: %w", l.path, err)
	}
	return nil
}

func (l *appendLog) Close() error { return l.f.Close() }
