package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// attnRowRef is one attention row in float64 from the unblocked [L, hd] rows of K, V (and dO):
// out = softmax(scale·q·Kᵀ)·V and, with do set, dq, dK and dV of Σ out·dO.
func attnRowRef(q, k, v, do []float32, hd, L int, scale float64) (out, dq, dk, dv []float64) {
	s := make([]float64, L)
	m := math.Inf(-1)
	for j := range s {
		for d := 0; d < hd; d++ {
			s[j] += float64(q[d]) * float64(k[j*hd+d])
		}
		s[j] *= scale
		m = math.Max(m, s[j])
	}
	sum := 0.0
	for j := range s {
		s[j] = math.Exp(s[j] - m)
		sum += s[j]
	}
	out = make([]float64, hd)
	for j := range s {
		s[j] /= sum
		for d := 0; d < hd; d++ {
			out[d] += s[j] * float64(v[j*hd+d])
		}
	}
	if do == nil {
		return out, nil, nil, nil
	}
	dp := make([]float64, L)
	pdp := 0.0
	for j := range dp {
		for d := 0; d < hd; d++ {
			dp[j] += float64(do[d]) * float64(v[j*hd+d])
		}
		pdp += s[j] * dp[j]
	}
	dq, dk, dv = make([]float64, hd), make([]float64, L*hd), make([]float64, L*hd)
	for j := range dp {
		ds := s[j] * (dp[j] - pdp) * scale
		for d := 0; d < hd; d++ {
			dq[d] += ds * float64(k[j*hd+d])
			dk[j*hd+d] = ds * float64(q[d])
			dv[j*hd+d] = s[j] * float64(do[d])
		}
	}
	return out, dq, dk, dv
}

// TestAttnRows: every implementation's row kernels (the AVX-512 assembly and the pure-Go twins),
// one head and paired, forward and backward, against the float64 reference, for head dims 8 to
// 64 and rows that end inside and on a block of keys; the assembly and the twins agree to float32
// rounding.
func TestAttnRows(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, hd := range []int{8, 16, 24, 64} {
			rk := attnRowsFor(im, hd)
			for _, L := range []int{1, 2, 15, 16, 17, 33, 64, 70} {
				scale := 1 / math.Sqrt(float64(hd))
				np := AttnPad(L)
				k, v := randVec(rng, L*hd, 1), randVec(rng, L*hd, 1)
				q, do := randVec(rng, 2*hd, 2), randVec(rng, 2*hd, 1)
				kt, vt := make([]float32, np*hd), make([]float32, np*hd)
				BlockIn(kt, k, L, hd, hd)
				BlockIn(vt, v, L, hd, hd)
				type res struct{ out, dq, dk, dv []float32 }
				single := func(h int) res {
					r := res{make([]float32, hd), make([]float32, hd), make([]float32, L*hd), make([]float32, L*hd)}
					e, dp := make([]float32, np), make([]float32, np)
					rk.fwd(r.out, q[h*hd:], kt, vt, e, hd, L, float32(scale))
					dkt, dvt := make([]float32, np*hd), make([]float32, np*hd)
					rk.bwd(r.dq, q[h*hd:], do[h*hd:], kt, vt, dkt, dvt, e, dp, hd, L, float32(scale))
					BlockOut(r.dk, dkt, L, hd, hd)
					BlockOut(r.dv, dvt, L, hd, hd)
					return r
				}
				check := func(what string, got []float32, want []float64) {
					t.Helper()
					for i := range want {
						if !closeRel(float64(got[i]), want[i], 2e-5, 2e-6) {
							t.Fatalf("hd %d L %d %s[%d] = %g, want %g", hd, L, what, i, got[i], want[i])
						}
					}
				}
				var r [2]res
				for h := 0; h < 2; h++ {
					r[h] = single(h)
					out, dq, dk, dv := attnRowRef(q[h*hd:], k, v, do[h*hd:], hd, L, scale)
					check("out", r[h].out, out)
					check("dq", r[h].dq, dq)
					check("dk", r[h].dk, dk)
					check("dv", r[h].dv, dv)
				}
				// The paired kernels: both heads at once, dK and dV summed over them.
				out2, dq2 := make([]float32, 2*hd), make([]float32, 2*hd)
				e := make([]float32, 4*np)
				rk.fwd2(out2, q, kt, vt, e, hd, L, float32(scale))
				dkt, dvt := make([]float32, np*hd), make([]float32, np*hd)
				rk.bwd2(dq2, q, do, kt, vt, dkt, dvt, e, hd, L, float32(scale))
				dk2, dv2 := make([]float32, L*hd), make([]float32, L*hd)
				BlockOut(dk2, dkt, L, hd, hd)
				BlockOut(dv2, dvt, L, hd, hd)
				for h := 0; h < 2; h++ {
					out, dq, _, _ := attnRowRef(q[h*hd:], k, v, do[h*hd:], hd, L, scale)
					check("paired out", out2[h*hd:], out)
					check("paired dq", dq2[h*hd:], dq)
				}
				sumDK, sumDV := make([]float64, L*hd), make([]float64, L*hd)
				for h := 0; h < 2; h++ {
					_, _, dk, dv := attnRowRef(q[h*hd:], k, v, do[h*hd:], hd, L, scale)
					for i := range dk {
						sumDK[i] += dk[i]
						sumDV[i] += dv[i]
					}
				}
				check("paired dk", dk2, sumDK)
				check("paired dv", dv2, sumDV)
			}
		}
	})
}

