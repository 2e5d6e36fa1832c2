package data

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// ConvertResult says what Convert did.
type ConvertResult struct {
	Input   Format `json:"input"`
	Kind    Kind   `json:"kind"`
	Written int    `json:"written"`
	Report  Report `json:"report"`
}

// Convert streams every record of in to out (.parquet, .jsonl or .jsonl.gz), in the same kind.
// Invalid rows stop it unless opt.SkipInvalid is set. The output appears only when complete.
func Convert(in, out string, opt Options) (ConvertResult, error) {
	r, err := Open(in, opt)
	if err != nil {
		return ConvertResult{}, err
	}
	defer r.Close()
	res := ConvertResult{Input: r.Format(), Kind: r.Kind()}
	w, err := Create(out, r.Kind())
	if err != nil {
		return res, err
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			w.Abort()
			res.Report = r.Report()
			return res, err
		}
		if err := w.Write(rec); err != nil {
			w.Abort()
			return res, err
		}
	}
	if err := w.Close(); err != nil {
		return res, err
	}
	res.Written, res.Report = w.Rows(), r.Report()
	return res, nil
}

// PromptKey is the text that identifies a record's prompt: the roles and contents of its
// messages. Split hashes it.
func PromptKey(prompt []Message) string {
	n := 0
	for _, m := range prompt {
		n += len(m.Role) + len(m.Content) + 2
	}
	b := make([]byte, 0, n)
	for _, m := range prompt {
		b = append(b, m.Role...)
		b = append(b, 0)
		b = append(b, m.Content...)
		b = append(b, 0)
	}
	return string(b)
}

// InTestSplit reports whether a prompt goes to the test side: the first 8 bytes of SHA-256 of
// the seed (8 bytes, little-endian) and the prompt key, as a fraction of 2^64, below testFrac. The same prompt always lands on the same
// side for a given seed, whatever the file's order or other rows.
func InTestSplit(prompt []Message, testFrac float64, seed uint64) bool {
	h := sha256.New()
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	h.Write(s[:])
	h.Write([]byte(PromptKey(prompt)))
	sum := h.Sum(nil)
	return float64(binary.BigEndian.Uint64(sum[:8]))/math.Exp2(64) < testFrac
}

// SplitResult counts the records on each side.
type SplitResult struct {
	Train  int    `json:"train"`
	Test   int    `json:"test"`
	Report Report `json:"report"`
}

func recordPrompt(rec Record) []Message {
	switch {
	case rec.Pair != nil:
		return rec.Pair.Prompt
	case rec.Ranked != nil:
		return rec.Ranked.Prompt
	case rec.Unpaired != nil:
		return rec.Unpaired.Prompt
	}
	return nil
}

// Split writes in's records to trainOut and testOut, a record going to the test side when
// InTestSplit says so for its prompt. testFrac is in [0, 1].
func Split(in, trainOut, testOut string, testFrac float64, seed uint64, opt Options) (SplitResult, error) {
	var res SplitResult
	if testFrac < 0 || testFrac > 1 || math.IsNaN(testFrac) {
		return res, fmt.Errorf("data: split: test fraction %v, want 0 to 1", testFrac)
	}
	r, err := Open(in, opt)
	if err != nil {
		return res, err
	}
	defer r.Close()
	tw, err := Create(trainOut, r.Kind())
	if err != nil {
		return res, err
	}
	sw, err := Create(testOut, r.Kind())
	if err != nil {
		tw.Abort()
		return res, err
	}
	fail := func(err error) (SplitResult, error) {
		tw.Abort()
		sw.Abort()
		res.Report = r.Report()
		return res, err
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		w := tw
		if InTestSplit(recordPrompt(rec), testFrac, seed) {
			w = sw
		}
		if err := w.Write(rec); err != nil {
			return fail(err)
		}
	}
	if err := tw.Close(); err != nil {
		sw.Abort()
		return res, err
	}
	if err := sw.Close(); err != nil {
		return res, err
	}
	res.Train, res.Test, res.Report = tw.Rows(), sw.Rows(), r.Report()
	return res, nil
}
