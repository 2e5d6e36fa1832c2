package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
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

// GGUF keys of a reward model export (docs/training.md, "Reward models").
const (
	// RewardHeadKey names the head's tensor in a reward GGUF.
	RewardHeadKey = "align.reward.head"
	// RewardPoolingKey says which hidden state the head reads: "last" (the last token's).
	RewardPoolingKey = "align.reward.pooling"
	// RewardHeadTensor is the head tensor's name, HF's and PEFT's score.weight.
	RewardHeadTensor = "score.weight"
)

// WriteRewardGGUF writes the merged model (as WriteMergedGGUF) with the reward head added: a
// float32 tensor score.weight of GGUF shape [hidden, 1] (PyTorch's [1, hidden], HF's score
// layer) and the keys align.reward.head = "score.weight" and align.reward.pooling = "last".
// Runtimes that do not know the key (Ollama, llama.cpp) do not load the extra tensor.
func (m *Model) WriteRewardGGUF(w io.Writer, typ kernels.GGMLType, head *RewardHead) error {
	if head == nil || len(head.W.Data) != m.cfg.Dim {
		return fmt.Errorf("model: write reward GGUF: the head must hold %d weights", m.cfg.Dim)
	}
	t := &ggml.Tensor{Name: RewardHeadTensor, Kind: uint32(kernels.TypeF32), Shape: []uint64{uint64(m.cfg.Dim), 1},
		WriterTo: f32Tensor(kernels.TypeF32, head.W.Data)}
	kv := ggml.KV{RewardHeadKey: RewardHeadTensor, RewardPoolingKey: "last"}
	if err := m.writeMerged(w, typ, kv, []*ggml.Tensor{t}); err != nil {
		return fmt.Errorf("model: write reward GGUF: %w", err)
	}
	return nil
}

// WriteRewardPEFT writes the LoRA adapter as a PEFT sequence-classification adapter with the
// head: adapter_model.safetensors holds the LoRA tensors and base_model.model.score.weight
// ([1, hidden], float32); adapter_config.json has task_type SEQ_CLS and modules_to_save
// ["score"], so PeftModel.from_pretrained over AutoModelForSequenceClassification (num_labels
// 1) loads both.
func (m *Model) WriteRewardPEFT(dir string, head *RewardHead) error {
	if head == nil || len(head.W.Data) != m.cfg.Dim {
		return fmt.Errorf("model: write reward PEFT: the head must hold %d weights", m.cfg.Dim)
	}
	return m.writePEFT(dir, head)
}

// ReadRewardHead reads the head of a reward GGUF written by WriteRewardGGUF: the tensor the
// align.reward.head key names, float32, of the model's hidden size.
func ReadRewardHead(path string) (*RewardHead, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: reward head: %w", err)
	}
	defer f.Close()
	g, err := ggml.Decode(f, 0)
	if err != nil {
		return nil, fmt.Errorf("model: reward head: %s: %w", path, err)
	}
	name := g.KV().String(RewardHeadKey)
	if name == "" {
		return nil, fmt.Errorf("model: reward head: %s has no %s key: it is not a reward model (export one with align export RUN gguf:FILE from a reward run)", path, RewardHeadKey)
	}
	var ti *ggml.Tensor
	for _, t := range g.Tensors().Items() {
		if t.Name == name {
			ti = t
		}
	}
	if ti == nil {
		return nil, fmt.Errorf("model: reward head: %s: key %s names tensor %q, which the file lacks", path, RewardHeadKey, name)
	}
	if ti.Kind != uint32(kernels.TypeF32) {
		return nil, fmt.Errorf("model: reward head: %s: tensor %s is of type %d, want F32", path, name, ti.Kind)
	}
	n := int(ti.Elements())
	raw := make([]byte, 4*n)
	if _, err := f.ReadAt(raw, int64(g.Tensors().Offset+ti.Offset)); err != nil {
		return nil, fmt.Errorf("model: reward head: %s: tensor %s: %w", path, name, err)
	}
	w := make([]float32, n)
	for i := range w {
		w[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return &RewardHead{W: &Param{Name: RewardHeadTensor, Data: w, Grad: make([]float32, n), Shape: []int{1, n}}}, nil
}
