package pairs

import (
	"fmt"
	"github.com/alignkit/align/data/curate"
	"sort"
	"strings"
	"unicode/utf8"
)

// Candidate is one sampled response to a prompt, with what is needed to reproduce it.
type Candidate struct {
	// PromptID identifies the prompt the response answers.
	PromptID string `json:"prompt_id"`
	// Model is the generator's name.
	Model string `json:"model"`
	// Sample is the index among the model's K samples for this prompt (0-based).
	Sample int `json:"sample"`
	// Seed is the sampling seed sent to the runtime.
	Seed int64 `json:"seed"`
	// Text is the response.
	Text string `json:"text"`
	// DoneReason is the runtime's reason for stopping ("stop", "length", ...).
	DoneReason string `json:"done_reason,omitempty"`
	// Student marks a sample of the policy being trained, as opposed to a teacher or gold
	// output (DNO's pair rule is looser for student positives).
	Student bool `json:"student,omitempty"`
}

// Key is the candidate's identity in the logs: prompt, model and sample index.
func (c Candidate) Key() string { return fmt.Sprintf("%s\x00%s\x00%d", c.PromptID, c.Model, c.Sample) }

// Filter reasons. A candidate with reason ReasonKept goes to the judge.
const (
	ReasonKept          = ""
	ReasonEmpty         = "empty"
	ReasonTruncated     = "truncated"
	ReasonTooShort      = "too_short"
	ReasonTooLong       = "too_long"
	ReasonDegenerate    = "degenerate"
	ReasonDuplicate     = "duplicate"
	ReasonNearDuplicate = "near_duplicate"
)

// FilterReasons returns the drop reasons in the order the filters run.
func FilterReasons() []string {
	return []string{ReasonEmpty, ReasonTruncated, ReasonTooShort, ReasonTooLong,
		ReasonDegenerate, ReasonDuplicate, ReasonNearDuplicate}
}

// Repetition policies for degenerate responses.
const (
	// RepetitionNegative keeps a degenerate response out of judging but keeps it as an automatic
	// negative: it gets the rubric's lowest score and may be the rejected side of a pair (DNO).
	RepetitionNegative = "negative"
	// RepetitionDrop removes degenerate responses altogether.
	RepetitionDrop = "drop"
	// RepetitionKeep sends degenerate responses to the judge like any other.
	RepetitionKeep = "keep"
)

// FilterOptions configures the filters that run before judging. The zero value of a field
// means its default (DefaultFilterOptions); set a bound to a negative value to turn it off.
type FilterOptions struct {
	// MinChars and MaxChars bound the response length in characters (runes) after trimming.
	// Defaults 1 and 0 (no upper bound).
	MinChars, MaxChars int
	// MinWords and MaxWords bound the number of normalised words. Defaults 0 (off).
	MinWords, MaxWords int
	// KeepTruncated keeps responses that stopped at the token limit (done_reason "length").
	KeepTruncated bool
	// NearDupN is the word n-gram size of the near-duplicate test. Default 3.
	NearDupN int
	// NearDupJaccard is the Jaccard similarity of the n-gram sets at or above which a response
	// is a near duplicate of an earlier kept one. Default 0.7. Lee et al. (2022) used 5-grams
	// and 0.8 for whole documents; responses are short, where one changed word already costs
	// five 5-grams, so align uses 3-grams and 0.7: one edit in a 30-word answer is a near
	// duplicate (Jaccard ≈ 0.8), two edits are not (≈ 0.65). The Jaccard is exact, not
	// MinHash-estimated: a prompt has few candidates.
	NearDupJaccard float64
	// RepeatN is the word n-gram size of the repetition test. Default 4.
	RepeatN int
	// RepeatRate is the share of repeated word n-grams, 1 − distinct/total, at or above which a
	// response is degenerate, provided it has at least RepeatMinGrams n-grams. Defaults 0.5, 8.
	RepeatRate     float64
	RepeatMinGrams int
	// RepeatCharN, RepeatCharRate and RepeatCharMin apply the same rule to character n-grams
	// of the raw text, which catches loops without spaces ("!!!!…", "abcabcabc…").
	// Defaults 16, 0.5, 64.
	RepeatCharN    int
	RepeatCharRate float64
	RepeatCharMin  int
	// Repetition says what becomes of degenerate responses: negative (default), drop or keep.
	Repetition string
}

