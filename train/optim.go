package train

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/alignkit/align/kernels"
	"github.com/alignkit/align/model"
)

// AdamW is the decoupled-weight-decay Adam optimizer (Loshchilov & Hutter 2019) over a fixed list
// of parameters, with one first- and second-moment buffer per parameter. The arithmetic is
// kernels.AdamW's.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// Steps is the number of updates taken (the bias correction uses Steps+1 for the next one).
	Steps int
	m, v  [][]float32
}

// NewAdamW allocates zeroed moment buffers shaped like params.
func NewAdamW(params []*model.Param, beta1, beta2, eps, weightDecay float64) *AdamW {
	o := &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay}
	for _, p := range params {
		o.m = append(o.m, make([]float32, len(p.Data)))
		o.v = append(o.v, make([]float32, len(p.Data)))
	}
	return o
}

// Step applies one update with learning rate lr to every parameter from its Grad.
func (o *AdamW) Step(params []*model.Param, lr float64) {
	o.Steps++
	for i, p := range params {
		kernels.AdamW(p.Data, p.Grad, o.m[i], o.v[i], float32(lr), float32(o.Beta1), float32(o.Beta2), float32(o.Eps), float32(o.WeightDecay), o.Steps)
	}
}

const adamMagic = "ALIGNADAMW1\n"

// Save writes the optimizer state: step count and both moment buffers, little-endian float32.
func (o *AdamW) Save(w io.Writer) error {
	if _, err := io.WriteString(w, adamMagic); err != nil {
		return err
	}
	hdr := []uint64{uint64(o.Steps), uint64(len(o.m))}
	if err := binary.Write(w, binary.LittleEndian, hdr); err != nil {
		return err
	}
	for i := range o.m {
		if err := binary.Write(w, binary.LittleEndian, uint64(len(o.m[i]))); err != nil {
			return err
		}
		if err := writeF32(w, o.m[i]); err != nil {
			return err
		}
		if err := writeF32(w, o.v[i]); err != nil {
			return err
		}
	}
	return nil
}

// Load restores the state written by Save; the buffer shapes must match.
func (o *AdamW) Load(r io.Reader) error {
	magic := make([]byte, len(adamMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != adamMagic {
		return fmt.Errorf("train: optimizer state: bad header")
	}
	var hdr [2]uint64
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return fmt.Errorf("train: optimizer state: %w", err)
	}
	if int(hdr[1]) != len(o.m) {
		return fmt.Errorf("train: optimizer state has %d tensors, the model %d", hdr[1], len(o.m))
	}
	o.Steps = int(hdr[0])
	for i := range o.m {
		var n uint64
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return fmt.Errorf("train: optimizer state: %w", err)
		}
		if int(n) != len(o.m[i]) {
			return fmt.Errorf("train: optimizer state tensor %d has %d values, want %d", i, n, len(o.m[i]))
		}
		if err := readF32(r, o.m[i]); err != nil {
			return err
		}
		if err := readF32(r, o.v[i]); err != nil {
			return err
		}
	}
	return nil
}

func writeF32(w io.Writer, x []float32) error {
	b := make([]byte, 4*len(x))
	for i, f := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	_, err := w.Write(b)
	return err
}

func readF32(r io.Reader, x []float32) error {
	b := make([]byte, 4*len(x))
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("train: read tensor: %w", err)
	}
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return nil
}

// GradNorm is the global L2 norm of all gradients, accumulated in float64 in parameter order
// (deterministic).
func GradNorm(params []*model.Param) float64 {
	var s float64
	for _, p := range params {
		for _, g := range p.Grad {
			s += float64(g) * float64(g)
		}
	}
	return math.Sqrt(s)
}

// ClipGradNorm scales all gradients so that their global norm is at most maxNorm, as
// torch.nn.utils.clip_grad_norm_ does (coefficient maxNorm/(norm+1e-6), only when below 1). It
// returns the norm before clipping. maxNorm <= 0 disables clipping.
func ClipGradNorm(params []*model.Param, maxNorm float64) float64 {
	norm := GradNorm(params)
	if maxNorm <= 0 {
		return norm
	}
	c := maxNorm / (norm + 1e-6)
	if c < 1 {
		for _, p := range params {
			kernels.Scale(float32(c), p.Grad)
		}
	}
	return norm
}
