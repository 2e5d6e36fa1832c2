package model

import (
	"math"
	"slices"
	"testing"

	"github.com/alignkit/align/kernels"
)

// TestResidentTables: a file whose token_embd and output are quantized keeps them encoded by
// default (no float32 copy), and scores, trains and decodes bit-identically to Dense, which
// decodes them at load: the embedding rows decode to the same values and the LM head's
// SgemmQ products keep Sgemm's sums. Every supported quant type, tied and untied head, 1 and 2
// threads.
func TestResidentTables(t *testing.T) {
	for _, typ := range kernels.SupportedTypes() {
		if _, ok := quantLayouts[typ]; !ok {
			if el, _ := kernels.BlockSize(typ); el > 1 {
				t.Errorf("%s: a quantized type without a layout here, so untested", typ)
			}
			if typ != kernels.TypeF16 && typ != kernels.TypeBF16 {
				continue
			}
		}
		for _, tied := range []bool{false, true} {
			name := typ.String() + map[bool]string{false: "/untied", true: "/tied"}[tied]
			t.Run(name, func(t *testing.T) {
				path := writeQuantModelWith(t, typ, true, tied)
				ref := loraOn(t, path, LoadOptions{Threads: 1, Dense: true})
				if ref.embedQ != nil || ref.outputQ != nil || ref.embed.Data == nil {
					t.Fatalf("Dense kept a table encoded")
				}
				wantLP, wantG := lowMemRun(t, ref)
				wantLogits := firstLogits(t, ref)
				for _, th := range []int{1, 2} {
					m := loraOn(t, path, LoadOptions{Threads: th})
					if m.embedQ == nil || m.embed.Data != nil || m.embedQ.typ != typ {
						t.Fatalf("token_embd not kept encoded as %s", typ)
					}
					if tied != (m.output == nil) || (!tied && (m.outputQ == nil || m.output.Data != nil)) {
						t.Fatalf("tied %v: output %v, encoded %v", tied, m.output != nil, m.outputQ != nil)
					}
					if lw, rw := m.WeightBytes(), ref.WeightBytes(); lw >= rw {
						t.Errorf("resident holds %d weight bytes, Dense %d", lw, rw)
					}
					lp, g := lowMemRun(t, m)
					if i := firstDiff(lp, wantLP); i >= 0 {
						t.Fatalf("threads %d: log-prob %d = %v, dense path %v", th, i, lp[i], wantLP[i])
					}
					if !slices.ContainsFunc(wantG, func(v float32) bool { return v != 0 }) {
						t.Fatal("all LoRA gradients are zero")
					}
					if i := firstDiff(g, wantG); i >= 0 {
						t.Fatalf("threads %d: LoRA gradient %d = %v, dense path %v", th, i, g[i], wantG[i])
					}
					if i := firstDiff(firstLogits(t, m), wantLogits); i >= 0 {
						t.Fatalf("threads %d: decode-step logit %d differs from the dense path", th, i)
					}
				}
			})
		}
	}
}

// TestResidentTablesDenseValues: the resident embedding row and head logits equal an
// independent float64 computation from kernels.Dequantize of the raw rows (not from the code
// under test), to float32 rounding.
func TestResidentTablesDenseValues(t *testing.T) {
	path := writeQuantModelWith(t, kernels.TypeQ4_K, true, false)
	m := loadT(t, path, LoadOptions{})
	D, V := m.cfg.Dim, m.cfg.Vocab
	row := func(q *qweight, r int) []float32 {
		out := make([]float32, D)
		if err := kernels.Dequantize(q.typ, out, q.raw[r*q.rowBytes:(r+1)*q.rowBytes]); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := make([]float32, D)
	m.embedRow(got, 7)
	if i := firstDiff(got, row(m.embedQ, 7)); i >= 0 {
		t.Fatalf("embedding row 7 value %d differs from its decode", i)
	}
	x := make([]float32, 2*D)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	logits := make([]float32, 2*V)
	m.headLogits(logits, x, 2)
	for r := 0; r < 2; r++ {
		for v := 0; v < V; v += 37 {
			w := row(m.outputQ, v)
			var s, a float64
			for k := 0; k < D; k++ {
				s += float64(x[r*D+k]) * float64(w[k])
				a += math.Abs(float64(x[r*D+k]) * float64(w[k]))
			}
			if d := math.Abs(float64(logits[r*V+v]) - s); d > 1e-5*a+1e-6 {
				t.Fatalf("logit [%d,%d] = %v, float64 %v", r, v, logits[r*V+v], s)
			}
		}
	}
	// The input gradient: dx = dlogits · W.
	dl := make([]float32, V)
	for i := range dl {
		dl[i] = float32(math.Cos(float64(i)))
	}
	dx := make([]float32, D)
	m.headInputGrad(dx, dl, 1)
	want := make([]float64, D)
	abs := make([]float64, D)
	for v := 0; v < V; v++ {
		w := row(m.outputQ, v)
		for k := range want {
			want[k] += float64(dl[v]) * float64(w[k])
			abs[k] += math.Abs(float64(dl[v]) * float64(w[k]))
		}
	}
	for k := range want {
		if d := math.Abs(float64(dx[k]) - want[k]); d > 1e-5*abs[k]+1e-6 {
			t.Fatalf("dx[%d] = %v, float64 %v", k, dx[k], want[k])
		}
	}
}

// firstLogits returns the logits of one decode step (generation's path) on token 5.
func firstLogits(t *testing.T, m *Model) []float32 {
	t.Helper()
	c := m.cfg
	cache := &kvCache{k: make([][]float32, c.Layers), v: make([][]float32, c.Layers)}
	return m.decodeStep(cache, 5, 0)
}

// firstDiff is the first index where a and b differ bitwise (or in length), -1 if none.
func firstDiff(a, b []float32) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}
