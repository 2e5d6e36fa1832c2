//go:build amd64 && !purego

package kernels

// The AVX-512 row kernels (simd_amd64.s, genAttnRows): the exported wrappers in attnrows.go
// have checked every length.
var attnRows512 = attnRowImpl{
	fwd: func(out, q, kt, vt, e []float32, hd, L int, scale float32) {
		nb, _ := attnBlocks(L, hd)
		attnRowFwd512(&out[0], &q[0], &kt[0], &vt[0], &e[0], hd, nb, attnTail(L, nb), scale)
	},
	bwd: func(dq, q, do, kt, vt, dkt, dvt, e, dp []float32, hd, L int, scale float32) {
		nb, _ := attnBlocks(L, hd)
		attnRowBwd512(&dq[0], &q[0], &do[0], &kt[0], &vt[0], &dkt[0], &dvt[0], &e[0], &dp[0], hd, nb, attnTail(L, nb), scale)
	},
	fwd2: func(out, q, kt, vt, e []float32, hd, L int, scale float32) {
		nb, _ := attnBlocks(L, hd)
		attnRowFwd2_512(&out[0], &q[0], &kt[0], &vt[0], &e[0], hd, nb, attnTail(L, nb), scale)
	},
	bwd2: func(dq, q, do, kt, vt, dkt, dvt, e []float32, hd, L int, scale float32) {
		nb, _ := attnBlocks(L, hd)
		attnRowBwd2_512(&dq[0], &q[0], &do[0], &kt[0], &vt[0], &dkt[0], &dvt[0], &e[0], hd, nb, attnTail(L, nb), scale)
	},
	flush: func(p []float32) {
		if len(p) > 0 {
			attnFlush512(&p[0], len(p))
		}
	},
}
