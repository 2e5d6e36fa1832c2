package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestAppendLogTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.jsonl") // the folder is created
	j, _, err := OpenAppendLog(path, func([]byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := j.Append(map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	good, _ := os.ReadFile(path)
	for _, tail := range []string{`{"i": 3, "tr`, "{\"i\": 3, \"x\n", `{"i":3}`, "\n\n{\"i\":"} {
		os.WriteFile(path, append(slices.Clone(good), tail...), 0o644)
		// the read-only scan sees what a reopen keeps
		var lines []string
		torn, err := ScanAppendLog(path, func(b []byte) error { lines = append(lines, string(b)); return nil })
		wantTorn := int64(len(strings.TrimLeft(tail, "\n")))
		if err != nil || len(lines) != 3 || lines[2] != `{"i":2}` || torn != wantTorn {
			t.Errorf("tail %q: scan: %v, lines %q, %d torn bytes; want 3 lines, %d", tail, err, lines, torn, wantTorn)
		}
		var n int
		j, torn, err := OpenAppendLog(path, func([]byte) error { n++; return nil })
		if err != nil {
			t.Fatalf("tail %q: %v", tail, err)
		}
		// A last line without its newline is cut even when it parses: the write was not
		// finished, and the row will be asked for again.
		if n != 3 || torn != wantTorn {
			t.Errorf("tail %q: %d lines, %d torn bytes; want 3, %d", tail, n, torn, wantTorn)
		}
		j.Append(map[string]int{"i": 3})
		j.Close()
		b, _ := os.ReadFile(path)
		want := string(good) + tail[:len(tail)-int(wantTorn)] + "{\"i\":3}\n"
		if string(b) != want {
			t.Errorf("tail %q: file after repair+append:\n%q\nwant\n%q", tail, b, want)
		}
	}
}

func TestAppendLogCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.jsonl")
	const body = "{\"i\":0}\nnot json\n{\"i\":2}\n"
	os.WriteFile(path, []byte(body), 0o644)
	if _, _, err := OpenAppendLog(path, func([]byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("corrupt middle line: %v", err)
	}
	if _, err := ScanAppendLog(path, func([]byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("scan, corrupt middle line: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != body {
		t.Errorf("a corrupt file was changed: %q", b)
	}
	// an error from each names the line too and stops the open
	os.WriteFile(path, []byte("{\"i\":0}\n{\"i\":1}\n"), 0o644)
	_, _, err := OpenAppendLog(path, func(b []byte) error {
		if string(b) == `{"i":1}` {
			return fmt.Errorf("no")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "line 2: no") {
		t.Errorf("each's error: %v", err)
	}
	// a missing file is empty for the scan and is not created by it
	missing := filepath.Join(t.TempDir(), "none.jsonl")
	if torn, err := ScanAppendLog(missing, func([]byte) error { t.Error("line in a missing file"); return nil }); err != nil || torn != 0 {
		t.Errorf("missing file: %d, %v", torn, err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("ScanAppendLog created the file")
	}
}

func TestAppendLogConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.jsonl")
	l, _, err := OpenAppendLog(path, func([]byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	pad := strings.Repeat("x", 5000) // lines longer than a pipe buffer's atomic size
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := l.Append(map[string]any{"w": w, "i": i, "pad": pad}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	l.Close()
	seen := map[[2]int]bool{}
	torn, err := ScanAppendLog(path, func(b []byte) error {
		var r struct{ W, I int }
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		seen[[2]int{r.W, r.I}] = true
		return nil
	})
	if err != nil || torn != 0 || len(seen) != writers*each {
		t.Errorf("after concurrent appends: %v, %d torn bytes, %d distinct whole lines; want %d", err, torn, len(seen), writers*each)
	}
}
