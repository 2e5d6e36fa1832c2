package curate

import (
	"fmt"
	"sort"
)

// Text is one prompt or evaluation question, with an identity and the set it came from.
type Text struct {
	ID     string `json:"id"`
	Source string `json:"source,omitempty"`
	Text   string `json:"text"`
	// Label is "safe" or "unsafe" for safety prompt sets (XSTest's label column), else empty.
	Label string `json:"label,omitempty"`
	// Category is the source's category or type column, if any.
	Category string `json:"category,omitempty"`
}

// ContaminationOptions sets the n-gram test. Zero values mean the defaults.
type ContaminationOptions struct {
	// N is the word n-gram size. Default 8: long enough that two prompts sharing a stock
	// phrase ("write a short story about a") do not match, short enough for one-sentence
	// instructions. Texts shorter than N words are compared whole, so only exactly.
	N int
	// Threshold is the overlap coefficient |A∩B|/min(|A|,|B|) of the two n-gram sets at or
	// above which a pair is reported. Default 0.5. The coefficient is 1 when a prompt embeds an
	// evaluation question whole, whatever was added around it.
	Threshold float64
}

func (o ContaminationOptions) withDefaults() ContaminationOptions {
	if o.N <= 0 {
		o.N = 8
	}
	if o.Threshold <= 0 {
		o.Threshold = 0.5
	}
	return o
}

// ContaminationHit is one prompt that matches one evaluation item.
type ContaminationHit struct {
	PromptID   string  `json:"prompt_id"`
	Prompt     string  `json:"prompt"`
	EvalID     string  `json:"eval_id"`
	EvalSource string  `json:"eval_source,omitempty"`
	EvalText   string  `json:"eval_text"`
	Exact      bool    `json:"exact"`
	Overlap    float64 `json:"overlap"`
	Jaccard    float64 `json:"jaccard"`
}

// ContaminationReport summarises a check of a prompt set against an evaluation set.
type ContaminationReport struct {
	Prompts   int     `json:"prompts"`
	EvalItems int     `json:"eval_items"`
	N         int     `json:"ngram"`
	Threshold float64 `json:"threshold"`
	// Exact counts prompts whose normalised text equals an evaluation item's.
	Exact int `json:"exact"`
	// Overlap counts the other prompts at or above the n-gram threshold.
	Overlap int `json:"overlap"`
	// Hits lists every flagged prompt with its best-matching evaluation item, exact first,
	// then by decreasing overlap.
	Hits []ContaminationHit `json:"hits"`
}

// Flagged reports whether any prompt matched.
func (r ContaminationReport) Flagged() bool { return r.Exact+r.Overlap > 0 }

// EvalIndex indexes an evaluation set for contamination checks: normalised-text hashes for exact
// matches and an inverted n-gram index for overlaps.
type EvalIndex struct {
	opt   ContaminationOptions
	items []Text
	exact map[uint64][]int
	sets  []map[uint64]struct{}
	grams map[uint64][]int
}

// NewEvalIndex builds the index.
func NewEvalIndex(items []Text, opt ContaminationOptions) *EvalIndex {
	ix := &EvalIndex{opt: opt.withDefaults(), exact: map[uint64][]int{}, grams: map[uint64][]int{}}
	for _, it := range items {
		ix.Add(it)
	}
	return ix
}

// Add indexes one more item.
func (ix *EvalIndex) Add(it Text) {
	i := len(ix.items)
	ix.items = append(ix.items, it)
	h := TextHash(it.Text)
	ix.exact[h] = append(ix.exact[h], i)
	set := NGramSet(Words(it.Text), ix.opt.N)
	ix.sets = append(ix.sets, set)
	for g := range set {
		ix.grams[g] = append(ix.grams[g], i)
	}
}

// Len is the number of indexed evaluation items.
func (ix *EvalIndex) Len() int { return len(ix.items) }

