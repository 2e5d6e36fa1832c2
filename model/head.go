package model

// The token embedding and the LM head resident in their GGUF encoding. A quantized or
// half-precision file's token_embd.weight (and output.weight when the head is untied) is as
// large as several blocks at a real vocabulary (Qwen2.5's 151936 × 896 is 544 MB as float32, the
// largest tensor of the model), so where Load keeps the projections encoded (residentEncoded) it
// keeps these two encoded as well: the embedding lookup decodes one row per token, and the LM
// head's two products (the logits forward, the input gradient backward) are kernels.SgemmQ, which
// decodes the weight into Sgemm's packed panels. The decoded values are the ones Dense holds and
// SgemmQ keeps Sgemm's blocking and sums, so log-probs and gradients are bit-identical to the
// dense path's. Full fine-tuning trains these tensors and decodes them; so does F16KV (Ollama's
// runner re-enacted, which reads the head in its own layout), and an F32 file's tables stay as
// they are.

import "github.com/alignkit/align/kernels"

// tableName reports whether a tensor is the token embedding or the untied LM head.
func tableName(name string) bool { return name == "token_embd.weight" || name == "output.weight" }

// residentTable reports whether Load keeps a token_embd/output tensor stored as kind encoded.
func residentTable(opt LoadOptions, kind uint32) bool {
	return residentEncoded(opt, kind) && !opt.F16KV && ggmlType(kind) != kernels.TypeF32
}

// headQ returns the LM head's encoded weight, nil when it is float32.
func (m *Model) headQ() *qweight {
	if m.output != nil {
		return m.outputQ
	}
	return m.embedQ
}

// embedRow writes token id's embedding into dst [Dim].
func (m *Model) embedRow(dst []float32, id int) {
	D := m.cfg.Dim
	if m.embedQ != nil {
		m.embedQ.mat.DecodeRows(dst[:D], id, id+1)
		return
	}
	copy(dst[:D], m.embed.Data[id*D:(id+1)*D])
}

// headLogits computes logits [n, Vocab] = x [n, Dim] · Wᵀ through the LM head.
func (m *Model) headLogits(logits, x []float32, n int) {
	V, D := m.cfg.Vocab, m.cfg.Dim
	if q := m.headQ(); q != nil {
		if n > 0 {
			kernels.SgemmQ(m.threads, true, n, V, D, 1, x, D, q.mat, 0, logits, V)
		}
		return
	}
	sgemm(m.threads, false, true, n, V, D, 1, x, D, m.lmHead().Data, D, 0, logits, V)
}

// headInputGrad computes dx [n, Dim] = dlogits [n, Vocab] · W through the LM head.
func (m *Model) headInputGrad(dx, dlogits []float32, n int) {
	V, D := m.cfg.Vocab, m.cfg.Dim
	if q := m.headQ(); q != nil {
		if n > 0 {
			kernels.SgemmQ(m.threads, false, n, D, V, 1, dlogits, V, q.mat, 0, dx, D)
		}
		return
	}
	sgemm(m.threads, false, false, n, D, V, 1, dlogits, V, m.lmHead().Data, D, 0, dx, D)
}

// denseData returns p's values as float32: p.Data, or a fresh decode of its encoded table.
func (m *Model) denseData(p *Param) []float32 {
	var q *qweight
	switch {
	case p.Data != nil:
		return p.Data
	case p == m.embed:
		q = m.embedQ
	case p == m.output:
		q = m.outputQ
	}
	if q == nil {
		return nil
	}
	out := make([]float32, q.mat.Rows()*q.mat.Cols())
	q.mat.DecodeRows(out, 0, q.mat.Rows())
	return out
}
