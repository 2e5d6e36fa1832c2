package model

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/alignkit/align/kernels"
)

// TestGGMLVExpf checks the SSE2 ggml_v_expf re-enactment against float64 exp: within the
// routine's documented 1.45+0.5 ulp, and its overflow/underflow lanes.
func TestGGMLVExpf(t *testing.T) {
	for x := float32(-103); x < 88; x += 0.0137 {
		got, want := float64(ggmlVExpf(x)), math.Exp(float64(x))
		ulp := float64(math.Nextafter32(float32(want), float32(math.Inf(1))) - float32(want))
		if d := math.Abs(got-want) / ulp; d > 2 {
			t.Fatalf("ggmlVExpf(%g) = %g, exp = %g (%.2f ulp)", x, got, want, d)
		}
	}
	if v := ggmlVExpf(100); !math.IsInf(float64(v), 1) {
		t.Errorf("ggmlVExpf(100) = %g, want +Inf", v)
	}
	if v := ggmlVExpf(-110); v != 0 {
		t.Errorf("ggmlVExpf(-110) = %g, want 0", v)
	}
}

// TestGGMLLogProbsBatch checks that the F16KV path scores a packed batch exactly as each
// sequence alone, and stays close to the training path.
func TestGGMLLogProbsBatch(t *testing.T) {
	ref := loadT(t, storiesPath, LoadOptions{F16KV: true})
	fast := loadT(t, storiesPath, LoadOptions{})
	var seqs []Sequence
	for _, text := range []string{"Once upon a time there was a cat.", "Tom saw a big dog. It was happy.", "Hi"} {
		toks, err := ref.Tokenize(text, true)
		if err != nil {
			t.Fatal(err)
		}
		mask := make([]bool, len(toks))
		for i := 1; i < len(toks); i++ {
			mask[i] = i%3 != 2
		}
		seqs = append(seqs, Sequence{Tokens: toks, Mask: mask})
	}
	batch, err := ref.LogProbs(seqs)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := fast.LogProbs(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		one, err := ref.LogProbs([]Sequence{s})
		if err != nil {
			t.Fatal(err)
		}
		if len(one[0]) != len(batch[i]) || len(fb[i]) != len(batch[i]) {
			t.Fatalf("sequence %d: %d log-probs alone, %d in the batch, %d on the training path", i, len(one[0]), len(batch[i]), len(fb[i]))
		}
		for j := range one[0] {
			if one[0][j] != batch[i][j] {
				t.Errorf("sequence %d token %d: %g alone, %g in the batch", i, j, one[0][j], batch[i][j])
			}
			if d := math.Abs(float64(fb[i][j] - batch[i][j])); d > 1e-2 {
				t.Errorf("sequence %d token %d: F16KV %g, training path %g (|Δ| %.1e)", i, j, batch[i][j], fb[i][j], d)
			}
		}
	}
}

// TestGGMLQ8KAct: quantize_row_q8_K_ref's rules on hand-made blocks: iscale = −127/max (max the
// value of largest magnitude, with its sign), q rounded half to even, d = 1/iscale, bsums the
// sums of 16 quants, and an all-zero block with d = 0.
func TestGGMLQ8KAct(t *testing.T) {
	x := make([]float32, 512)
	x[0] = -127 // max = −127: iscale = 1, q = x rounded
	x[1], x[2], x[3], x[4], x[5], x[6] = 2.5, 3.5, -2.5, 0.5, 126.5, -1.49
	x[16] = 10
	x[300] = 2 // block 1: max = 2, iscale = −63.5
	x[301] = 1
	x[302] = 0.0078125 // −63.5/128 = −0.49609375: rounds to 0
	a := ggmlQ8KAct(x)
	if a.d[0] != 1 || a.d[1] != float32(1/float32(-63.5)) {
		t.Fatalf("d = %v", a.d)
	}
	want := map[int]int8{0: -127, 1: 2, 2: 4, 3: -2, 4: 0, 5: 126, 6: -1, 16: 10, 300: -127, 301: -64, 302: 0}
	for i, q := range a.qs {
		if q != want[i] {
			t.Errorf("q[%d] = %d, want %d", i, q, want[i])
		}
	}
	if a.bsums[0] != -127+2+4-2+0+126-1 || a.bsums[1] != 10 || a.bsums[16+2] != -127-64 || a.bsums[17] != 0 {
		t.Errorf("bsums %v", a.bsums)
	}
	z := ggmlQ8KAct(make([]float32, 256))
	if z.d[0] != 0 || z.bsums[0] != 0 {
		t.Errorf("zero block: %v", z)
	}
}

