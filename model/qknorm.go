package model

// QK-norm (Config.QKNorm; qwen3, gemma3): y = RMSNorm(x_head)·w for every head of q and k, over
// the head's HeadDim values, after the projection and before RoPE. q is [T, H·hd], so its heads
// are T·H contiguous rows of hd and the norm is the model's RMSNorm kernel over those rows.

// qkNormAct is what one of the two norms keeps for backward.
type qkNormAct struct {
	x    []float32 // the projection's output, before the norm [T·heads·hd]
	rstd []float32 // 1/rms per head row [T·heads]
	dx   []float32 // backward scratch: the gradient at the projection's output
}

// qkNormActs holds the q and k norms' activations of one block.
type qkNormActs struct{ q, k qkNormAct }

// qkNormIn returns where the projection writes: out itself without QK-norm, else the norm's
// input buffer (n floats), which qkNormForward then normalises into out.
func (m *Model) qkNormIn(a *qkNormAct, out []float32, n int) []float32 {
	if !m.cfg.QKNorm {
		return out
	}
	a.x = grow(a.x, n)
	return a.x
}

// qkNormForward normalises the rows rows of a.x (HeadDim each) into out with weight w; a no-op
// without QK-norm.
func (m *Model) qkNormForward(w *Param, a *qkNormAct, out []float32, rows int) {
	if !m.cfg.QKNorm {
		return
	}
	hd := m.cfg.HeadDim
	a.rstd = grow(a.rstd, rows)
	rmsnormForward(out[:rows*hd], a.rstd, a.x[:rows*hd], w.Data, rows, hd, m.cfg.Eps)
}

// qkNormBackward takes dy, the gradient at the norm's output (rows × HeadDim), accumulates w's
// gradient (when trained) and returns the gradient at its input; dy itself without QK-norm.
func (m *Model) qkNormBackward(w *Param, a *qkNormAct, dy []float32, rows int) []float32 {
	if !m.cfg.QKNorm {
		return dy
	}
	hd := m.cfg.HeadDim
	a.dx = grow(a.dx, rows*hd)
	rmsnormBackwardW(a.dx, w.Grad, dy[:rows*hd], a.x[:rows*hd], w.Data, a.rstd[:rows], rows, hd)
	return a.dx
}
