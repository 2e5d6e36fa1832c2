package data

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxDetectRows is how many invalid rows Open reads past, looking for a valid one to detect
// the layout from.
const maxDetectRows = 1000

// Reader streams the records of one dataset file. Open it with Open, call Next until io.EOF,
// and Close it. A Reader is not safe for concurrent use.
//
// Memory stays flat with the file's size: JSONL is read a line at a time, a JSON array an
// element at a time, Parquet a row group at a time.
type Reader struct {
	path    string
	file    string
	f       *os.File
	src     source
	m       *mapper
	format  Format
	opt     Options
	report  Report
	pending []rawRow
	fatal   error
	collect bool // count every invalid row instead of failing on it (Validate, Inspect)
}

// Open opens a dataset file and detects its format (Parquet by its magic number, JSON array or
// JSONL by the first character, gzip by its magic number) and its layout (from the first valid
// row's columns; see Layout). It reads the first rows to do so.
func Open(path string, opt Options) (*Reader, error) {
	return open(path, opt, false)
}

func open(path string, opt Options, collect bool) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data: %w", err)
	}
	r, err := newReader(filepath.Base(path), f, st.Size(), opt, collect)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.path, r.f = path, f
	return r, nil
}

// newReader reads a dataset from ra, of size bytes, named name in messages.
func newReader(name string, ra io.ReaderAt, size int64, opt Options, collect bool) (*Reader, error) {
	r := &Reader{path: name, file: name, opt: opt, collect: collect}
	var head [4]byte
	n, _ := ra.ReadAt(head[:], 0)
	if n == 4 && bytes.Equal(head[:], parquetMagic) {
		src, err := openParquetAt(name, ra, size)
		if err != nil {
			return nil, err
		}
		r.src, r.format.Container = src, ContainerParquet
	} else {
		src, format, err := openText(name, io.NewSectionReader(ra, 0, size))
		if err != nil {
			return nil, err
		}
		r.src, r.format = src, format
	}
	if err := r.detect(); err != nil {
		r.src.close()
		return nil, err
	}
	return r, nil
}

func (r *Reader) detect() error {
	for len(r.pending) < maxDetectRows {
		rr, err := r.src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A fatal error in the first rows: keep what was read, fail on Next.
			var is *Issue
			if errors.As(err, &is) {
				is.fatal = true
			}
			r.fatal = err
			break
		}
		r.pending = append(r.pending, rr)
		if rr.issue == nil && rr.fields != nil {
			m, err := detect(r.file, r.opt, rr.fields)
			if err != nil {
				return err
			}
			r.m = m
			r.format.Layout = m.layout
			return nil
		}
	}
	if r.fatal != nil && len(r.pending) == 0 {
		return r.fatal
	}
	if len(r.pending) == 0 {
		return &Issue{File: r.file, Reason: "empty file", Detail: "no rows"}
	}
	if len(r.pending) >= maxDetectRows {
		return &Issue{File: r.file, Reason: "unknown layout", Detail: fmt.Sprintf("the first %d rows are all invalid; the first: %v", maxDetectRows, r.pending[0].issue)}
	}
	if r.fatal != nil {
		return r.fatal
	}
	// Every row is invalid: report the first.
	return r.pending[0].issue
}

// Format returns the detected container and layout.
func (r *Reader) Format() Format { return r.format }

// Kind returns the records' shape.
func (r *Reader) Kind() Kind { return r.m.kind }

// Schema returns the file's top-level columns and their types.
func (r *Reader) Schema() []ColumnInfo { return r.src.schema() }

// NumRows returns the number of rows the file declares (Parquet), or -1 when it is only known
// after reading (JSON, JSONL).
func (r *Reader) NumRows() int64 { return r.src.numRows() }

// Report returns the counts so far: rows seen, valid records, and invalid rows skipped (with
// Options.SkipInvalid) and why.
func (r *Reader) Report() Report { return r.report }

