package kernels

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Dot returns sum(x[i]*y[i]); len(y) must be at least len(x).
func Dot(x, y []float32) float32 { checkLen("Dot", len(y), len(x)); return active.dot(x, y) }

// Axpy computes y += alpha*x over len(x) elements.
func Axpy(alpha float32, x, y []float32) { checkLen("Axpy", len(y), len(x)); active.axpy(alpha, x, y) }

// Scale computes x *= alpha.
func Scale(alpha float32, x []float32) { active.scale(alpha, x) }

// Sum returns the sum of x.
func Sum(x []float32) float32 { return active.sum(x) }

// Max returns the largest element of x, or -Inf when x is empty.
func Max(x []float32) float32 { return active.max(x) }

func checkLen(fn string, have, want int) {
	if have < want {
		panic(fmt.Sprintf("kernels: %s: slice of length %d, need %d", fn, have, want))
	}
}

// LogSumExp returns log(sum(exp(x))) for one row: -Inf for an empty or fully masked (-Inf) row,
// +Inf if the row holds +Inf. The algorithm (three-pass or two-pass) is picked by row length.
func LogSumExp(x []float32) float32 { return lseWith(active, x) }

func lseWith(im *impl, x []float32) float32 {
	if len(x) >= im.lse2From {
		return im.lse2(x)
	}
	return im.lse3(x)
}

// LogSumExpRows writes out[r] = LogSumExp(x[r*cols:(r+1)*cols]) for rows rows.
func LogSumExpRows(out, x []float32, rows, cols int) {
	checkLen("LogSumExpRows out", len(out), rows)
	checkLen("LogSumExpRows x", len(x), rows*cols)
	im := active
	parallelRows(runtime.GOMAXPROCS(0), rows, cols, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			out[r] = lseWith(im, x[r*cols:(r+1)*cols])
		}
	})
}

// LogSoftmax writes dst = x - LogSumExp(x) for one row; dst may alias x.
func LogSoftmax(dst, x []float32) {
	checkLen("LogSoftmax", len(dst), len(x))
	l := LogSumExp(x)
	if math.IsInf(float64(l), -1) { // fully masked row: keep -Inf, avoid -Inf - -Inf = NaN
		for i := range x {
			dst[i] = float32(math.Inf(-1))
		}
		return
	}
	active.addScalar(dst, x, -l)
}

// Softmax writes dst = softmax(x) for one row (an attention row); dst may alias x. A fully
// masked row (every element -Inf) gives zeros. Causal masking: call it on row[:t+1] and zero
// the rest.
func Softmax(dst, x []float32) {
	checkLen("Softmax", len(dst), len(x))
	softmaxWith(active, dst, x)
}

func softmaxWith(im *impl, dst, x []float32) {
	dst = dst[:len(x)]
	m := im.max(x)
	if math.IsInf(float64(m), -1) {
		clear(dst)
		return
	}
	s := im.expShift(dst, x, m)
	im.scale(1/s, dst)
}

// TokenLogProbs writes out[t] = logits[t][targets[t]] - lse(logits[t]) for T rows of V logits,
// and lse[t] when lse is not nil (CrossEntropyBackward needs it). A negative target marks an
// ignored position: out[t] = 0 (lse is still written). Rows are split over
// runtime.GOMAXPROCS(0) goroutines when the work is large; each row is computed the same way
// whatever the split.
func TokenLogProbs(out, lse, logits []float32, targets []int32, T, V int) {
	tokenLogProbsWith(active, runtime.GOMAXPROCS(0), out, lse, logits, targets, T, V)
}

