package model

import (
	"context"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/ollama/ollama/tokenizer"
)

// ServerGeneration is what a server's greedy generation with log-probs returned, as the
// parity checks (model tests and `align bench parity`) read it.
type ServerGeneration struct {
	// Prompt is the prompt as the runner tokenized it (BOS included).
	Prompt []int32
	// Context is the server's context (prompt then output, re-tokenized), nil when it sent
	// none (raw generations, Ollama's Go engine). It decides between ambiguous pieces.
	Context []int32
	// Pieces and LogProbs are the generated tokens' strings and log-probs, in order.
	Pieces   []string
	LogProbs []float64
	// EvalCount is the server's eval_count; Stopped is done_reason "stop".
	EvalCount int
	Stopped   bool
}

// ServerSequence rebuilds, from a server's greedy generation, the sequence align scores:
// g.Prompt unscored, then the generated tokens (masked), with the tokens whose log-probs the
// server dropped put back unscored (RestoreDropped). A generated piece that is no vocabulary
// entry is an error; a piece that several tokens spell (a byte token and a piece) is the one
// the context has there, else (no context) the one whose log-prob under m is closest to the
// server's. logf, when not nil, says what was restored.
func (m *Model) ServerSequence(g ServerGeneration, logf func(format string, args ...any)) (Sequence, error) {
	if len(g.Pieces) != len(g.LogProbs) {
		return Sequence{}, fmt.Errorf("model: server sequence: %d pieces, %d log-probs", len(g.Pieces), len(g.LogProbs))
	}
	byPiece := map[string][]int32{}
	for id := range m.vocab.Values {
		s := m.TokenString(int32(id))
		byPiece[s] = append(byPiece[s], int32(id))
	}
	toks := slices.Clone(g.Prompt)
	for i, p := range g.Pieces {
		ids := byPiece[p]
		switch {
		case len(ids) == 0:
			return Sequence{}, fmt.Errorf("model: server sequence: generated token %d %q is no vocabulary entry", i, p)
		case len(ids) > 1:
			j := len(toks)
			if j < len(g.Context) && slices.Contains(ids, g.Context[j]) {
				ids = []int32{g.Context[j]}
			} else if g.Context == nil {
				c, err := m.closestCandidate(toks, ids, g.LogProbs[i])
				if err != nil {
					return Sequence{}, err
				}
				ids = []int32{c}
			} else {
				ids = slices.DeleteFunc(slices.Clone(ids), func(id int32) bool { return m.vocab.Types[id] == tokenizer.TOKEN_TYPE_BYTE })
				if len(ids) != 1 {
					return Sequence{}, fmt.Errorf("model: server sequence: generated token %d %q is ambiguous: %v", i, p, byPiece[p])
				}
			}
		}
		toks = append(toks, ids[0])
	}
	seq := Sequence{Tokens: toks, Mask: make([]bool, len(toks))}
	for i := len(g.Prompt); i < len(toks); i++ {
		seq.Mask[i] = true
	}
	return m.RestoreDropped(seq, g.LogProbs, g.EvalCount, g.Stopped, logf)
}

// closestCandidate returns the candidate next token whose log-prob under m after prefix is
// closest to want.
func (m *Model) closestCandidate(prefix, cands []int32, want float64) (int32, error) {
	best, bestD := cands[0], math.Inf(1)
	for _, c := range cands {
		seq := Sequence{Tokens: append(slices.Clone(prefix), c), Mask: make([]bool, len(prefix)+1)}
		seq.Mask[len(prefix)] = true
		lp, err := m.LogProbs([]Sequence{seq})
		if err != nil {
			return 0, err
		}
		if d := math.Abs(float64(lp[0][0]) - want); d < bestD {
			best, bestD = c, d
		}
	}
	return best, nil
}

// RestoreDropped puts back the generated tokens whose log-probs the server never sent. Ollama
// v0.17.4's llama.cpp runner (runner/llamarunner flushPending) cuts trailing invalid UTF-8 off
// the pending text and, when nothing is left, sends nothing, the pending log-probs included:
// a token whose piece is not valid UTF-8 (a byte token such as <0xA0>) loses its log-prob, and
// so do the tokens held with it when it starts a multi-byte character that the next piece does
// not complete (<0xE9> then "ab": "\xe9ab" is trimmed to nothing), yet all stay in the
// runner's context, and every later log-prob is conditioned on them. evalCount (the server's
// eval_count) still counts them. Generation is greedy, so each dropped token is m's argmax at
// the first generated token whose log-prob under m disagrees with the server's (by more than
// 0.05 nats, far above the runners' agreement); it must differ from the reported token there
// and leave the dropped run's text invalid UTF-8, else RestoreDropped fails. It is kept in the
// context unscored, and everything after it is compared as usual.
func (m *Model) RestoreDropped(seq Sequence, lps []float64, evalCount int, stopped bool, logf func(format string, args ...any)) (Sequence, error) {
	missing := evalCount - len(lps)
	if stopped {
		missing-- // the end-of-generation token, which has no log-prob by design
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	run, runEnd := "", -1 // the text of the dropped run being restored, and where it ends
	for ; missing > 0; missing-- {
		got, err := m.LogProbs([]Sequence{seq})
		if err != nil {
			return seq, err
		}
		at, k := -1, 0
		for i, on := range seq.Mask {
			if !on {
				continue
			}
			if math.Abs(float64(got[0][k])-lps[k]) > 0.05 {
				at = i
				break
			}
			k++
		}
		if at < 0 {
			logf("%d generated token(s) without a log-prob at the end", missing)
			return seq, nil
		}
		next, err := m.Generate(context.Background(), seq.Tokens[:at], SampleOptions{MaxTokens: 1})
		if err != nil {
			return seq, err
		}
		if at != runEnd {
			run = ""
		}
		if len(next) != 1 || next[0] == seq.Tokens[at] || utf8.ValidString(run+m.TokenString(next[0])) {
			return seq, fmt.Errorf("model: the server sent %d log-probs for %d generated tokens, and generated token %d (log-prob %.4f, align %.4f) follows no greedy token that leaves invalid UTF-8 (greedy: %v, dropped run so far %q)",
				len(lps), evalCount, k, lps[k], got[0][k], next, run)
		}
		run, runEnd = run+m.TokenString(next[0]), at+1
		logf("restored the greedy %q (its log-prob dropped by the server) before generated token %d", m.vocab.Values[next[0]], k)
		seq.Tokens = slices.Insert(seq.Tokens, at, next[0])
		seq.Mask = slices.Insert(seq.Mask, at, false)
	}
	return seq, nil
}