// DefaultFilterOptions returns the documented defaults (docs/curation.md).
func DefaultFilterOptions() FilterOptions {
	return FilterOptions{MinChars: 1, NearDupN: 3, NearDupJaccard: 0.7, RepeatN: 4, RepeatRate: 0.5,
		RepeatMinGrams: 8, RepeatCharN: 16, RepeatCharRate: 0.5, RepeatCharMin: 64, Repetition: RepetitionNegative}
}

func (o FilterOptions) withDefaults() FilterOptions {
	d := DefaultFilterOptions()
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setf := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	set(&o.MinChars, d.MinChars)
	set(&o.NearDupN, d.NearDupN)
	setf(&o.NearDupJaccard, d.NearDupJaccard)
	set(&o.RepeatN, d.RepeatN)
	setf(&o.RepeatRate, d.RepeatRate)
	set(&o.RepeatMinGrams, d.RepeatMinGrams)
	set(&o.RepeatCharN, d.RepeatCharN)
	setf(&o.RepeatCharRate, d.RepeatCharRate)
	set(&o.RepeatCharMin, d.RepeatCharMin)
	if o.Repetition == "" {
		o.Repetition = d.Repetition
	}
	return o
}

// Validate reports an unknown repetition policy or inconsistent bounds.
func (o FilterOptions) Validate() error {
	o = o.withDefaults()
	switch o.Repetition {
	case RepetitionNegative, RepetitionDrop, RepetitionKeep:
	default:
		return fmt.Errorf("curate: repetition policy %q: want negative, drop or keep", o.Repetition)
	}
	if o.MaxChars > 0 && o.MaxChars < o.MinChars {
		return fmt.Errorf("curate: max chars %d below min chars %d", o.MaxChars, o.MinChars)
	}
	if o.MaxWords > 0 && o.MaxWords < o.MinWords {
		return fmt.Errorf("curate: max words %d below min words %d", o.MaxWords, o.MinWords)
	}
	if o.NearDupJaccard > 1 {
		return fmt.Errorf("curate: near-duplicate Jaccard threshold %g above 1", o.NearDupJaccard)
	}
	return nil
}

// Verdict is what the filters decided about one candidate.
type Verdict struct {
	// Reason is ReasonKept for a candidate that goes to the judge, otherwise why it does not.
	Reason string `json:"reason,omitempty"`
	// AutoNegative marks a degenerate response kept as an automatic negative: not judged, given
	// the rubric's lowest score.
	AutoNegative bool `json:"auto_negative,omitempty"`
	// DuplicateOf is the index of the kept candidate this one duplicates (-1 if none).
	DuplicateOf int `json:"duplicate_of"`
	// Similarity is the n-gram Jaccard with DuplicateOf (1 for an exact duplicate).
	Similarity float64 `json:"similarity,omitempty"`
}

// Judged reports whether the candidate goes to the judge.
func (v Verdict) Judged() bool { return v.Reason == ReasonKept && !v.AutoNegative }

// FilterCounts counts what the filters did.
type FilterCounts struct {
	Total        int            `json:"total"`
	Judged       int            `json:"judged"`
	AutoNegative int            `json:"auto_negative"`
	Dropped      map[string]int `json:"dropped"`
}

// Add accumulates other into c.
func (c *FilterCounts) Add(o FilterCounts) {
	c.Total += o.Total
	c.Judged += o.Judged
	c.AutoNegative += o.AutoNegative
	if c.Dropped == nil {
		c.Dropped = map[string]int{}
	}
	for k, v := range o.Dropped {
		c.Dropped[k] += v
	}
}

// RepetitionRate is 1 − distinct/total over the word n-grams of text, and the number of
// n-grams; 0 when there are none.
func RepetitionRate(text string, n int) (rate float64, grams int) {
	return repeatRate(curate.NGramList(curate.Words(text), n))
}

