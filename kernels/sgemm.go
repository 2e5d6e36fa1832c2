package kernels

import (
	"fmt"
	"runtime"
	"sync"
)

// gemmKernel is one ISA's SGEMM micro-kernel and its blocking. fn computes one full mr×nr tile
// of C from packed panels: C = alpha*(A·B) + beta*C, where a holds kc steps of mr values and b kc
// steps of nr values; beta == 0 does not read C.
type gemmKernel struct {
	mr, nr int
	// Cache blocking (see run): K slices of at most kc, A blocks of at most mc rows, B blocks of
	// at most nc columns and bBytes bytes (the L2 share they may take).
	kc, mc, nc, bBytes int
	fn                 func(kc int, a, b, c []float32, ldc int, alpha, beta float32)
	// t8 writes dst[c*ds+i] = src[i*ld+c] for i < 8, c < n (n a multiple of 16): eight rows
	// transposed, the gather step of packing (A panels of an untransposed A, B panels of a
	// transposed B).
	t8 func(dst []float32, ds int, src []float32, ld, n int)
	// rows48 writes dst[c*48*kc+p*48+j] = src[p*ld+c*48+j] (p < rows, c < panels, j < 48): rows
	// of an untransposed B copied into 48-wide panels (used when nr == 48).
	rows48 func(dst []float32, kc int, src []float32, ld, rows, panels int)
}

var genericGemmKernel = gemmKernel{mr: 4, nr: 4, kc: 256, mc: 1024, nc: 1024, bBytes: 1 << 20, fn: gemmKernel4x4Generic,
	t8: transpose8Generic, rows48: packRows48Generic}

