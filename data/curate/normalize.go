package curate

import (
	"hash/fnv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns the canonical form of a text used by every comparison in this package:
// Unicode NFKC, lower case, every run of characters that are neither letters nor digits turned
// into one space, and no leading or trailing space. Two texts that differ only in case,
// punctuation, spacing or Unicode compatibility forms normalise to the same string.
func Normalize(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		space = true
	}
	return b.String()
}

// Words splits a text into its normalised words.
func Words(s string) []string {
	return strings.Fields(Normalize(s))
}

// TextHash is the 64-bit FNV-1a hash of the normalised text: equal for exact duplicates up to
// case, punctuation and spacing.
func TextHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(Normalize(s)))
	return h.Sum64()
}

// NGramSet returns the set of hashed word n-grams of words. A text of fewer than n words (but
// at least one) gives one gram, the whole text, so that short texts still compare.
func NGramSet(words []string, n int) map[uint64]struct{} {
	set := make(map[uint64]struct{})
	if len(words) == 0 || n <= 0 {
		return set
	}
	if len(words) < n {
		set[HashWords(words)] = struct{}{}
		return set
	}
	for i := 0; i+n <= len(words); i++ {
		set[HashWords(words[i:i+n])] = struct{}{}
	}
	return set
}

// NGramList returns every word n-gram hash in order, repeats included.
func NGramList(words []string, n int) []uint64 {
	if n <= 0 || len(words) < n {
		return nil
	}
	out := make([]uint64, 0, len(words)-n+1)
	for i := 0; i+n <= len(words); i++ {
		out = append(out, HashWords(words[i:i+n]))
	}
	return out
}

// HashWords hashes a word sequence (FNV-1a, words separated by a zero byte).
func HashWords(words []string) uint64 {
	h := fnv.New64a()
	for i, w := range words {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(w))
	}
	return h.Sum64()
}

// Jaccard is |A∩B| / |A∪B| of two n-gram sets; 0 when both are empty.
func Jaccard(a, b map[uint64]struct{}) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	inter := intersect(a, b)
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// OverlapCoefficient is |A∩B| / min(|A|, |B|): 1 when one set is inside the other, so a
// prompt that embeds an evaluation question whole scores 1 whatever was added around it.
func OverlapCoefficient(a, b map[uint64]struct{}) float64 {
	m := min(len(a), len(b))
	if m == 0 {
		return 0
	}
	return float64(intersect(a, b)) / float64(m)
}

func intersect(a, b map[uint64]struct{}) int {
	if len(a) > len(b) {
		a, b = b, a
	}
	n := 0
	for k := range a {
		if _, ok := b[k]; ok {
			n++
		}
	}
	return n
}