// TestGGMLDotQ4K: ggml_vec_dot_q4_K_q8_K's sums on a block whose products are all integers
// (d = dmin = 1, activations with d = 1) give the exact integer Σ w·x of the decoded values; on
// random blocks they agree with the float64 dot product of the decodings within float32
// rounding.
func TestGGMLDotQ4K(t *testing.T) {
	blk := make([]byte, 144)
	binary.LittleEndian.PutUint16(blk, 0x3C00)     // d = 1
	binary.LittleEndian.PutUint16(blk[2:], 0x3C00) // dmin = 1
	sc := blk[4:16]                                // scales 1..8 and mins 0..7, 6-bit packed
	for j := 0; j < 4; j++ {
		sc[j], sc[j+4] = byte(j+1), byte(j)
		sc[j+8] = byte(j+5) | byte(j+4)<<4
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 16; i < 144; i++ {
		blk[i] = byte(rng.IntN(256))
	}
	w := make([]float32, 256)
	if err := kernels.Dequantize(kernels.TypeQ4_K, w, blk); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 256)
	x[0] = -127
	for i := 1; i < 256; i++ {
		x[i] = float32(rng.IntN(255) - 127)
	}
	var exact float64
	for i := range w {
		exact += float64(w[i]) * float64(x[i])
	}
	if got := ggmlDotQ4K(blk, ggmlQ8KAct(x)); float64(got) != exact {
		t.Errorf("integer block: %g, want %g", got, exact)
	}

	const n = 1024
	src := make([]float32, n)
	xs := make([]float32, n)
	for i := range src {
		src[i], xs[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	raw := make([]byte, n/256*144)
	if err := kernels.QuantizeQ4K(raw, src); err != nil {
		t.Fatal(err)
	}
	wd := make([]float32, n)
	if err := kernels.Dequantize(kernels.TypeQ4_K, wd, raw); err != nil {
		t.Fatal(err)
	}
	a := ggmlQ8KAct(xs)
	var ref, mag float64
	for i := range wd {
		xq := float64(a.d[i/256]) * float64(a.qs[i])
		ref += float64(wd[i]) * xq
		mag += math.Abs(float64(wd[i]) * xq)
	}
	if got := ggmlDotQ4K(raw, a); math.Abs(float64(got)-ref) > 1e-6*mag {
		t.Errorf("random blocks: %g, float64 %g (Σ|w·x| %g)", got, ref, mag)
	}
}

// TestGGMLEncodedBlocks: F16KV on a file whose projections Load keeps encoded (the default for
// F16, Q8_0 and Q4_K files) decodes one block at a time (ggmlBlock.decoded) or multiplies the
// file's Q4_K blocks; its log-probs must be bit for bit those of the same file loaded Dense
// (every weight float32 at load, the path that held the whole model decoded), for phi3 (its fused
// q, k, v and gate, up, which Load reads float32, beside the encoded o and down) and qwen3, at
// each type.
func TestGGMLEncodedBlocks(t *testing.T) {
	c := Config{Layers: 2, Dim: 256, FFN: 512, Heads: 4, KVHeads: 4, HeadDim: 64, RopeTheta: 1e4, Eps: 1e-5, ContextLen: 512}
	phi3, qwen3 := c, c
	phi3.Arch = "phi3"
	qwen3.Arch, qwen3.KVHeads = "qwen3", 2
	for _, spec := range []RandomGGUF{{Config: phi3, VocabFile: "../testdata/vocab/ggml-vocab-phi-3.gguf", Seed: 3}, {Config: qwen3, Vocab: VocabChatML, Seed: 4}} {
		for _, typ := range []kernels.GGMLType{kernels.TypeF16, kernels.TypeQ8_0, kernels.TypeQ4_K} {
			path := writeRandomT(t, spec, typ)
			enc := loadT(t, path, LoadOptions{F16KV: true})
			dense := loadT(t, path, LoadOptions{F16KV: true, Dense: true})
			if enc.blocks[0].o.q == nil || enc.blocks[1].down.q == nil || dense.blocks[0].o.q != nil {
				t.Fatalf("%s %s: o encoded %v, dense %v: want resident and decoded", spec.Config.Arch, typ, enc.blocks[0].o.q != nil, dense.blocks[0].o.q == nil)
			}
			toks, err := enc.Tokenize("Once upon a time there was a little fox", true)
			if err != nil {
				t.Fatal(err)
			}
			seq := Sequence{Tokens: toks, Mask: make([]bool, len(toks))}
			for i := 1; i < len(toks); i++ {
				seq.Mask[i] = true
			}
			a, err := enc.LogProbs([]Sequence{seq, seq})
			if err != nil {
				t.Fatal(err)
			}
			b, err := dense.LogProbs([]Sequence{seq})
			if err != nil {
				t.Fatal(err)
			}
			for s := range a {
				for i := range b[0] {
					if math.Float32bits(a[s][i]) != math.Float32bits(b[0][i]) {
						t.Errorf("%s %s sequence %d token %d: %g encoded, %g dense", spec.Config.Arch, typ, s, i, a[s][i], b[0][i])
					}
				}
			}
			enc.Close()
			dense.Close()
		}
	}
}