// gemmKernel4x4Generic keeps the 16 accumulators in locals so the compiler can hold them in
// registers. Each C element is a plain sequential sum over p, as in the SIMD kernels.
func gemmKernel4x4Generic(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	a = a[:4*kc]
	b = b[:4*kc]
	for p := 0; p < kc; p++ {
		ap := a[4*p : 4*p+4 : 4*p+4]
		bp := b[4*p : 4*p+4 : 4*p+4]
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [16]float32{c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33}
	for i := 0; i < 4; i++ {
		row := c[i*ldc : i*ldc+4 : i*ldc+4]
		for j := 0; j < 4; j++ {
			if beta == 0 {
				row[j] = alpha * acc[4*i+j]
			} else {
				row[j] = alpha*acc[4*i+j] + beta*row[j]
			}
		}
	}
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C, row-major, with BLAS semantics: op(X) = X or
// Xᵀ, op(A) is m×k, op(B) is k×n, lda/ldb/ldc are the row strides of the stored matrices. beta
// == 0 overwrites C without reading it. It runs on runtime.GOMAXPROCS(0) goroutines with a fixed
// partition by output tiles; the result is bit-identical whatever the thread count.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmThreads(runtime.GOMAXPROCS(0), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmThreads is Sgemm on at most threads goroutines.
func SgemmThreads(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmWith(active, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func sgemmCheck(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	sgemmCheckAC(transA, m, n, k, a, lda, c, ldc)
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	sgemmNeed("B", br, bc, ldb, len(b))
}

// sgemmNeed panics unless a rows×cols matrix of row stride ld fits in have elements.
func sgemmNeed(name string, rows, cols, ld, have int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("kernels: Sgemm: %s stride %d < row length %d", name, ld, cols))
	}
	if want := (rows-1)*ld + cols; have < want {
		panic(fmt.Sprintf("kernels: Sgemm: %s has %d elements, need %d", name, have, want))
	}
}

// sgemmCheckAC checks the sizes and the A and C operands.
func sgemmCheckAC(transA bool, m, n, k int, a []float32, lda int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	sgemmNeed("A", ar, ac, lda, len(a))
	sgemmNeed("C", m, n, ldc, len(c))
}

func sgemmWith(im *impl, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmCheck(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemmRun(im, threads, transA, transB, m, n, k, alpha, a, lda, b, nil, ldb, beta, c, ldc)
}

// sgemmRun is sgemmWith after the checks, with B float32 (b) or encoded (qb, then transB says
// whether op(B) = qbᵀ; ldb is unused).
func sgemmRun(im *impl, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, qb *QMatrix, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
			} else if beta != 1 {
				for j := range row {
					row[j] *= beta
				}
			}
		}
		return
	}
	g := &im.gemm
	if threads < 1 {
		threads = 1
	}
	// Fixed partition: split the longer side of C into equal runs of whole tiles. Every C element
	// is computed by the same sequence of operations whichever run holds it.
	flops := 2 * float64(m) * float64(n) * float64(k)
	if flops < 4e6 {
		threads = 1
	}
	splitN := n >= m
	tiles := (m + g.mr - 1) / g.mr
	unit := g.mr
	if splitN {
		tiles = (n + g.nr - 1) / g.nr
		unit = g.nr
	}
	if threads > tiles {
		threads = tiles
	}
	p := gemmProblem{g: g, im: im, qb: qb, transA: transA, transB: transB, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	if threads <= 1 {
		p.run(0, m, 0, n)
		return
	}
	if splitN && m*k <= sharedPackMax {
		// Every goroutine sweeps all of M: pack A once, the panels shared out among them, instead
		// of each packing all of it.
		p.mPad = roundUp(m, g.mr)
		buf := getBuf(p.mPad * k)
		defer packPool.Put(buf)
		p.apre = *buf
		panels := p.mPad / g.mr
		kcb := kcSplit(k, g.kc)
		Parallel(threads, func(t int) {
			r0 := panels * t / threads * g.mr
			r1 := min(panels*(t+1)/threads*g.mr, m)
			for pc := 0; pc < k && r0 < r1; pc += kcb {
				kc := min(kcb, k-pc)
				g.packA(p.apre[pc*p.mPad+r0*kc:], a, lda, transA, r0, pc, r1-r0, kc)
			}
		})
	}
	Parallel(threads, func(t int) {
		lo := tiles * t / threads * unit
		hi := tiles * (t + 1) / threads * unit
		if splitN {
			p.run(0, m, lo, min(hi, n))
		} else {
			p.run(lo, min(hi, m), 0, n)
		}
	})
}

// sharedPackMax bounds the size (floats, 16 MiB) of an A packed once for all goroutines; a
// larger A is packed block by block by each goroutine.
const sharedPackMax = 1 << 22

type gemmProblem struct {
	// apre, when not nil, holds op(A) packed whole (rows 0..m, padded to mPad): K slice pc
	// at apre[pc*mPad:], as packA lays out one row block of mPad rows.
	apre []float32
	mPad int

	g  *gemmKernel
	im *impl
	// qb, when set, is B in a GGUF encoding (SgemmQ): packBQ decodes it into the panels.
	qb             *QMatrix
	transA, transB bool
	k              int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int
}

// packPool recycles packing buffers: they are scratch, never shared between goroutines while in
// use, and hold no state between calls.
var packPool = sync.Pool{New: func() any { return new([]float32) }}

func getBuf(n int) *[]float32 {
	bp := packPool.Get().(*[]float32)
	if cap(*bp) < n {
		*bp = make([]float32, n)
	}
	*bp = (*bp)[:n]
	return bp
}

// run computes the block C[i0:i1, j0:j1]. Loop order, outermost first:
//   - pc: kc-deep slices of K, of equal depth (kcSplit), so the per-element sum order depends on
//     K only, never on the block: results stay bit-identical whatever the partition;
//   - ic: mc-high row blocks of op(A), packed once per (pc, ic) and reused across all of N;
//   - jc: nc-wide column blocks of op(B), packed so the kc×nc block sits in L2;
//   - ir: one A micro-panel (mr×kc, L1-resident while it is reused);
//   - jr: the B micro-panels of the block stream from L2, in the order they were packed.
//
// The micro-kernel broadcasts A and loads B as vectors, so the operand it streams is the wide
// one (nr floats per step), from L2, and the one it keeps in L1 is the narrow A panel: the
// arrangement BLIS uses on AVX-512.
func (p *gemmProblem) run(i0, i1, j0, j1 int) {
	g := p.g
	mr, nr := g.mr, g.nr
	kcb := kcSplit(p.k, g.kc)
	nc := g.ncFor(kcb)
	ncMax := min(nc, roundUp(j1-j0, nr))
	mcStep := g.mc
	var ap []float32
	if p.apre != nil { // packed by sgemmWith: one row block, i0 == 0
		mcStep = i1 - i0
	} else {
		abuf := getBuf(min(g.mc, roundUp(i1-i0, mr)) * kcb)
		defer packPool.Put(abuf)
		ap = *abuf
	}
	bbuf := getBuf(ncMax * kcb)
	tbuf := getBuf(mr * nr)
	defer packPool.Put(bbuf)
	defer packPool.Put(tbuf)
	bp, tile := *bbuf, *tbuf
	var qtmp []float32
	if p.qb != nil {
		qbuf := getBuf(p.qbScratch(kcb, ncMax))
		defer packPool.Put(qbuf)
		qtmp = *qbuf
	}
	for pc := 0; pc < p.k; pc += kcb {
		kc := min(kcb, p.k-pc)
		beta := p.beta
		if pc > 0 {
			beta = 1
		}
		for ic := i0; ic < i1; ic += mcStep {
			mc := min(mcStep, i1-ic)
			if p.apre != nil {
				ap = p.apre[pc*p.mPad:]
			} else {
				g.packA(ap, p.a, p.lda, p.transA, ic, pc, mc, kc)
			}
			for jc := j0; jc < j1; jc += nc {
				ncb := min(nc, j1-jc)
				if p.qb != nil {
					p.packBQ(bp, pc, jc, kc, ncb, qtmp)
				} else {
					g.packB(bp, p.b, p.ldb, p.transB, pc, jc, kc, ncb)
				}
				for ir := 0; ir < mc; ir += mr {
					apan := ap[ir*kc : (ir+mr)*kc]
					mh := min(mr, mc-ir)
					for jr := 0; jr < ncb; jr += nr {
						bpan := bp[jr*kc : (jr+nr)*kc]
						nw := min(nr, ncb-jr)
						ci := (ic+ir)*p.ldc + jc + jr
						if mh == mr && nw == nr {
							g.fn(kc, apan, bpan, p.c[ci:], p.ldc, p.alpha, beta)
							continue
						}
						// Edge tile: run the same kernel on a scratch tile, then copy the valid part.
						if beta != 0 {
							for i := 0; i < mh; i++ {
								copy(tile[i*nr:i*nr+nw], p.c[ci+i*p.ldc:ci+i*p.ldc+nw])
							}
						}
						g.fn(kc, apan, bpan, tile, nr, p.alpha, beta)
						for i := 0; i < mh; i++ {
							copy(p.c[ci+i*p.ldc:ci+i*p.ldc+nw], tile[i*nr:i*nr+nw])
						}
					}
				}
			}
		}
	}
}

// kcSplit returns the depth of the K slices: K cut into the fewest slices of at most kcMax,
// of equal depth rounded up to a multiple of 16 (the last one may be shorter). It depends on k
// and the kernel only, which keeps every C element's sum order fixed.
func kcSplit(k, kcMax int) int {
	n := (k + kcMax - 1) / kcMax
	return min(kcMax, roundUp((k+n-1)/n, 16))
}

// ncFor returns the width of the B blocks for slices of depth kc: as many nr-wide panels as fit
// in the L2 budget (at least one, at most nc).
func (g *gemmKernel) ncFor(kc int) int {
	w := g.bBytes / (4 * kc) / g.nr * g.nr
	return min(max(w, g.nr), g.nc)
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// packA packs op(A)[ic:ic+mc, pc:pc+kc] into panels of mr rows: panel r holds, for each p, the mr
// values op(A)[ic+r*mr+i, pc+p]; rows past mc are zero.
func (g *gemmKernel) packA(dst, a []float32, lda int, trans bool, ic, pc, mc, kc int) {
	mr := g.mr
	for r := 0; r < mc; r += mr {
		pan := dst[r*kc : (r+mr)*kc]
		h := min(mr, mc-r)
		if trans { // op(A)[i,p] = a[p*lda+i]: rows of the panel are contiguous in a
			if h == 8 && mr == 8 { // element moves: a 32-byte copy() is a memmove call
				for p := 0; p < kc; p++ {
					o := (pc+p)*lda + ic + r
					d, s := pan[p*8:p*8+8:p*8+8], a[o:o+8:o+8]
					d[0], d[1], d[2], d[3] = s[0], s[1], s[2], s[3]
					d[4], d[5], d[6], d[7] = s[4], s[5], s[6], s[7]
				}
				continue
			}
			for p := 0; p < kc; p++ {
				src := a[(pc+p)*lda+ic+r:]
				d := pan[p*mr : p*mr+mr]
				copy(d[:h], src[:h])
				clear(d[h:])
			}
			continue
		}
		g.gather(pan, a, lda, ic+r, pc, h, kc, mr)
	}
}

// gather writes pan[p*w+i] = src[(r0+i)*ld+p0+p] for i < h (zero for h <= i < w), p < kc: a
// transpose of h rows. Groups of eight rows go through t8 for the whole vectors of 16 columns.
func (g *gemmKernel) gather(pan, src []float32, ld, r0, p0, h, kc, w int) {
	n16 := kc &^ 15
	i0 := 0
	for ; i0+8 <= h; i0 += 8 {
		o := (r0+i0)*ld + p0
		if n16 > 0 {
			g.t8(pan[i0:], w, src[o:], ld, n16)
		}
		for p := n16; p < kc; p++ {
			d := pan[p*w+i0 : p*w+i0+8 : p*w+i0+8]
			for i := range d {
				d[i] = src[o+i*ld+p]
			}
		}
	}
	for p := 0; p < kc; p++ {
		d := pan[p*w : p*w+w]
		for i := i0; i < h; i++ {
			d[i] = src[(r0+i)*ld+p0+p]
		}
		clear(d[h:])
	}
}

// packRows48Generic is the pure-Go rows48: dst[c*48*kc+p*48+j] = src[p*ld+c*48+j] for p < rows,
// c < panels, j < 48.
func packRows48Generic(dst []float32, kc int, src []float32, ld, rows, panels int) {
	for p := 0; p < rows; p++ {
		s := src[p*ld : p*ld+panels*48]
		for c := 0; c < panels; c++ {
			o := c*48*kc + p*48
			*(*[48]float32)(dst[o : o+48]) = *(*[48]float32)(s[c*48 : c*48+48])
		}
	}
}

// transpose8Generic is the pure-Go t8: dst[c*ds+i] = src[i*ld+c] for i < 8, c < n.
func transpose8Generic(dst []float32, ds int, src []float32, ld, n int) {
	if n <= 0 {
		return
	}
	_ = dst[(n-1)*ds+7]
	r0, r1, r2, r3 := src[:n], src[ld:ld+n], src[2*ld:2*ld+n], src[3*ld:3*ld+n]
	r4, r5, r6, r7 := src[4*ld:4*ld+n], src[5*ld:5*ld+n], src[6*ld:6*ld+n], src[7*ld:7*ld+n]
	for c := 0; c < n; c++ {
		d := dst[c*ds : c*ds+8 : c*ds+8]
		d[0], d[1], d[2], d[3] = r0[c], r1[c], r2[c], r3[c]
		d[4], d[5], d[6], d[7] = r4[c], r5[c], r6[c], r7[c]
	}
}

// packB packs op(B)[pc:pc+kc, jc:jc+nc] into panels of nr columns: panel c holds, for each p, the
// nr values op(B)[pc+p, jc+c*nr+j]; columns past nc are zero.
func (g *gemmKernel) packB(dst, b []float32, ldb int, trans bool, pc, jc, kc, nc int) {
	nr := g.nr
	if !trans && nr == 48 {
		// Row by row: each row of B is read once, sequentially (the hardware prefetcher follows
		// it), and scattered to the panels, which sit in L2.
		full := nc / 48
		if full > 0 {
			g.rows48(dst, kc, b[pc*ldb+jc:], ldb, kc, full)
		}
		if full*48 == nc {
			return
		}
	}
	for c := 0; c < nc; c += nr {
		pan := dst[c*kc : (c+nr)*kc]
		w := min(nr, nc-c)
		if !trans { // op(B)[p,j] = b[p*ldb+j]
			if w == 48 && nr == 48 {
				continue // done above
			}
			if w == 16 && nr == 16 {
				for p := 0; p < kc; p++ {
					o := (pc+p)*ldb + jc + c
					*(*[16]float32)(pan[p*16 : p*16+16]) = *(*[16]float32)(b[o : o+16])
				}
				continue
			}
			for p := 0; p < kc; p++ {
				src := b[(pc+p)*ldb+jc+c:]
				d := pan[p*nr : p*nr+nr]
				copy(d[:w], src[:w])
				clear(d[w:])
			}
			continue
		}
		g.gather(pan, b, ldb, jc+c, pc, w, kc, nr) // op(B)[p,j] = b[j*ldb+p]
	}
}
