package data

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/alignkit/align/objectives"
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

// RankedPairs turns one ranked record into preference pairs with objectives.CurryPairs
// (OBJECTIVES.md §4): scheme "best_vs_rest" pairs the top-scored response with each strictly
// lower-scored one, "all_pairs" every (i, j) with score_i > score_j; equal scores give no pair.
// The pairs come easy first: by descending score gap, ties broken by the chosen response's rank,
// then the rejected one's. Each pair's Meta gains "stage" (its 1-based place in that order, the
// Curry-DPO stage), "chosen_model" and "rejected_model" when known; its ID is "<id>/<stage>".
func RankedPairs(r Ranked, scheme string) ([]Pair, error) {
	scores := make([]float64, len(r.Responses))
	for i, x := range r.Responses {
		scores[i] = x.Score
	}
	idx, err := objectives.CurryPairs(scores, scheme, "score_gap", 0)
	if err != nil {
		return nil, fmt.Errorf("data: pairs for %s: %w", r.ID, err)
	}
	out := make([]Pair, len(idx))
	for k, pi := range idx {
		w, l := r.Responses[pi.W], r.Responses[pi.L]
		sw, sl := w.Score, l.Score
		meta := map[string]string{}
		for mk, mv := range r.Meta {
			meta[mk] = mv
		}
		meta["stage"] = strconv.Itoa(k + 1)
		if w.Model != "" {
			meta["chosen_model"] = w.Model
		}
		if l.Model != "" {
			meta["rejected_model"] = l.Model
		}
		out[k] = Pair{ID: r.ID + "/" + strconv.Itoa(k+1), Prompt: r.Prompt, Chosen: w.Messages, Rejected: l.Messages,
			ScoreChosen: &sw, ScoreRejected: &sl, Meta: meta}
	}
	return out, nil
}

// PairsResult counts what MakePairs did.
type PairsResult struct {
	Prompts     int    `json:"prompts"`
	Pairs       int    `json:"pairs"`
	Stages      int    `json:"stages"`       // the most pairs any prompt gave
	NoPairs     int    `json:"no_pairs"`     // prompts whose responses all tie
	StageCounts []int  `json:"stage_counts"` // pairs per stage
	Report      Report `json:"report"`
}

// MakePairs reads a ranked file, builds each prompt's pairs with RankedPairs, and writes them
// stage by stage: every prompt's easiest pair (stage 1) in file order, then every prompt's
// stage-2 pair, and so on, which is Curry-DPO's curriculum order. It holds the pairs in memory
// until written (ranked files are small: a pair per response).
func MakePairs(in, out, scheme string, opt Options) (PairsResult, error) {
	var res PairsResult
	r, err := Open(in, opt)
	if err != nil {
		return res, err
	}
	defer r.Close()
	if r.Kind() != KindRanked {
		return res, fmt.Errorf("data: pairs: %s holds %s records (%s); pairs need ranked data (a prompt with scored responses)", r.file, r.Kind(), r.Format().Layout)
	}
	var stages [][]Pair
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Report = r.Report()
			return res, err
		}
		pairs, err := RankedPairs(*rec.Ranked, scheme)
		if err != nil {
			return res, err
		}
		res.Prompts++
		if len(pairs) == 0 {
			res.NoPairs++
		}
		for k, p := range pairs {
			if k == len(stages) {
				stages = append(stages, nil)
			}
			stages[k] = append(stages[k], p)
		}
	}
	w, err := Create(out, KindPairwise)
	if err != nil {
		return res, err
	}
	for _, st := range stages {
		for _, p := range st {
			if err := w.WritePair(p); err != nil {
				w.Abort()
				return res, err
			}
		}
		res.StageCounts = append(res.StageCounts, len(st))
	}
	if err := w.Close(); err != nil {
		return res, err
	}
	res.Pairs, res.Stages, res.Report = w.Rows(), len(stages), r.Report()
	return res, nil
}