func tokenLogProbsWith(im *impl, threads int, out, lse, logits []float32, targets []int32, T, V int) {
	checkLen("TokenLogProbs out", len(out), T)
	checkLen("TokenLogProbs targets", len(targets), T)
	checkLen("TokenLogProbs logits", len(logits), T*V)
	if lse != nil {
		checkLen("TokenLogProbs lse", len(lse), T)
	}
	for t := 0; t < T; t++ {
		if int(targets[t]) >= V {
			panic(fmt.Sprintf("kernels: TokenLogProbs: target %d out of range [0,%d) at row %d", targets[t], V, t))
		}
	}
	parallelRows(threads, T, V, func(r0, r1 int) {
		for t := r0; t < r1; t++ {
			row := logits[t*V : (t+1)*V]
			l := lseWith(im, row)
			if lse != nil {
				lse[t] = l
			}
			if tg := targets[t]; tg >= 0 {
				out[t] = row[tg] - l
			} else {
				out[t] = 0
			}
		}
	})
}

// CrossEntropyBackward writes dlogits[t][v] = g[t]*(softmax(logits[t])[v] - 1[v==targets[t]])
// using lse[t] saved by TokenLogProbs. dlogits may alias logits. A negative target has no
// one-hot term. A row whose lse is -Inf (fully masked) gets zeros.
func CrossEntropyBackward(dlogits, logits, lse, g []float32, targets []int32, T, V int) {
	ceBackwardWith(active, runtime.GOMAXPROCS(0), dlogits, logits, lse, g, targets, T, V)
}

func ceBackwardWith(im *impl, threads int, dlogits, logits, lse, g []float32, targets []int32, T, V int) {
	checkLen("CrossEntropyBackward dlogits", len(dlogits), T*V)
	checkLen("CrossEntropyBackward logits", len(logits), T*V)
	checkLen("CrossEntropyBackward lse", len(lse), T)
	checkLen("CrossEntropyBackward g", len(g), T)
	checkLen("CrossEntropyBackward targets", len(targets), T)
	// Each goroutine walks its rows last to first: TokenLogProbs, which normally runs just before
	// over the same rows, walked them first to last, so the rows it read last are still in the
	// caches (L2, and the large shared L3) and are the ones read first here.
	parallelRows(threads, T, V, func(r0, r1 int) {
		for t := r1 - 1; t >= r0; t-- {
			row := logits[t*V : (t+1)*V]
			drow := dlogits[t*V : (t+1)*V]
			l, gt := lse[t], g[t]
			if math.IsInf(float64(l), -1) {
				clear(drow)
				continue
			}
			tg := targets[t]
			var xt float32
			if tg >= 0 {
				xt = row[tg] // read before an in-place overwrite
			}
			im.ceRow(drow, row, l, gt)
			if tg >= 0 {
				drow[tg] = float32(float64(gt) * (math.Exp(float64(xt)-float64(l)) - 1))
			}
		}
	})
}

// parallelRows runs fn over [0,rows) split into contiguous ranges, one per goroutine, when
// rows*cols is large enough to pay for the goroutines. The split never changes a row's result.
func parallelRows(threads, rows, cols int, fn func(r0, r1 int)) {
	if threads > rows {
		threads = rows
	}
	if threads <= 1 || rows*cols < 1<<16 {
		fn(0, rows)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < threads; i++ {
		r0, r1 := rows*i/threads, rows*(i+1)/threads
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(r0, r1)
		}()
	}
	wg.Wait()
}

// RMSNormForward computes, for each of rows rows of x (rows×dim), rstd = 1/sqrt(mean(x²)+eps)
// (saved in rstd[r]) and out = x*rstd*w.
func RMSNormForward(out, rstd, x, w []float32, rows, dim int, eps float32) {
	checkLen("RMSNormForward out", len(out), rows*dim)
	checkLen("RMSNormForward x", len(x), rows*dim)
	checkLen("RMSNormForward rstd", len(rstd), rows)
	checkLen("RMSNormForward w", len(w), dim)
	rmsNormForwardWith(active, out, rstd, x, w, rows, dim, eps)
}