// Next returns the next valid record, or io.EOF at the end. An invalid row returns an *Issue
// naming file, row and column, unless Options.SkipInvalid is set: then it is skipped and
// counted in Report. After an invalid row, Next may be called again to go on; after io.EOF or
// a problem with the file itself (a truncated gzip stream, a corrupted Parquet page), Next
// keeps returning that error.
func (r *Reader) Next() (Record, error) {
	for {
		var rr rawRow
		if len(r.pending) > 0 {
			rr, r.pending = r.pending[0], r.pending[1:]
		} else {
			if r.fatal != nil {
				return Record{}, r.fatal
			}
			var err error
			rr, err = r.src.next()
			if err != nil {
				var is *Issue
				if errors.As(err, &is) {
					is.fatal = true
				}
				r.fatal = err
				return Record{}, err
			}
		}
		r.report.Rows++
		is := rr.issue
		var rec Record
		if is == nil {
			rec, is = r.m.mapRow(rr)
		}
		if is == nil {
			is = r.m.check(rr, rec)
		}
		if is == nil {
			r.report.Valid++
			return rec, nil
		}
		if is.File == "" {
			is.File = r.file
		}
		if r.opt.SkipInvalid || r.collect {
			r.report.add(*is)
			continue
		}
		r.report.add(*is)
		return Record{}, is
	}
}

// Close releases the file.
func (r *Reader) Close() error {
	var err error
	if r.src != nil {
		err = r.src.close()
	}
	if r.f != nil {
		if cerr := r.f.Close(); err == nil {
			err = cerr
		}
		r.f = nil
	}
	return err
}

// IsFatal reports whether err ends a read: a problem with the file (a truncated gzip stream,
// a corrupted Parquet page, a JSON array with a syntax error) rather than with one row.
func IsFatal(err error) bool {
	var is *Issue
	if errors.As(err, &is) {
		return is.fatal || is.Row == 0
	}
	return err != nil && err != io.EOF
}

// ReadAll reads every record of a file.
func ReadAll(path string, opt Options) ([]Record, Report, error) {
	r, err := Open(path, opt)
	if err != nil {
		return nil, Report{}, err
	}
	defer r.Close()
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, r.Report(), nil
		}
		if err != nil {
			return nil, r.Report(), err
		}
		out = append(out, rec)
	}
}

// ReadPairs reads a pairwise dataset whole. A ranked or unpaired file is an error (turn ranked
// data into pairs with Pairs, `align data pairs`).
func ReadPairs(path string, opt Options) ([]Pair, error) {
	return readAs(path, opt, KindPairwise, func(r Record) *Pair { return r.Pair })
}

// ReadRanked reads a ranked dataset whole.
func ReadRanked(path string, opt Options) ([]Ranked, error) {
	return readAs(path, opt, KindRanked, func(r Record) *Ranked { return r.Ranked })
}

// ReadUnpaired reads an unpaired (KTO-style) dataset whole.
func ReadUnpaired(path string, opt Options) ([]Unpaired, error) {
	return readAs(path, opt, KindUnpaired, func(r Record) *Unpaired { return r.Unpaired })
}

// readAs reads a dataset of kind want whole and returns the records' one shape.
func readAs[T any](path string, opt Options, want Kind, pick func(Record) *T) ([]T, error) {
	recs, _, err := readKind(path, opt, want)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(recs))
	for i, r := range recs {
		out[i] = *pick(r)
	}
	return out, nil
}

func readKind(path string, opt Options, want Kind) ([]Record, Report, error) {
	r, err := Open(path, opt)
	if err != nil {
		return nil, Report{}, err
	}
	defer r.Close()
	if r.Kind() != want {
		hint := ""
		if r.Kind() == KindRanked && want == KindPairwise {
			hint = "; make pairs first with `align data pairs`"
		}
		return nil, Report{}, fmt.Errorf("data: %s holds %s records (%s), not %s%s", r.file, r.Kind(), r.format.Layout, want, hint)
	}
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, r.Report(), nil
		}
		if err != nil {
			return nil, r.Report(), err
		}
		out = append(out, rec)
	}
}

// Validate reads a whole file and returns every problem found, with its location. The Report
// holds each invalid row; a problem that ends the read (a truncated file) is added as the last
// issue. Validate never stops at the first invalid row.
func Validate(path string, opt Options) Report {
	r, err := open(path, opt, true)
	if err != nil {
		var rep Report
		rep.addError(path, err)
		return rep
	}
	defer r.Close()
	for {
		_, err := r.Next()
		if err == io.EOF {
			return r.report
		}
		if err != nil {
			r.report.addError(path, err)
			return r.report
		}
	}
}

// addError records a problem that ends the read.
func (rep *Report) addError(path string, err error) {
	var is *Issue
	if !errors.As(err, &is) {
		is = &Issue{File: filepath.Base(path), Reason: "read error", Detail: err.Error()}
	}
	rep.Fatal = is
	rep.add(*is)
	rep.Skipped-- // the file-level problem is not a row
}
