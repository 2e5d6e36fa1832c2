package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// jsonlFile appends JSON lines to a results file. Each line is written with one write(2) on an
// O_APPEND descriptor and fsynced before the call returns, so a crash or Ctrl-C loses nothing
// that Append returned for. A line torn by a crash (no trailing newline, or invalid JSON at the
// very end) is cut off when the file is opened again.
type jsonlFile struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// openJSONL reads path's complete lines into each (in order), drops a torn last line, and
// opens the file for appending. A missing file is created (with its folder). It returns how
// many torn bytes were dropped.
func openJSONL(path string, each func(line []byte) error) (*jsonlFile, int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, 0, fmt.Errorf("runtime: %s: %w", path, err)
	}
	good, size, err := scanJSONL(path, each)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("runtime: open %s: %w", path, err)
	}
	if good < size {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("runtime: %s: drop torn last line: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("runtime: %s: %w", path, err)
		}
	}
	return &jsonlFile{f: f, path: path}, size - good, nil
}

// scanJSONL calls each for every complete, valid line of path and returns the offset just past
// the last good line and the file size. Invalid JSON before the last line is an error: that is
// corruption, not a crash, and guessing would lose or duplicate results.
func scanJSONL(path string, each func(line []byte) error) (good, size int64, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("runtime: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("runtime: %s: %w", path, err)
	}
	size = st.Size()
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	lineNo := 0
	for {
		line, rerr := r.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			complete := line[len(line)-1] == '\n'
			body := line
			if complete {
				body = line[:len(line)-1]
			}
			switch {
			case !complete:
				return off, size, nil // torn: the crash hit mid-write
			case len(trimSpace(body)) == 0:
				// blank line: keep, skip
			case !json.Valid(body):
				if off+int64(len(line)) == size {
					return off, size, nil // torn last line that happened to end in '\n'
				}
				return 0, 0, fmt.Errorf("runtime: %s line %d: invalid JSON in the middle of the file; fix or move the file", path, lineNo)
			default:
				if err := each(body); err != nil {
					return 0, 0, fmt.Errorf("runtime: %s line %d: %w", path, lineNo, err)
				}
			}
			off += int64(len(line))
		}
		if rerr == io.EOF {
			return off, size, nil
		}
		if rerr != nil {
			return 0, 0, fmt.Errorf("runtime: read %s: %w", path, rerr)
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Append writes v as one line and fsyncs it.
func (j *jsonlFile) Append(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("runtime: %s: encode: %w", j.path, err)
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("runtime: write %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("runtime: sync %s: %w", j.path, err)
	}
	return nil
}

func (j *jsonlFile) Close() error { return j.f.Close() }