func rmsNormForwardWith(im *impl, out, rstd, x, w []float32, rows, dim int, eps float32) {
	if im.rmsFwdRows != nil && rows > 0 && dim > 0 {
		im.rmsFwdRows(out[:rows*dim], rstd[:rows], x[:rows*dim], w[:dim], rows, dim, eps)
		return
	}
	for r := 0; r < rows; r++ {
		xr := x[r*dim : (r+1)*dim]
		ss := im.sumSquares(xr)
		rs := float32(1 / math.Sqrt(ss/float64(dim)+float64(eps)))
		rstd[r] = rs
		im.mulScale(out[r*dim:(r+1)*dim], xr, w[:dim], rs)
	}
}

// RMSNormBackward overwrites dx and ACCUMULATES (+=) dw, given the rstd saved by the forward.
func RMSNormBackward(dx, dw, dout, x, w, rstd []float32, rows, dim int) {
	checkLen("RMSNormBackward dx", len(dx), rows*dim)
	checkLen("RMSNormBackward dout", len(dout), rows*dim)
	checkLen("RMSNormBackward x", len(x), rows*dim)
	checkLen("RMSNormBackward dw", len(dw), dim)
	checkLen("RMSNormBackward w", len(w), dim)
	checkLen("RMSNormBackward rstd", len(rstd), rows)
	rmsNormBackwardWith(active, dx, dw, dout, x, w, rstd, rows, dim)
}

func rmsNormBackwardWith(im *impl, dx, dw, dout, x, w, rstd []float32, rows, dim int) {
	if im.rmsBwdRows != nil && rows > 0 && dim > 0 {
		im.rmsBwdRows(dx[:rows*dim], dw[:dim], dout[:rows*dim], x[:rows*dim], w[:dim], rstd[:rows], rows, dim)
		return
	}
	for r := 0; r < rows; r++ {
		s := r * dim
		im.rmsBackRow(dx[s:s+dim], dw[:dim], dout[s:s+dim], x[s:s+dim], w[:dim], rstd[r])
	}
}

// SiLU writes dst = x*sigmoid(x).
func SiLU(dst, x []float32) { checkLen("SiLU", len(dst), len(x)); active.silu(dst, x) }

// SiLUBackward overwrites dx = dout*silu'(x), silu'(x) = s*(1+x*(1-s)), s = sigmoid(x).
func SiLUBackward(dx, dout, x []float32) {
	checkLen("SiLUBackward dx", len(dx), len(x))
	checkLen("SiLUBackward dout", len(dout), len(x))
	active.siluBack(dx, dout, x)
}

// SwiGLUForward writes out = silu(gate)*up.
func SwiGLUForward(out, gate, up []float32) {
	checkLen("SwiGLUForward out", len(out), len(gate))
	checkLen("SwiGLUForward up", len(up), len(gate))
	active.swigluF(out, gate, up)
}

// SwiGLUBackward overwrites dgate = dout*up*silu'(gate) and dup = dout*silu(gate).
func SwiGLUBackward(dgate, dup, dout, gate, up []float32) {
	n := len(gate)
	checkLen("SwiGLUBackward dgate", len(dgate), n)
	checkLen("SwiGLUBackward dup", len(dup), n)
	checkLen("SwiGLUBackward dout", len(dout), n)
	checkLen("SwiGLUBackward up", len(up), n)
	active.swigluB(dgate, dup, dout, gate, up)
}

// AdamW updates p, m and v in place, as torch.optim.AdamW: decoupled weight decay
// p -= lr*wd*p, then p -= lr*mhat/(sqrt(vhat)+eps) with bias-corrected moments. step starts at 1.
func AdamW(p, g, m, v []float32, lr, beta1, beta2, eps, weightDecay float32, step int) {
	n := len(p)
	checkLen("AdamW g", len(g), n)
	checkLen("AdamW m", len(m), n)
	checkLen("AdamW v", len(v), n)
	if step < 1 {
		panic(fmt.Sprintf("kernels: AdamW: step %d, want >= 1", step))
	}
	active.adamw(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step)
}