// TestAttnRowExp: the exps the forward row kernel leaves in its scratch row (exp(s − max) per
// key) are within 3e-7 relative of math.Exp, and exactly zero below −100·ln2, for every
// implementation.
func TestAttnRowExp(t *testing.T) {
	const hd, L = 8, 3 * AttnKB
	xs := make([]float32, L)
	for j := range xs {
		xs[j] = -float32(j) * 2.3 // 0 (the max) down to −108
	}
	xs[5], xs[6], xs[7] = -1e-7, -69.3, -69.32
	// q = e₀ and k_j = (x_j/scale)·e₀ make the scores x_j.
	scale := float32(1 / math.Sqrt(hd))
	q := make([]float32, hd)
	q[0] = 1
	k := make([]float32, L*hd)
	for j, x := range xs {
		k[j*hd] = x / scale
	}
	kt, vt := make([]float32, AttnPad(L)*hd), make([]float32, AttnPad(L)*hd)
	BlockIn(kt, k, L, hd, hd)
	BlockIn(vt, k, L, hd, hd)
	forEachImpl(t, func(t *testing.T, im *impl) {
		e, out := make([]float32, AttnPad(L)), make([]float32, hd)
		attnRowsFor(im, hd).fwd(out, q, kt, vt, e, hd, L, scale)
		for j, x := range xs {
			s := float64(x/scale) * float64(scale) // the score as the kernel forms it
			want := math.Exp(float64(float32(s)))
			if float32(s) < attnFlushBelow {
				want = 0
			}
			if d := math.Abs(float64(e[j]) - want); d > 3e-7*want || (want == 0 && e[j] != 0) {
				t.Errorf("exp(%g) = %g, want %g", s, e[j], want)
			}
		}
	})
}

// TestFlushTiny: every implementation's flush equals the Go twin bit for bit, on rows of every
// length up to 40 holding values around the 2⁻¹⁰⁰ threshold, flushes exactly those below it, and
// writes nothing past the row.
func TestFlushTiny(t *testing.T) {
	thr := math.Float32frombits(AttnFlushBits)
	if thr != float32(math.Exp2(-100)) {
		t.Fatalf("threshold %g, want 2^-100", thr)
	}
	forEachImpl(t, func(t *testing.T, im *impl) {
		flush := attnRowsFor(im, 8).flush
		rng := rand.New(rand.NewPCG(3, 4))
		for n := 0; n <= 40; n++ {
			p := make([]float32, n+1) // one guard element past the row
			for i := range p {
				p[i] = thr * float32(math.Exp2(rng.Float64()*4-2))
			}
			p[n] = thr / 2
			orig := append([]float32(nil), p[:n]...)
			want := append([]float32(nil), p[:n]...)
			flushTinyGo(want)
			flush(p[:n])
			for i := range want {
				if math.Float32bits(p[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n %d [%d]: %g, want %g", n, i, p[i], want[i])
				}
				if (orig[i] < thr && want[i] != 0) || (orig[i] >= thr && want[i] != orig[i]) {
					t.Fatalf("n %d [%d]: %g became %g (threshold %g)", n, i, orig[i], want[i], thr)
				}
			}
			if p[n] != thr/2 {
				t.Fatalf("n %d: wrote past the row", n)
			}
		}
	})
}
