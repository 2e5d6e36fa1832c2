package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// RewardHead is a scalar reward head, HF's sequence-classification "score" layer with one
// label: a linear map without bias from the hidden state of a sequence's last token (the
// final RMSNorm's output, the LM head's input) to the sequence's reward, r = w·h. The
// sequence is the prompt and response as rendered for training, so its last token is the
// response's last (its end-of-turn token when the template has one). The head is a Param
// (name "score.weight", PEFT's name for it) so that the optimizer trains it beside the LoRA
// or full weights.
type RewardHead struct {
	W *Param // [Dim]
}

// NewRewardHead makes a head for dim-sized hidden states with weights drawn from N(0, 0.02²),
// HF's initializer_range default for the score layer, from seed.
func NewRewardHead(dim int, seed uint64) *RewardHead {
	rng := rand.New(rand.NewPCG(seed, 0x5c0e))
	w := make([]float32, dim)
	for i := range w {
		w[i] = float32(0.02 * rng.NormFloat64())
	}
	return &RewardHead{W: &Param{Name: "score.weight", Data: w, Grad: make([]float32, dim), Shape: []int{1, dim}}}
}

// RewardPass is a forward pass through the model and the reward head, kept for Backward.
type RewardPass struct {
	// Rewards holds one reward per sequence.
	Rewards []float32
	// Hidden holds each sequence's pooled hidden state h (its last token's final-norm output),
	// [Dim] each, a copy.
	Hidden [][]float32

	pass *Pass
	head *RewardHead
	rows []int // the packed row of each sequence's last token
}

// rewardSeqs copies the sequences with no token scored by the LM head: the reward needs only
// the hidden states, and the LM head's vocabulary-wide pass would be wasted.
func rewardSeqs(seqs []Sequence) []Sequence {
	out := make([]Sequence, len(seqs))
	for i, s := range seqs {
		out[i] = Sequence{Tokens: s.Tokens, Mask: make([]bool, len(s.Tokens))}
	}
	return out
}

func (m *Model) reward(seqs []Sequence, head *RewardHead, keep bool) (*RewardPass, error) {
	if head == nil || head.W == nil || len(head.W.Data) != m.cfg.Dim {
		return nil, fmt.Errorf("model: reward: the head must hold %d weights (the model's hidden size)", m.cfg.Dim)
	}
	if m.opt.F16KV {
		return nil, errors.New("model: reward: a model loaded with F16KV scores log-probs only")
	}
	p, err := m.run(rewardSeqs(seqs), keep)
	if err != nil {
		return nil, err
	}
	D := m.cfg.Dim
	rp := &RewardPass{pass: p, head: head, Rewards: make([]float32, len(seqs)), Hidden: make([][]float32, len(seqs))}
	for i, row := range p.last {
		h := append([]float32(nil), p.xnF[row*D:(row+1)*D]...)
		rp.rows = append(rp.rows, row)
		rp.Hidden[i] = h
		rp.Rewards[i] = dot(head.W.Data, h)
	}
	return rp, nil
}

// Rewards returns one reward per sequence (a forward pass only).
func (m *Model) Rewards(seqs []Sequence, head *RewardHead) ([]float32, error) {
	rp, err := m.reward(seqs, head, false)
	if err != nil {
		return nil, err
	}
	return rp.Rewards, nil
}

// RewardForward runs the forward pass through the model and the head and keeps what Backward
// needs. Sequence masks are ignored: the reward reads the last token.
func (m *Model) RewardForward(seqs []Sequence, head *RewardHead) (*RewardPass, error) {
	return m.reward(seqs, head, true)
}

// Backward takes dLoss/dReward per sequence and accumulates the head's gradient (dr·h) and,
// through the pooled hidden state (dL/dh = dr·w), the trainable parameters' gradients. It may
// be called once per pass.
func (rp *RewardPass) Backward(dr []float32) error {
	p := rp.pass
	switch {
	case p.used:
		return errors.New("model: reward backward: called twice on one pass")
	case p.xs == nil:
		return errors.New("model: reward backward: pass has no activations (use RewardForward, not Rewards)")
	case len(dr) != len(rp.rows):
		return fmt.Errorf("model: reward backward: %d gradients for %d sequences", len(dr), len(rp.rows))
	}
	p.used = true
	D := p.m.cfg.Dim
	w := rp.head.W
	dxn := make([]float32, p.T*D)
	for i, row := range rp.rows {
		if w.Grad != nil {
			axpy(dr[i], rp.Hidden[i], w.Grad)
		}
		axpy(dr[i], w.Data, dxn[row*D:(row+1)*D])
	}
	p.backwardHidden(dxn)
	return nil
}
