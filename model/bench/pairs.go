package bench

import (
	"fmt"
	"math"
	"os"
	"syscall"
	"time"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/kernels"
	"github.com/alignkit/align/model"
)

// PairsOptions configures PairsBench, the prompt-sharing measurement (`align bench train
// --pairs`).
type PairsOptions struct {
	Data    string // preference pairs (HH harmless-base by default)
	Stories string // the GGUF whose tokenizer and chat template encode the pairs
	Shape   Shape  // the model timed (its vocabulary must cover the tokenizer's ids)
	Mode    string // lora or full
	Pairs   int    // pairs measured (the first that fit MaxLen)
	Batch   int    // pairs per step
	MaxLen  int    // longest sequence (prompt + response tokens) a pair may have
	Iters   int    // passes over the pairs per variant, after one warm-up pass
}

// PairsResult is one line of `align bench train --pairs --json`.
type PairsResult struct {
	Model string `json:"model"`
	Mode  string `json:"mode"`
	Data  string `json:"data"`
	Pairs int    `json:"pairs"`
	Batch int    `json:"batch"`
	// Mean prompt and response lengths (tokens), and the rows each variant packs per pass.
	MeanPromptTokens   float64 `json:"mean_prompt_tokens"`
	MeanResponseTokens float64 `json:"mean_response_tokens"`
	RowsUnshared       int     `json:"rows_unshared"`
	RowsShared         int     `json:"rows_shared"`
	// Pairs per second of a DPO step (reference log-probs, then the policy's forward and
	// backward) with the prompt computed per sequence and once per pair, and their ratio.
	UnsharedPairsPerS float64 `json:"unshared_pairs_per_s"`
	SharedPairsPerS   float64 `json:"shared_pairs_per_s"`
	Ratio             float64 `json:"ratio"`
	// The same per second of process CPU time (user + system, both threads): the work each
	// variant does, which a loaded machine's scheduling disturbs less than the wall clock.
	UnsharedPairsPerCPUS float64 `json:"unshared_pairs_per_cpu_s"`
	SharedPairsPerCPUS   float64 `json:"shared_pairs_per_cpu_s"`
	CPURatio             float64 `json:"cpu_ratio"`
	// MaxLogProbDiff is the largest |shared − unshared| policy log-prob of the measured tokens.
	MaxLogProbDiff float64 `json:"max_logprob_diff"`
	Threads        int     `json:"threads"`
}

// pairSeqs encodes the first n pairs of path whose chosen and rejected sequences fit maxLen
// tokens, as (chosen, rejected) sequences, with the tokenizer and chat template of tok.
func pairSeqs(path string, tok *model.Model, n, maxLen, vocab int) ([][2]model.Sequence, error) {
	pairs, err := data.ReadPairs(path, data.Options{SkipInvalid: true})
	if err != nil {
		return nil, fmt.Errorf("bench pairs: %w", err)
	}
	var out [][2]model.Sequence
	for _, p := range pairs {
		if len(out) == n {
			break
		}
		w, err := tok.Encode(p.Prompt, p.Chosen)
		if err != nil {
			return nil, fmt.Errorf("bench pairs: %s: %w", p.ID, err)
		}
		l, err := tok.Encode(p.Prompt, p.Rejected)
		if err != nil {
			return nil, fmt.Errorf("bench pairs: %s: %w", p.ID, err)
		}
		if len(w.Tokens) > maxLen || len(l.Tokens) > maxLen {
			continue
		}
		for _, s := range []model.Sequence{w, l} {
			for j, t := range s.Tokens {
				if int(t) >= vocab {
					return nil, fmt.Errorf("bench pairs: %s token %d: id %d outside the timed model's vocabulary %d", p.ID, j, t, vocab)
				}
			}
		}
		out = append(out, [2]model.Sequence{w, l})
	}
	if len(out) < n {
		return nil, fmt.Errorf("bench pairs: %s: only %d pairs fit %d tokens, want %d", path, len(out), maxLen, n)
	}
	return out, nil
}

