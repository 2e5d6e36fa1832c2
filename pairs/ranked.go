package pairs

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/objectives"
)

// RankedPairs turns one ranked record into preference pairs with objectives.CurryPairs
// (Curry-DPO, Pattnaik et al. 2024, arXiv 2403.07230; docs/objectives.md, "curry_dpo"): scheme
// "best_vs_rest" pairs the top-scored response with each strictly lower-scored one, "all_pairs"
// every (i, j) with score_i > score_j; equal scores give no pair. The pairs come easy first: by
// descending score gap, ties broken by the chosen response's rank, then the rejected one's. Each
// pair's Meta gains "stage" (its 1-based place in that order, the Curry-DPO stage),
// "chosen_model" and "rejected_model" when known; its ID is "<id>/<stage>".
func RankedPairs(r data.Ranked, scheme string) ([]data.Pair, error) {
	scores := make([]float64, len(r.Responses))
	for i, x := range r.Responses {
		scores[i] = x.Score
	}
	idx, err := objectives.CurryPairs(scores, scheme, "score_gap", 0)
	if err != nil {
		return nil, fmt.Errorf("pairs: pairs for %s: %w", r.ID, err)
	}
	out := make([]data.Pair, len(idx))
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
		out[k] = data.Pair{ID: r.ID + "/" + strconv.Itoa(k+1), Prompt: r.Prompt, Chosen: w.Messages, Rejected: l.Messages,
			ScoreChosen: &sw, ScoreRejected: &sl, Meta: meta}
	}
	return out, nil
}

// RankedResult counts what MakeRankedPairs did.
type RankedResult struct {
	Prompts     int         `json:"prompts"`
	Pairs       int         `json:"pairs"`
	Stages      int         `json:"stages"`       // the most pairs any prompt gave
	NoPairs     int         `json:"no_pairs"`     // prompts whose responses all tie
	StageCounts []int       `json:"stage_counts"` // pairs per stage
	Report      data.Report `json:"report"`
}

// MakeRankedPairs reads a ranked file, builds each prompt's pairs with RankedPairs, and writes
// them stage by stage: every prompt's easiest pair (stage 1) in file order, then every prompt's
// stage-2 pair, and so on, which is Curry-DPO's curriculum order. It holds the pairs in memory
// until written (ranked files are small: a pair per response). The file is read and written by
// the data package (data.Open, data.Create), so every container and layout it knows applies.
func MakeRankedPairs(in, out, scheme string, opt data.Options) (RankedResult, error) {
	var res RankedResult
	r, err := data.Open(in, opt)
	if err != nil {
		return res, err
	}
	defer r.Close()
	if r.Kind() != data.KindRanked {
		return res, fmt.Errorf("pairs: %s holds %s records (%s); pairs need ranked data (a prompt with scored responses)", filepath.Base(in), r.Kind(), r.Format().Layout)
	}
	var stages [][]data.Pair
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
	w, err := data.Create(out, data.KindPairwise)
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