// Match returns the best evaluation match of one text and whether it passes the test.
func (ix *EvalIndex) Match(p Text) (ContaminationHit, bool) {
	hit := ContaminationHit{PromptID: p.ID, Prompt: p.Text}
	if Normalize(p.Text) == "" {
		return hit, false
	}
	if ids := ix.exact[TextHash(p.Text)]; len(ids) > 0 {
		it := ix.items[ids[0]]
		hit.EvalID, hit.EvalSource, hit.EvalText = it.ID, it.Source, it.Text
		hit.Exact, hit.Overlap, hit.Jaccard = true, 1, 1
		return hit, true
	}
	set := NGramSet(Words(p.Text), ix.opt.N)
	shared := map[int]int{}
	for g := range set {
		for _, i := range ix.grams[g] {
			shared[i]++
		}
	}
	best := -1
	for i, n := range shared {
		ov := float64(n) / float64(min(len(set), len(ix.sets[i])))
		if best < 0 || ov > hit.Overlap || (ov == hit.Overlap && i < best) {
			best, hit.Overlap = i, ov
		}
	}
	if best < 0 {
		return hit, false
	}
	it := ix.items[best]
	hit.EvalID, hit.EvalSource, hit.EvalText = it.ID, it.Source, it.Text
	hit.Jaccard = Jaccard(set, ix.sets[best])
	return hit, hit.Overlap >= ix.opt.Threshold
}

// CheckContamination checks every prompt against the evaluation set.
func CheckContamination(prompts, eval []Text, opt ContaminationOptions) ContaminationReport {
	opt = opt.withDefaults()
	ix := NewEvalIndex(eval, opt)
	rep := ContaminationReport{Prompts: len(prompts), EvalItems: len(eval), N: opt.N, Threshold: opt.Threshold,
		Hits: []ContaminationHit{}}
	for _, p := range prompts {
		hit, ok := ix.Match(p)
		if !ok {
			continue
		}
		if hit.Exact {
			rep.Exact++
		} else {
			rep.Overlap++
		}
		rep.Hits = append(rep.Hits, hit)
	}
	sort.SliceStable(rep.Hits, func(i, j int) bool {
		a, b := rep.Hits[i], rep.Hits[j]
		if a.Exact != b.Exact {
			return a.Exact
		}
		return a.Overlap > b.Overlap
	})
	return rep
}

// DedupTexts removes exact (normalised) and near duplicates (n-gram overlap at or above the
// threshold) from texts, keeping the first of each group, and also every text that matches one
// in seen (prompts of earlier runs). It returns the kept texts and the removed ones with the
// text they matched.
func DedupTexts(texts, seen []Text, opt ContaminationOptions) (kept []Text, removed []ContaminationHit) {
	opt = opt.withDefaults()
	prev := NewEvalIndex(seen, opt)
	self := NewEvalIndex(nil, opt)
	for _, t := range texts {
		if h, ok := prev.Match(t); ok {
			removed = append(removed, h)
			continue
		}
		if h, ok := self.Match(t); ok {
			h.EvalSource = "self"
			removed = append(removed, h)
			continue
		}
		self.Add(t)
		kept = append(kept, t)
	}
	return kept, removed
}

// String is a one-line summary.
func (r ContaminationReport) String() string {
	return fmt.Sprintf("%d prompts against %d eval items (word %d-grams, overlap ≥ %.2f): %d exact, %d overlapping",
		r.Prompts, r.EvalItems, r.N, r.Threshold, r.Exact, r.Overlap)
}

// SelectPrompts applies prompt dedup, exclusion and the contamination check.
func SelectPrompts(in []Text, dedup bool, exclude, eval []Text, drop bool, opt ContaminationOptions) ([]Text, []ContaminationHit, *ContaminationReport, error) {
	ids := map[string]bool{}
	for i, p := range in {
		if p.ID == "" {
			return nil, nil, nil, fmt.Errorf("curate: prompt %d has no id", i)
		}
		if ids[p.ID] {
			return nil, nil, nil, fmt.Errorf("curate: prompt id %q appears twice", p.ID)
		}
		ids[p.ID] = true
	}
	removed := []ContaminationHit{}
	out := in
	if dedup || len(exclude) > 0 {
		var seen []Text
		for _, e := range exclude {
			e.Source = "exclude:" + e.Source
			seen = append(seen, e)
		}
		if dedup {
			out, removed = DedupTexts(in, seen, opt)
		} else {
			ix := NewEvalIndex(seen, opt)
			out = nil
			for _, p := range in {
				if h, ok := ix.Match(p); ok {
					removed = append(removed, h)
					continue
				}
				out = append(out, p)
			}
		}
	}
	var rep *ContaminationReport
	if len(eval) > 0 {
		r := CheckContamination(out, eval, opt)
		rep = &r
		if drop && r.Flagged() {
			bad := map[string]bool{}
			for _, h := range r.Hits {
				bad[h.PromptID] = true
				h.EvalSource = "contaminated:" + h.EvalSource
				removed = append(removed, h)
			}
			var kept []Text
			for _, p := range out {
				if !bad[p.ID] {
					kept = append(kept, p)
				}
			}
			out = kept
		}
	}
	return out, removed, rep, nil
}