// PairsBench times a DPO step on real preference pairs with prompt sharing off and on, on the
// same model, pairs and batches, the two variants interleaved batch by batch (so that a load
// change on the machine hits both alike). Each step scores the batch under a frozen reference
// (LogProbs) and runs the policy's Forward and Backward, its sequences in train's order (every
// chosen, then every rejected).
func PairsBench(o PairsOptions) (PairsResult, error) {
	if o.Pairs <= 0 || o.Batch <= 0 || o.Iters <= 0 {
		return PairsResult{}, fmt.Errorf("bench pairs: pairs %d, batch %d, iters %d: want each above 0", o.Pairs, o.Batch, o.Iters)
	}
	if _, err := os.Stat(o.Stories); err != nil {
		return PairsResult{}, fmt.Errorf("bench pairs: the tokenizer GGUF: %w", err)
	}
	tok, err := model.Load(o.Stories, model.LoadOptions{})
	if err != nil {
		return PairsResult{}, fmt.Errorf("bench pairs: %w", err)
	}
	policy, err := build(o.Shape, o.Mode, kernels.TypeQ8_0)
	if err != nil {
		return PairsResult{}, fmt.Errorf("bench pairs: %w", err)
	}
	ref, err := build(o.Shape, "forward", kernels.TypeQ8_0)
	if err != nil {
		return PairsResult{}, fmt.Errorf("bench pairs: %w", err)
	}
	ps, err := pairSeqs(o.Data, tok, o.Pairs, o.MaxLen, policy.Config().Vocab)
	if err != nil {
		return PairsResult{}, err
	}
	r := PairsResult{Model: o.Shape.Name, Mode: o.Mode, Data: o.Data, Pairs: o.Pairs, Batch: o.Batch, Threads: policy.Threads()}
	var batches [][]model.Sequence
	for b := 0; b < len(ps); b += o.Batch {
		var w, l []model.Sequence
		for _, p := range ps[b:min(b+o.Batch, len(ps))] {
			w, l = append(w, p[0]), append(l, p[1])
			for _, s := range p {
				P := promptTokens(s)
				r.MeanPromptTokens += float64(P) / float64(2*len(ps))
				r.MeanResponseTokens += float64(len(s.Tokens)-P) / float64(2*len(ps))
			}
		}
		seqs := append(w, l...)
		for v, n := range []*int{&r.RowsUnshared, &r.RowsShared} {
			rows, err := policy.PackedRows(seqs, v == 1)
			if err != nil {
				return r, fmt.Errorf("bench pairs: %w", err)
			}
			*n += rows
		}
		batches = append(batches, seqs)
	}
	lps := make([][][][]float32, 2) // [variant][batch] policy log-probs
	step := func(share bool, seqs []model.Sequence, keep *[][][]float32) error {
		ref.SetSharedPrompts(share)
		policy.SetSharedPrompts(share)
		if _, err := ref.LogProbs(seqs); err != nil {
			return err
		}
		p, err := policy.Forward(seqs)
		if err != nil {
			return err
		}
		grad := make([][]float32, len(p.LogProbs))
		for i, lp := range p.LogProbs {
			grad[i] = make([]float32, len(lp))
			for j := range grad[i] {
				grad[i][j] = 1 / float32(len(lp))
			}
		}
		if keep != nil {
			*keep = append(*keep, p.LogProbs)
		}
		return p.Backward(grad)
	}
	var spent, cpu [2]time.Duration
	for it := -1; it < o.Iters; it++ { // it = −1: the warm-up pass, untimed
		for bi, seqs := range batches {
			order := [2]int{0, 1} // 0 unshared, 1 shared; which runs first alternates
			if (it+bi+2)%2 == 1 {
				order = [2]int{1, 0}
			}
			for _, v := range order {
				var keep *[][][]float32
				if it == -1 {
					keep = &lps[v]
				}
				t0, c0 := time.Now(), processCPU()
				if err := step(v == 1, seqs, keep); err != nil {
					return r, fmt.Errorf("bench pairs: %w", err)
				}
				if it >= 0 {
					spent[v] += time.Since(t0)
					cpu[v] += processCPU() - c0
				}
			}
		}
	}
	n := float64(len(ps) * o.Iters)
	r.UnsharedPairsPerS, r.SharedPairsPerS = n/spent[0].Seconds(), n/spent[1].Seconds()
	r.Ratio = r.SharedPairsPerS / r.UnsharedPairsPerS
	r.UnsharedPairsPerCPUS, r.SharedPairsPerCPUS = n/cpu[0].Seconds(), n/cpu[1].Seconds()
	r.CPURatio = r.SharedPairsPerCPUS / r.UnsharedPairsPerCPUS
	for b := range lps[0] {
		for i := range lps[0][b] {
			for j := range lps[0][b][i] {
				r.MaxLogProbDiff = max(r.MaxLogProbDiff, math.Abs(float64(lps[0][b][i][j]-lps[1][b][i][j])))
			}
		}
	}
	return r, nil
}

// promptTokens is the number of tokens before s's first masked one.
func promptTokens(s model.Sequence) int {
	for i, m := range s.Mask {
		if m {
			return i
		}
	}
	return len(s.Tokens)
}

// processCPU is this process's user + system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
