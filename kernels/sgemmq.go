package kernels

import "fmt"

// QMatrix is a rows×cols row-major matrix kept in its GGUF encoding (any type Dequantize
// converts): each row is a whole number of the type's blocks. SgemmQ multiplies by it without a
// float32 copy: the SGEMM packing decodes the slice of rows it packs, straight into the
// micro-kernel's panels.
type QMatrix struct {
	typ              GGMLType
	data             []byte
	rows, cols       int
	rowBytes, blockN int
	blockBytes       int
}

// NewQMatrix wraps data, rows×cols values of type t (not copied; it must not change while in
// use). It checks that every row is whole blocks and that the first row decodes.
func NewQMatrix(t GGMLType, data []byte, rows, cols int) (*QMatrix, error) {
	elems, bytes := BlockSize(t)
	if elems == 0 {
		return nil, fmt.Errorf("kernels: QMatrix: unsupported ggml type %s", t)
	}
	if rows <= 0 || cols <= 0 || cols%elems != 0 {
		return nil, fmt.Errorf("kernels: QMatrix %s: %d×%d: rows must be whole blocks of %d", t, rows, cols, elems)
	}
	rb := cols / elems * bytes
	if len(data) != rows*rb {
		return nil, fmt.Errorf("kernels: QMatrix %s: %d×%d needs %d bytes, have %d", t, rows, cols, rows*rb, len(data))
	}
	if err := Dequantize(t, make([]float32, cols), data[:rb]); err != nil {
		return nil, fmt.Errorf("kernels: QMatrix: %w", err)
	}
	return &QMatrix{typ: t, data: data, rows: rows, cols: cols, rowBytes: rb, blockN: elems, blockBytes: bytes}, nil
}

// Type, Rows, Cols and Bytes describe the matrix.
func (q *QMatrix) Type() GGMLType { return q.typ }
func (q *QMatrix) Rows() int      { return q.rows }
func (q *QMatrix) Cols() int      { return q.cols }
func (q *QMatrix) Bytes() int     { return len(q.data) }

// DecodeRows writes rows [r0, r1) as float32 into dst [(r1-r0)·cols] (the values SgemmQ
// multiplies by).
func (q *QMatrix) DecodeRows(dst []float32, r0, r1 int) {
	q.decode(active, dst[:(r1-r0)*q.cols], r0, 0, q.cols*(r1-r0), nil)
}

// decode writes the values [c0, c1) of row r (c1 may run past the row into the next ones when
// c0 = 0 and c1 a multiple of cols) into dst, decoding the whole blocks that cover them through
// tmp (at least c1-c0 + 2·blockN floats) when c0 or c1 is not on a block boundary.
func (q *QMatrix) decode(im *impl, dst []float32, r, c0, c1 int, tmp []float32) {
	b0 := c0 / q.blockN * q.blockN
	b1 := roundUp(c1, q.blockN)
	src := q.data[r*q.rowBytes+b0/q.blockN*q.blockBytes:]
	out := dst[:c1-c0]
	if b0 != c0 || b1 != c1 {
		out = tmp[:b1-b0]
	}
	if err := dequantizeWith(im, q.typ, out, src); err != nil {
		panic(fmt.Sprintf("kernels: SgemmQ: %v", err)) // NewQMatrix checked the layout
	}
	if b0 != c0 || b1 != c1 {
		copy(dst[:c1-c0], tmp[c0-b0:c1-b0])
	}
}

// SgemmQ computes C = alpha·A·op(W) + beta·C for a float32 A (m×k, row stride lda) and an
// encoded W: op(W) = Wᵀ when transW (W is n×k, a weight applied as x·Wᵀ) or W (k×n). It is
// Sgemm on the decoded values, with the same blocking, partition and sums: the result is
// bit-identical to Sgemm on a float32 copy of W (DecodeRows), whatever the thread count.
func SgemmQ(threads int, transW bool, m, n, k int, alpha float32, a []float32, lda int,
	w *QMatrix, beta float32, c []float32, ldc int) {
	sgemmQWith(active, threads, transW, m, n, k, alpha, a, lda, w, beta, c, ldc)
}

func sgemmQWith(im *impl, threads int, transW bool, m, n, k int, alpha float32, a []float32, lda int,
	w *QMatrix, beta float32, c []float32, ldc int) {
	wr, wc := k, n
	if transW {
		wr, wc = n, k
	}
	if w.rows != wr || w.cols != wc {
		panic(fmt.Sprintf("kernels: SgemmQ: W is %d×%d, op(W) must be %d×%d (transW %v)", w.rows, w.cols, k, n, transW))
	}
	sgemmCheckAC(false, m, n, k, a, lda, c, ldc)
	sgemmRun(im, threads, false, transW, m, n, k, alpha, a, lda, nil, w, w.cols, beta, c, ldc)
}

// packBQ is packB for an encoded B (p.qb): the same panels, decoded on the way. tmp is scratch
// of at least qbScratch floats.
func (p *gemmProblem) packBQ(dst []float32, pc, jc, kc, nc int, tmp []float32) {
	g, q, nr := p.g, p.qb, p.g.nr
	if !p.transB {
		// op(B)[pp, j] = W[pc+pp, jc+j]: decode one row segment at a time (L1) and scatter it to
		// the panels, as packB copies the rows of a float32 B.
		row, cov := tmp[:nc], tmp[nc:]
		full := nc / nr
		for pp := 0; pp < kc; pp++ {
			q.decode(p.im, row, pc+pp, jc, jc+nc, cov)
			switch {
			case nr == 48 && full > 0:
				g.rows48(dst[pp*48:], kc, row, nc, 1, full)
			default:
				for c := 0; c < full; c++ {
					copy(dst[c*nr*kc+pp*nr:c*nr*kc+pp*nr+nr], row[c*nr:c*nr+nr])
				}
			}
			if w := nc - full*nr; w > 0 {
				d := dst[full*nr*kc+pp*nr : full*nr*kc+pp*nr+nr]
				copy(d[:w], row[full*nr:nc])
				clear(d[w:])
			}
		}
		return
	}
	// op(B)[pp, j] = W[jc+j, pc+pp]: decode groups of eight rows of W (8·kc floats, L1) and
	// transpose them into the panel as packB's gather does.
	grp, cov := tmp[:8*kc], tmp[8*kc:]
	n16 := kc &^ 15
	for c := 0; c < nc; c += nr {
		pan := dst[c*kc : (c+nr)*kc]
		w := min(nr, nc-c)
		for i0 := 0; i0 < w; i0 += 8 {
			h := min(8, w-i0)
			for i := 0; i < h; i++ {
				q.decode(p.im, grp[i*kc:(i+1)*kc], jc+c+i0+i, pc, pc+kc, cov)
			}
			p0 := 0
			if h == 8 && n16 > 0 {
				g.t8(pan[i0:], nr, grp, kc, n16)
				p0 = n16
			}
			for pp := p0; pp < kc; pp++ {
				d := pan[pp*nr+i0 : pp*nr+i0+h]
				for i := range d {
					d[i] = grp[i*kc+pp]
				}
			}
		}
		if w < nr {
			for pp := 0; pp < kc; pp++ {
				clear(pan[pp*nr+w : pp*nr+nr])
			}
		}
	}
}

// qbScratch is the scratch packBQ needs for a block of kc×nc.
func (p *gemmProblem) qbScratch(kc, nc int) int {
	return max(nc, 8*kc) + max(nc, kc) + 2*p.qb.blockN
}
