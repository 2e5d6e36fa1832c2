package model

// Resident quantized weights (LowMemory): the seven projections of each block stay in their GGUF
// encoding (any type kernels.Dequantize reads: F16, BF16, Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, or F32 as is), and every product with them
// is kernels.SgemmQ, which decodes the weight into the SGEMM's packed panels as it packs them:
// no float32 copy of a weight and no separate decode pass. The decoded values are the ones the
// dense path holds and SgemmQ keeps Sgemm's blocking and sums, so the forward and the backward
// input gradient are bit-identical to the dense path's.

import (
	"fmt"
	"os"
	"strings"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// qweight is a weight kept in its GGUF encoding: rows × cols, rowBytes bytes per row.
type qweight struct {
	typ      ggmlType
	raw      []byte
	rowBytes int
	mat      *kernels.QMatrix // raw as SgemmQ's operand
	mem      *offHeap         // raw's memory, outside the Go heap (offheap_unix.go); nil when raw is a Go slice
}

// newQweight wraps the encoded rows×cols weight raw.
func newQweight(typ ggmlType, raw []byte, rows, cols int) (*qweight, error) {
	mat, err := kernels.NewQMatrix(typ, raw, rows, cols)
	if err != nil {
		return nil, err
	}
	return &qweight{typ: typ, raw: raw, rowBytes: len(raw) / rows, mat: mat}, nil
}

// residentEncoded reports whether Load keeps a projection stored as kind in its encoding:
// always with LowMemory; by default when kind is not F32 (a quantized or half-precision file),
// unless Dense asks for float32 or Full trains every weight (an encoded weight cannot be
// updated).
func residentEncoded(opt LoadOptions, kind uint32) bool {
	return opt.LowMemory || (!opt.Dense && !opt.Full && ggmlType(kind) != kernels.TypeF32)
}

// lowMemoryName reports whether a tensor is one of the block projections LowMemory keeps
// encoded (embeddings, norms, biases and the output head stay float32).
func lowMemoryName(name string) bool {
	if !strings.HasPrefix(name, "blk.") || !strings.HasSuffix(name, ".weight") {
		return false
	}
	for _, s := range []string{".attn_q.", ".attn_k.", ".attn_v.", ".attn_output.", ".ffn_gate.", ".ffn_up.", ".ffn_down."} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// readTensorRaw reads a 2-D tensor without dequantizing it.
func readTensorRaw(f *os.File, base int64, t *ggml.Tensor, shape [2]int) (*Param, *qweight, error) {
	if err := checkTensor(t, shape, true); err != nil {
		return nil, nil, err
	}
	typ := ggmlType(t.Kind)
	mem, err := newOffHeap(int(t.Size()))
	if err != nil {
		return nil, nil, fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	raw := mem.b
	if _, err := f.ReadAt(raw, base+int64(t.Offset)); err != nil {
		mem.free()
		return nil, nil, fmt.Errorf("tensor %s: read %d bytes: %w", t.Name, len(raw), err)
	}
	if len(raw)%shape[0] != 0 {
		mem.free()
		return nil, nil, fmt.Errorf("tensor %s: %d bytes not a whole number of %d rows", t.Name, len(raw), shape[0])
	}
	// NewQMatrix checks that a row decodes on its own (the block size divides the row).
	q, err := newQweight(typ, raw, shape[0], shape[1])
	if err != nil {
		mem.free()
		return nil, nil, fmt.Errorf("tensor %s: rows cannot be dequantized one by one: %w", t.Name, err)
	}
	q.mem = mem
	return &Param{Name: t.Name, Shape: []int{shape[0], shape[1]}}, q, nil
}

// rows dequantizes rows [r0, r1) of l's weight into dst [(r1-r0)·in].
func (l *linear) rows(dst []float32, r0, r1 int) []float32 {
	if l.q == nil {
		return l.w.Data[r0*l.in : r1*l.in]
	}
	dst = dst[:(r1-r0)*l.in]
	if err := dequantize(l.q.typ, dst, l.q.raw[r0*l.q.rowBytes:r1*l.q.rowBytes]); err != nil {
		panic(fmt.Sprintf("model: dequantize %s rows %d-%d: %v", l.w.Name, r0, r1, err)) // checked at load
	}
	return dst
}

// weightF32 returns l's whole weight as float32 (a fresh copy when LowMemory).
func (l *linear) weightF32() []float32 {
	if l.q == nil {
		return l.w.Data
	}
	return l.rows(make([]float32, l.out*l.in), 0, l.out)
}

// lowMemForward computes y = x·Wᵀ from the encoded weight (kernels.SgemmQ).
func (m *Model) lowMemForward(l *linear, y, x []float32, T int) {
	kernels.SgemmQ(m.threads, true, T, l.out, l.in, 1, x, l.in, l.q.mat, 0, y, l.out)
}

// lowMemBackward computes dx = dy·W (+ beta·dx) from the encoded weight.
func (m *Model) lowMemBackward(l *linear, dx, dy []float32, T int, beta float32) {
	kernels.SgemmQ(m.threads, false, T, l.in, l.out, 1, dy, l.out, l.q.mat, beta, dx, l.in)
}

// WeightBytes reports the bytes held by the model's weights: float32 tensors at 4 bytes an
// element plus the encoded bytes of the projections LowMemory keeps quantized.
func (m *Model) WeightBytes() int64 {
	var n int64
	add := func(p *Param) {
		if p != nil {
			n += 4 * int64(len(p.Data))
		}
	}
	add(m.embed)
	add(m.output)
	for _, q := range []*qweight{m.embedQ, m.outputQ} {
		if q != nil {
			n += int64(len(q.raw))
		}
	}
	add(m.outNorm)
	for i := range m.blocks {
		b := &m.blocks[i]
		add(b.attnNorm)
		add(b.ffnNorm)
		add(b.postAttnNorm)
		add(b.postFFNNorm)
		add(b.qNorm)
		add(b.kNorm)
		for _, l := range b.linears() {
			add(l.w)
			add(l.b)
			if l.q != nil {
				n += int64(len(l.q.raw))
			}
		}
	}
	return n
}

// encodeRandom is NewRandom's LowMemory: the weight p (its shape; p.Data stays nil) is encoded
// as typ (0: Q8_0) from the values fill writes, a few rows at a time in row order, so that no
// float32 copy of the whole weight exists. Where a row is not whole blocks of typ (Q4_K rows of
// 896) it falls back as llama.cpp's quantizer does to a 32-block type, Q8_0 here, then F16. The
// model then computes with the rounded weights.
func encodeRandom(p *Param, typ kernels.GGMLType, fill func(dst []float32)) (*qweight, error) {
	if typ == kernels.TypeF32 {
		typ = kernels.TypeQ8_0
	}
	if !RandomEncodable(typ) {
		return nil, fmt.Errorf("encode %s: random weights cannot be encoded as %s (F16, BF16, Q8_0, Q4_K)", p.Name, typ)
	}
	rows, cols := p.Shape[0], p.Shape[1]
	for _, t := range []kernels.GGMLType{typ, kernels.TypeQ8_0, kernels.TypeF16} {
		if elems, _ := kernels.BlockSize(t); cols%elems == 0 {
			typ = t
			break
		}
	}
	elems, bytes := kernels.BlockSize(typ)
	rowBytes := cols / elems * bytes
	mem, err := newOffHeap(rows * rowBytes)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", p.Name, err)
	}
	raw := mem.b
	const chunk = 64 // rows encoded at a time
	buf := make([]float32, min(chunk, rows)*cols)
	for r0 := 0; r0 < rows; r0 += chunk {
		n := min(chunk, rows-r0)
		src, dst := buf[:n*cols], raw[r0*rowBytes:(r0+n)*rowBytes]
		fill(src)
		if err := encodeValues(typ, dst, src); err != nil {
			mem.free()
			return nil, fmt.Errorf("encode %s: %w", p.Name, err)
		}
	}
	q, err := newQweight(typ, raw, rows, cols)
	if err != nil {
		mem.free()
		return nil, err
	}
	q.mem = mem
	return q, nil
}

// RandomEncodable reports whether NewRandom can keep random projections resident as typ
// (LoadOptions.RandomType): an encoding align writes (encodable) other than F32.
func RandomEncodable(typ kernels.GGMLType) bool {
	return typ != kernels.TypeF32 && encodable(typ)
}
