package model

import "github.com/alignkit/align/kernels"

// attnRowFwd512 and attnRowBwd512 are attnRowFwdGo and attnRowBwdGo in AVX-512 assembly
// (attn_rows_amd64.s), for head dims that are multiples of 8; tail is the bit mask of the
// last block's keys in the row ((1<<n)-1 for n keys).
//
//go:noescape
func attnRowFwd512(out, q, kt, vt, e *float32, hd, nb, tail int, scale float32)

//go:noescape
func attnRowBwd512(dq, q, do, kt, vt, dkt, dvt, e, dp *float32, hd, nb, tail int, scale float32)

// attnRowFwd2_512 and attnRowBwd2_512 run two adjacent heads of one GQA group on the same
// query row (their q, dO, out and dq rows are 2·hd long, head 2 second), sharing the loads of
// K, V, dKᵀ and dVᵀ; e is the scratch row of 4·attnKB floats per block of keys.
//
//go:noescape
func attnRowFwd2_512(out, q, kt, vt, e *float32, hd, nb, tail int, scale float32)

//go:noescape
func attnRowBwd2_512(dq, q, do, kt, vt, dkt, dvt, e *float32, hd, nb, tail int, scale float32)

//go:noescape
func attnFlush512(p *float32, n int)

// flushTiny sets the probabilities in p below 2⁻¹⁰⁰ to zero (attnFlushBits).
func flushTiny(p []float32) {
	if len(p) > 0 && kernels.ISA() == "avx512" {
		attnFlush512(&p[0], len(p))
		return
	}
	flushTinyGo(p)
}

// attnRowsAsm reports whether the assembly row kernels run for head dim hd: the kernels
// package chose AVX-512 (so ALIGN_KERNELS=avx2 or generic turns them off too) and hd is a
// multiple of 8.
func attnRowsAsm(hd int) bool { return hd%8 == 0 && kernels.ISA() == "avx512" }

func attnRowFwdAsm(out, q, kt, vt, e []float32, hd, L int, scale float32) {
	nb := (L + attnKB - 1) / attnKB
	_, _, _ = kt[nb*hd*attnKB-1], vt[nb*hd*attnKB-1], e[nb*attnKB-1]
	_, _ = out[hd-1], q[hd-1]
	attnRowFwd512(&out[0], &q[0], &kt[0], &vt[0], &e[0], hd, nb, attnTail(L, nb), scale)
}

func attnRowBwdAsm(dq, q, do, kt, vt, dkt, dvt, e, dp []float32, hd, L int, scale float32) {
	nb := (L + attnKB - 1) / attnKB
	n := nb * hd * attnKB
	_, _, _, _ = kt[n-1], vt[n-1], dkt[n-1], dvt[n-1]
	_, _ = e[nb*attnKB-1], dp[nb*attnKB-1]
	_, _, _ = dq[hd-1], q[hd-1], do[hd-1]
	attnRowBwd512(&dq[0], &q[0], &do[0], &kt[0], &vt[0], &dkt[0], &dvt[0], &e[0], &dp[0], hd, nb, attnTail(L, nb), scale)
}

func attnRowFwd2Asm(out, q, kt, vt, e []float32, hd, L int, scale float32) {
	nb := (L + attnKB - 1) / attnKB
	_, _, _ = kt[nb*hd*attnKB-1], vt[nb*hd*attnKB-1], e[4*nb*attnKB-1]
	_, _ = out[2*hd-1], q[2*hd-1]
	attnRowFwd2_512(&out[0], &q[0], &kt[0], &vt[0], &e[0], hd, nb, attnTail(L, nb), scale)
}

func attnRowBwd2Asm(dq, q, do, kt, vt, dkt, dvt, e []float32, hd, L int, scale float32) {
	nb := (L + attnKB - 1) / attnKB
	n := nb * hd * attnKB
	_, _, _, _ = kt[n-1], vt[n-1], dkt[n-1], dvt[n-1]
	_, _, _, _ = e[4*nb*attnKB-1], dq[2*hd-1], q[2*hd-1], do[2*hd-1]
	attnRowBwd2_512(&dq[0], &q[0], &do[0], &kt[0], &vt[0], &dkt[0], &dvt[0], &e[0], hd, nb, attnTail(L, nb), scale)
}
