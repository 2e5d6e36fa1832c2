package model

// LowMemory: the seven projections of each block stay in their GGUF encoding (any type
// kernels.Dequantize reads: F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
// or F32 as is) and every product with them dequantizes a tile of
// output rows into a scratch buffer and multiplies that tile. The dequantized values are the
// ones the normal path holds, so the forward is bit-identical; the backward input gradient
// sums over the tiles in turn and matches to float32 rounding.

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// lowMemTileFloats is the default size of LowMemory's dequantization tile, in float32s: a tile
// is as many whole output rows as fit (a multiple of 16, at least 16). Narrow tiles cost SGEMM
// packing overhead: on the SmolLM2-135M shape (T=128, one thread, CPU time) a 1536×576 product
// took 4.6 ms in 64-row tiles, 3.0 ms in 512-row tiles, 2.5 ms dense (decoding alone: 0.7 ms).
const lowMemTileFloats = 1 << 19 // 2 MiB of scratch

// lowMemTileRows is the tile height for a weight with in columns.
func (m *Model) lowMemTileRows(in int) int {
	n := m.tileFloats
	if n <= 0 {
		n = lowMemTileFloats
	}
	return max(16, n/max(in, 1)/16*16)
}

// qweight is a weight kept in its GGUF encoding: rows × cols, rowBytes bytes per row.
type qweight struct {
	typ      ggmlType
	raw      []byte
	rowBytes int
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
	raw := make([]byte, t.Size())
	if _, err := f.ReadAt(raw, base+int64(t.Offset)); err != nil {
		return nil, nil, fmt.Errorf("tensor %s: read %d bytes: %w", t.Name, len(raw), err)
	}
	q := &qweight{typ: ggmlType(t.Kind), raw: raw, rowBytes: len(raw) / shape[0]}
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

// lowMemRowsPerTask is how many rows one goroutine dequantizes at a time within a tile.
const lowMemRowsPerTask = 8

// tileRows is l.rows with the tile's rows dequantized on m.threads goroutines, a few rows per
// task. Every row decodes on its own (checked at load) into its own part of dst, so the values
// do not depend on the thread count.
func (m *Model) tileRows(l *linear, dst []float32, r0, r1 int) []float32 {
	if l.q == nil || m.threads <= 1 || r1-r0 <= lowMemRowsPerTask {
		return l.rows(dst, r0, r1)
	}
	dst = dst[:(r1-r0)*l.in]
	n := (r1 - r0 + lowMemRowsPerTask - 1) / lowMemRowsPerTask
	parallelFor(m.threads, n, func(i int) {
		a := r0 + i*lowMemRowsPerTask
		b := min(a+lowMemRowsPerTask, r1)
		l.rows(dst[(a-r0)*l.in:(b-r0)*l.in], a, b)
	})
	return dst
}

// scratch returns the model's reusable tile buffer, at least n long.
func (m *Model) scratch(n int) []float32 {
	m.tile = grow(m.tile, n)
	return m.tile[:n]
}

// lowMemForward computes y = x·Wᵀ tile by tile from the encoded weight.
func (m *Model) lowMemForward(l *linear, y, x []float32, T int) {
	tile := min(m.lowMemTileRows(l.in), l.out)
	buf := m.scratch(tile * l.in)
	for r0 := 0; r0 < l.out; r0 += tile {
		r1 := min(r0+tile, l.out)
		w := m.tileRows(l, buf, r0, r1)
		sgemm(m.threads, false, true, T, r1-r0, l.in, 1, x, l.in, w, l.in, 0, y[r0:], l.out)
	}
}

// lowMemBackward computes dx = dy·W (+ beta·dx) tile by tile from the encoded weight.
func (m *Model) lowMemBackward(l *linear, dx, dy []float32, T int, beta float32) {
	tile := min(m.lowMemTileRows(l.in), l.out)
	buf := m.scratch(tile * l.in)
	for r0 := 0; r0 < l.out; r0 += tile {
		r1 := min(r0+tile, l.out)
		w := m.tileRows(l, buf, r0, r1)
		sgemm(m.threads, false, false, T, l.in, r1-r0, 1, dy[r0:], l.out, w, l.in, beta, dx, l.in)
		beta = 1
	}
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

// encodeRandom is NewRandom's LowMemory: a projection is encoded as Q8_0 (F16 where a row is
// not a multiple of 32) and its float32 copy dropped, so benchmarks can measure the mode on
// shapes without a GGUF. The model then computes with the rounded weights.
func encodeRandom(p *Param) (*qweight, error) {
	typ := kernels.TypeQ8_0
	if p.Shape[1]%32 != 0 {
		typ = kernels.TypeF16
	}
	var buf bytes.Buffer
	if _, err := (tensorWriter{data: p.Data, typ: typ}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode %s: %w", p.Name, err)
	}
	p.Data = nil
	return &qweight{typ: typ, raw: buf.Bytes(), rowBytes: buf.Len() / p.Shape[0]}, nil
}