// CharRepetitionRate is RepetitionRate over character n-grams of the raw text.
func CharRepetitionRate(text string, n int) (rate float64, grams int) {
	r := []rune(text)
	if n <= 0 || len(r) < n {
		return 0, 0
	}
	list := make([]uint64, 0, len(r)-n+1)
	for i := 0; i+n <= len(r); i++ {
		list = append(list, curate.HashWords([]string{string(r[i : i+n])}))
	}
	return repeatRate(list)
}

func repeatRate(list []uint64) (float64, int) {
	if len(list) == 0 {
		return 0, 0
	}
	seen := make(map[uint64]struct{}, len(list))
	for _, h := range list {
		seen[h] = struct{}{}
	}
	return 1 - float64(len(seen))/float64(len(list)), len(list)
}

// Degenerate applies the repetition rule: many repeated word n-grams, or many repeated
// character n-grams.
func (o FilterOptions) Degenerate(text string) bool {
	o = o.withDefaults()
	if r, n := RepetitionRate(text, o.RepeatN); n >= o.RepeatMinGrams && r >= o.RepeatRate {
		return true
	}
	if r, n := CharRepetitionRate(text, o.RepeatCharN); n >= o.RepeatCharMin && r >= o.RepeatCharRate {
		return true
	}
	return false
}

// Filter runs the filters over the candidates of ONE prompt, in order: empty, truncated,
// length bounds, degenerate repetition, exact duplicate (normalised text hash), near duplicate
// (n-gram Jaccard). Duplicates are judged against the candidates kept so far, in the order
// given, so the first of a group survives.
func Filter(cands []Candidate, opt FilterOptions) ([]Verdict, FilterCounts) {
	o := opt.withDefaults()
	out := make([]Verdict, len(cands))
	counts := FilterCounts{Total: len(cands), Dropped: map[string]int{}}
	type kept struct {
		idx  int
		hash uint64
		set  map[uint64]struct{}
	}
	var keep []kept
	for i, c := range cands {
		v := Verdict{DuplicateOf: -1}
		text := strings.TrimSpace(c.Text)
		nchar := utf8.RuneCountInString(text)
		words := curate.Words(text)
		switch {
		case text == "":
			v.Reason = ReasonEmpty
		case c.DoneReason == "length" && !o.KeepTruncated:
			v.Reason = ReasonTruncated
		case o.MinChars > 0 && nchar < o.MinChars, o.MinWords > 0 && len(words) < o.MinWords:
			v.Reason = ReasonTooShort
		case o.MaxChars > 0 && nchar > o.MaxChars, o.MaxWords > 0 && len(words) > o.MaxWords:
			v.Reason = ReasonTooLong
		case o.Repetition != RepetitionKeep && o.Degenerate(text):
			if o.Repetition == RepetitionDrop {
				v.Reason = ReasonDegenerate
			} else {
				v.AutoNegative = true
			}
		}
		if v.Reason == ReasonKept {
			h := curate.TextHash(text)
			set := curate.NGramSet(words, o.NearDupN)
			for _, k := range keep {
				if k.hash == h {
					v.Reason, v.DuplicateOf, v.Similarity = ReasonDuplicate, k.idx, 1
					break
				}
				if j := curate.Jaccard(set, k.set); j >= o.NearDupJaccard {
					v.Reason, v.DuplicateOf, v.Similarity = ReasonNearDuplicate, k.idx, j
					break
				}
			}
			if v.Reason == ReasonKept {
				keep = append(keep, kept{i, h, set})
			}
		}
		switch {
		case v.Reason != ReasonKept:
			counts.Dropped[v.Reason]++
		case v.AutoNegative:
			counts.AutoNegative++
		default:
			counts.Judged++
		}
		out[i] = v
	}
	return out, counts
}

// SortedReasons returns the keys of a dropped-count map in filter order, unknown ones last.
func SortedReasons(m map[string]int) []string {
	order := map[string]int{}
	for i, r := range FilterReasons() {
		order[r] = i
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, iok := order[keys[i]]
		oj, jok := order[keys[j]]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return keys[i] < keys[j]
	})
	return keys
}
