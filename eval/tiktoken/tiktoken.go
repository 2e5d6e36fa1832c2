package tiktoken

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/dlclark/regexp2"
)

// Encoding is a byte-pair encoding given by merge ranks: the rank of every token's bytes, where a
// lower rank merges first. It is immutable once built and safe for concurrent use.
type Encoding struct {
	ranks map[string]int
	pat   *regexp2.Regexp
}

// New builds an Encoding from js-tiktoken's packed bpe_ranks text and a pre-tokenizer pattern.
// The packed text is lines of "<tag> <first rank> <base64 token> <base64 token> ...", the tokens
// taking consecutive ranks from the first.
func New(packed, pattern string) (*Encoding, error) {
	pat, err := regexp2.Compile(pattern, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("tiktoken: pre-tokenizer pattern: %w", err)
	}
	e := &Encoding{ranks: make(map[string]int, 200_000), pat: pat}
	for ln, line := range strings.Split(packed, "\n") {
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return nil, fmt.Errorf("tiktoken: ranks line %d: want \"<tag> <rank> <tokens...>\", got %d fields", ln+1, len(fields))
		}
		first, err := strconv.Atoi(fields[1])
		if err != nil || first < 0 {
			return nil, fmt.Errorf("tiktoken: ranks line %d: first rank %q is not a non-negative integer", ln+1, fields[1])
		}
		for i, tok := range fields[2:] {
			b, err := base64.StdEncoding.DecodeString(tok)
			if err != nil || len(b) == 0 {
				return nil, fmt.Errorf("tiktoken: ranks line %d token %d (rank %d): %q is not a non-empty base64 token", ln+1, i+1, first+i, tok)
			}
			if old, dup := e.ranks[string(b)]; dup {
				return nil, fmt.Errorf("tiktoken: ranks line %d: token %q has ranks %d and %d", ln+1, tok, old, first+i)
			}
			e.ranks[string(b)] = first + i
		}
	}
	for b := 0; b < 256; b++ {
		if _, ok := e.ranks[string([]byte{byte(b)})]; !ok {
			return nil, fmt.Errorf("tiktoken: ranks lack the single byte 0x%02x: every byte must be a token", b)
		}
	}
	return e, nil
}

// Len is the number of tokens in the vocabulary (special tokens not counted).
func (e *Encoding) Len() int { return len(e.ranks) }

// Encode returns text's token ids, every piece of it ordinary text (tiktoken's
// encode(text, disallowed_special=()), which is encode_ordinary).
func (e *Encoding) Encode(text string) ([]int, error) {
	var ids []int
	err := e.pieces(text, func(piece []byte) {
		if r, ok := e.ranks[string(piece)]; ok {
			ids = append(ids, r)
			return
		}
		ids = e.merge(piece, ids)
	})
	return ids, err
}

// Count is len(Encode(text)).
func (e *Encoding) Count(text string) (int, error) {
	ids, err := e.Encode(text)
	return len(ids), err
}

// pieces calls f on each pre-tokenizer match of text, in order. The pattern's alternatives end in
// \s+, so the matches cover the text; a gap (invalid UTF-8 decoded as U+FFFD) is passed through as
// a piece of its own.
func (e *Encoding) pieces(text string, f func([]byte)) error {
	runes := []rune(text)
	m, err := e.pat.FindRunesMatch(runes)
	at := 0
	for ; err == nil && m != nil; m, err = e.pat.FindNextMatch(m) {
		if m.Index > at {
			f([]byte(string(runes[at:m.Index])))
		}
		f([]byte(string(runes[m.Index : m.Index+m.Length])))
		at = m.Index + m.Length
	}
	if err != nil {
		return fmt.Errorf("tiktoken: pre-tokenizing: %w", err)
	}
	if at < len(runes) {
		f([]byte(string(runes[at:])))
	}
	return nil
}

// merge appends the ids of one piece: tiktoken's byte_pair_merge. It starts from single bytes
// and repeatedly merges the adjacent pair whose concatenation has the lowest rank (the leftmost
// on a tie), until no adjacent pair is a token.
func (e *Encoding) merge(piece []byte, ids []int) []int {
	// starts[i] is the byte offset where part i begins; the last entry is len(piece).
	starts := make([]int, len(piece)+1)
	for i := range starts {
		starts[i] = i
	}
	rank := func(i int) int { // rank of parts i and i+1 joined, or MaxInt
		if i+2 >= len(starts) {
			return math.MaxInt
		}
		if r, ok := e.ranks[string(piece[starts[i]:starts[i+2]])]; ok {
			return r
		}
		return math.MaxInt
	}
	pair := make([]int, len(starts)-1)
	for i := range pair {
		pair[i] = rank(i)
	}
	for len(starts) > 2 {
		best, at := math.MaxInt, -1
		for i, r := range pair[:len(starts)-2] {
			if r < best {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		starts = append(starts[:at+1], starts[at+2:]...)
		pair = append(pair[:at+1], pair[at+2:]...)
		pair[at] = rank(at)
		if at > 0 {
			pair[at-1] = rank(at - 1)
		}
	}
	for i := 0; i+1 < len(starts); i++ {
		ids = append(ids, e.ranks[string(piece[starts[i]:starts[i+1]])])
	}
	return ids
}

// O200kPattern is o200k_base's pre-tokenizer, as js-tiktoken writes it: Python tiktoken's
// (?i:'s|'t|...) contractions spelled out in both cases.
const O200kPattern = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`

//go:embed o200k_base.ranks.gz
var o200kRanks []byte

// O200kBase returns the o200k_base encoding (GPT-4o's), decoded from the embedded ranks on first
// use (about 0.2 s) and shared after: the table is read-only.
var O200kBase = sync.OnceValues(func() (*Encoding, error) {
	zr, err := gzip.NewReader(bytes.NewReader(o200kRanks))
	if err != nil {
		return nil, fmt.Errorf("tiktoken: o200k_base ranks: %w", err)
	}
	packed, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("tiktoken: o200k_base ranks: %w", err)
	}
	e, err := New(string(packed), O200kPattern)
	if err != nil {
		return nil, fmt.Errorf("o200k_base: %w", err)
	}
	return e, nil
})
