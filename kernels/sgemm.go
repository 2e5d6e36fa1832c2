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
	mr, nr     int
	kc, mc, nc int // cache blocking: A block mc×kc in L2, B micro-panel kc×nr in L1
	fn         func(kc int, a, b, c []float32, ldc int, alpha, beta float32)
}

var genericGemmKernel = gemmKernel{mr: 4, nr: 4, kc: 256, mc: 64, nc: 1024, fn: gemmKernel4x4Generic}

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
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	need := func(name string, rows, cols, ld, have int) {
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
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	need("A", ar, ac, lda, len(a))
	need("B", br, bc, ldb, len(b))
	need("C", m, n, ldc, len(c))
}

func sgemmWith(im *impl, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmCheck(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
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
	p := gemmProblem{g: g, transA: transA, transB: transB, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	if threads <= 1 {
		p.run(0, m, 0, n)
		return
	}
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		lo := tiles * t / threads * unit
		hi := tiles * (t + 1) / threads * unit
		wg.Add(1)
		go func() {
			defer wg.Done()
			if splitN {
				p.run(0, m, lo, min(hi, n))
			} else {
				p.run(lo, min(hi, m), 0, n)
			}
		}()
	}
	wg.Wait()
}

type gemmProblem struct {
	g              *gemmKernel
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

// run computes the block C[i0:i1, j0:j1] with the GotoBLAS loop order: for each nc-wide column
// block and kc-deep slice of K, pack B; for each mc-high row block, pack A; then sweep tiles.
func (p *gemmProblem) run(i0, i1, j0, j1 int) {
	g := p.g
	mr, nr := g.mr, g.nr
	kcMax := min(g.kc, p.k)
	ncMax := min(g.nc, roundUp(j1-j0, nr))
	mcMax := min(g.mc, roundUp(i1-i0, mr))
	abuf := getBuf(mcMax * kcMax)
	bbuf := getBuf(ncMax * kcMax)
	tbuf := getBuf(mr * nr)
	defer packPool.Put(abuf)
	defer packPool.Put(bbuf)
	defer packPool.Put(tbuf)
	ap, bp, tile := *abuf, *bbuf, *tbuf
	for jc := j0; jc < j1; jc += g.nc {
		nc := min(g.nc, j1-jc)
		for pc := 0; pc < p.k; pc += g.kc {
			kc := min(g.kc, p.k-pc)
			packB(bp, p.b, p.ldb, p.transB, pc, jc, kc, nc, nr)
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			for ic := i0; ic < i1; ic += g.mc {
				mc := min(g.mc, i1-ic)
				packA(ap, p.a, p.lda, p.transA, ic, pc, mc, kc, mr)
				for jr := 0; jr < nc; jr += nr {
					bpan := bp[jr*kc : (jr+nr)*kc]
					nw := min(nr, nc-jr)
					for ir := 0; ir < mc; ir += mr {
						apan := ap[ir*kc : (ir+mr)*kc]
						mh := min(mr, mc-ir)
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

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// packA packs op(A)[ic:ic+mc, pc:pc+kc] into panels of mr rows: panel r holds, for each p, the mr
// values op(A)[ic+r*mr+i, pc+p]; rows past mc are zero.
func packA(dst, a []float32, lda int, trans bool, ic, pc, mc, kc, mr int) {
	var rows [64][]float32
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
		gatherPanel(pan, a, lda, ic+r, pc, h, kc, mr, &rows)
	}
}

// gatherPanel writes pan[p*w+i] = src[(r0+i)*ld+p0+p] for i < h (zero for h <= i < w): a
// transpose of h rows, read as h streams and written contiguously.
func gatherPanel(pan, src []float32, ld, r0, p0, h, kc, w int, rows *[64][]float32) {
	for i := 0; i < h; i++ {
		rows[i] = src[(r0+i)*ld+p0 : (r0+i)*ld+p0+kc]
	}
	i0 := 0
	for ; i0+8 <= h; i0 += 8 { // eight rows at a time, unrolled
		r0, r1, r2, r3 := rows[i0], rows[i0+1], rows[i0+2], rows[i0+3]
		r4, r5, r6, r7 := rows[i0+4], rows[i0+5], rows[i0+6], rows[i0+7]
		r0, r1, r2, r3 = r0[:kc], r1[:kc], r2[:kc], r3[:kc]
		r4, r5, r6, r7 = r4[:kc], r5[:kc], r6[:kc], r7[:kc]
		for p := 0; p < kc; p++ {
			d := pan[p*w+i0 : p*w+i0+8 : p*w+i0+8]
			d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
			d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		}
	}
	for p := 0; p < kc; p++ {
		d := pan[p*w : p*w+w]
		for i := i0; i < h; i++ {
			d[i] = rows[i][p]
		}
		clear(d[h:])
	}
}

// packB packs op(B)[pc:pc+kc, jc:jc+nc] into panels of nr columns: panel c holds, for each p, the
// nr values op(B)[pc+p, jc+c*nr+j]; columns past nc are zero.
func packB(dst, b []float32, ldb int, trans bool, pc, jc, kc, nc, nr int) {
	var rows [64][]float32
	for c := 0; c < nc; c += nr {
		pan := dst[c*kc : (c+nr)*kc]
		w := min(nr, nc-c)
		if !trans { // op(B)[p,j] = b[p*ldb+j]
			if w == 48 && nr == 48 {
				for p := 0; p < kc; p++ {
					o := (pc+p)*ldb + jc + c
					*(*[48]float32)(pan[p*48 : p*48+48]) = *(*[48]float32)(b[o : o+48])
				}
				continue
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
		gatherPanel(pan, b, ldb, jc+c, pc, w, kc, nr, &rows) // op(B)[p,j] = b[j*ldb+p]
	}
}
