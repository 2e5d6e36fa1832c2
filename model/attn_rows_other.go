//go:build !amd64

package model

func attnRowsAsm(hd int) bool { return false }

func attnRowFwdAsm(out, q, kt, vt, e []float32, hd, L int, scale float32) {
	attnRowFwdGo(out, q, kt, vt, e, hd, L, scale)
}

func attnRowBwdAsm(dq, q, do, kt, vt, dkt, dvt, e, dp []float32, hd, L int, scale float32) {
	attnRowBwdGo(dq, q, do, kt, vt, dkt, dvt, e, dp, hd, L, scale)
}

func flushTiny(p []float32) { flushTinyGo(p) }

func attnRowFwd2Asm(out, q, kt, vt, e []float32, hd, L int, scale float32) {
	attnRowFwd2Go(out, q, kt, vt, e, hd, L, scale)
}

func attnRowBwd2Asm(dq, q, do, kt, vt, dkt, dvt, e []float32, hd, L int, scale float32) {
	attnRowBwd2Go(dq, q, do, kt, vt, dkt, dvt, e, hd, L, scale)
}
