package model

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/alignkit/align/kernels"
)

func roundF16(x float32) float32 { return kernels.F16ToF32(kernels.F32ToF16(x)) }

// attentionForwardF16 reproduces llama.cpp's CPU flash attention over an f16 KV cache (ggml
// ops.cpp, ggml_compute_forward_flash_attn_ext_f16_one_chunk), which Ollama's runner uses by
// default: q, k, v rounded to f16, online softmax, and the V accumulator kept in f16 and
// rounded after every update. Forward only: it keeps no probabilities for backward. It serves
// Forward on an F16KV model; LogProbs takes the full re-enactment (ggmlLogProbs) below.
func (m *Model) attentionForwardF16(out, q, k, v []float32, spans []seqSpan) {
	H, _, hd, rep, qDim, kvDim, scale := m.cfg.attnShape()
	parallelFor(m.threads, len(spans)*H, func(item int) {
		s, h := spans[item/H], item%H
		g := h / rep
		qh, kh, vh, acc := make([]float32, hd), make([]float32, hd), make([]float32, hd), make([]float32, hd)
		for i := 0; i < s.n; i++ {
			for d := range qh {
				qh[d] = roundF16(q[(s.off+i)*qDim+h*hd+d])
			}
			clear(acc)
			S, M := float32(0), float32(math.Inf(-1))
			for j := 0; j <= i; j++ {
				for d := range kh {
					kh[d] = roundF16(k[(s.off+j)*kvDim+g*hd+d])
				}
				vj := v[(s.off+j)*kvDim+g*hd:]
				for d := range vh {
					vh[d] = roundF16(vj[d])
				}
				ggmlFlashStep(acc, vh, ggmlDot(kh, qh)*scale, &S, &M)
			}
			o := out[(s.off+i)*qDim+h*hd : (s.off+i)*qDim+(h+1)*hd]
			for d := range o {
				o[d] = acc[d] * (1 / S)
			}
		}
	})
}

// ggmlFlashStep adds one key to ggml's scalar flash attention with an f16 V accumulator
// (ggml_compute_forward_flash_attn_ext_f16, V in f16): the online-softmax update of the running
// maximum M, the sum S and the accumulator acc by the key's score sc and its value row v16
// (already rounded to f16; its first len(acc) entries are read).
func ggmlFlashStep(acc, v16 []float32, sc float32, S, M *float32) {
	ms, vs := float32(1), float32(1)
	if sc > *M {
		ms = libmExpf(*M - sc)
		*M = sc
		for d := range acc {
			acc[d] = roundF16(acc[d] * ms)
		}
	} else {
		vs = libmExpf(sc - *M)
	}
	for d := range acc {
		acc[d] = roundF16(acc[d] + ggmlF32(v16[d]*vs))
	}
	*S = ggmlF32(*S*ms) + vs
}

// This file also holds the scoring path of LoadOptions.F16KV: a scalar re-enactment of what
// Ollama v0.17.4's llama.cpp runner (and its Go engine, on the same ggml) computes on this CPU
// for a GGUF of any supported architecture (the gemma pieces: ggmlSequence). The runner's
// ggml is compiled by cgo at -O3 without -march, so on x86-64 it has no GGML_SIMD (SSE2 only):
// every kernel takes its scalar path, and the order of its float operations can be followed
// exactly. What it does, and what ggmlLogProbs does the same way:
//   - mul_mat (ggml_vec_dot_f32 / _f16 / _bf16): src1 is converted to the weight's
//     vec_dot_type (F16 weights: the activations are rounded to f16), each product is rounded to
//     float32 and summed in float64 (ggml_float), from the first column to the last;
//   - rms_norm: Σx² in float64 over float32 squares, mean rounded to float32,
//     scale = 1/sqrtf(mean+eps), y = x·scale, then a separate multiply by the norm weight;
//   - rope: the per-position cos/sin cache of ggml_rope_cache_init (theta *= theta_scale in
//     float32, theta_scale = powf(base, -2/n_dims), freq factors and linear freq_scale applied
//     to theta), cosf/sinf (the C library's: libmCosf, libmSinf), products rounded before the
//     sum;
//   - the KV cache is f16 and flash attention is on ("Flash Attention was auto, set to enabled"
//     in the runner's log): ggml_compute_forward_flash_attn_ext_f16_one_chunk with q rounded to
//     f16, f16·f16 dot products summed in float64, online softmax with expf (libmExpf), the V accumulator
//     held in f16 (VKQ16) and rounded after every scale and every multiply-add, then ·(1/S);
//   - swiglu: ggml_vec_swiglu_f32's SSE2 branch, 4 lanes at a time through ggml_v_expf (the
//     polynomial exp with separate multiplies and adds, no FMA without -mfma), the rest through
//     x/(1+expf(-x)) (libmExpf);
//   - geglu (gemma): ggml's f16 GELU table (ggmlGeluF16); tanh (soft-caps): glibc's tanhf
//     (libmTanhf);
//   - the runner's CalculateLogprobs: max logit, Σexp in float64, log-softmax in float32.
// Not followed: the order of the keys in ollama's Go-engine SWA cache (kvcache.Causal) once a
// sequence outgrows sliding_window + 1 tokens: it then reuses the freed cells, lowest first, and
// flash attention visits the keys in cell order; the re-enactment visits them by position.
// Against Q8_0 weights the activations are quantized to Q8_0 first, as the runner's vec_dot_type
// (ggmlQ8_0Act), and the dot products are ggml's block sums (ggmlDotQ8_0). Against Q4_K weights
// the vec_dot_type is Q8_K: the activations are quantized to Q8_K (ggmlQ8KAct) and each row's
// product is ggml_vec_dot_q4_K_q8_K's scalar path on the file's own Q4_K blocks (ggmlDotQ4K).
// Other k-quants (also Q8_K in the runner) are not re-enacted: such weights are multiplied as
// float32.

// ggmlF32 is float32 arithmetic as C's: the explicit conversions stop Go from fusing a
// multiply and an add (which it may do on some ISAs).
func ggmlF32(x float32) float32 { return x }

// ggmlDot is ggml_vec_dot_{f32,f16,bf16} on the scalar path; x is already converted to the
// weight's vec_dot_type.
func ggmlDot(w, x []float32) float32 {
	var s float64
	for i, v := range w {
		s += float64(ggmlF32(v * x[i]))
	}
	return float32(s)
}

// ggmlWeight is one weight as the runner holds it: its float32 values and its GGUF type, and
// for a Q4_K weight its blocks as the file holds them (q4k, rows × cols/256 blocks of 144 bytes;
// nil when they could not be read or do not decode to data: then it is multiplied as float32).
// A projection Load keeps encoded (residentEncoded) has no data until ggmlSequence decodes it
// for one block (decoded), into a buffer of one block's size: a scoring pass holds the encoded
// model and one block as float32, not the whole model twice (phi3-mini's 3.82B parameters would
// be 15.3 GB of float32 beside their encoding). Its Q4_K blocks are the encoding itself.
type ggmlWeight struct {
	data []float32
	typ  ggmlType
	q4k  []byte
	enc  *linear // the encoded projection, when data is nil
}

// decoded returns w with its values decoded into the front of buf, and the rest of buf; w as it
// is when it has its values, or Q4_K blocks that ggmlMatVec multiplies directly.
func (w ggmlWeight) decoded(buf []float32) (ggmlWeight, []float32) {
	if w.data != nil || w.q4k != nil {
		return w, buf
	}
	n := w.enc.out * w.enc.in
	w.data = w.enc.rows(buf[:n], 0, w.enc.out)
	return w, buf[n:]
}

// decodedSize is the float32 values decoded needs for w.
func (w ggmlWeight) decodedSize() int {
	if w.data != nil || w.q4k != nil {
		return 0
	}
	return w.enc.out * w.enc.in
}

// ggmlMatVec writes y[r] = ggml mul_mat row r of w against x (rows × len(x)).
func ggmlMatVec(y []float32, w ggmlWeight, x, xc []float32) {
	in := len(x)
	switch w.typ {
	case typeF16:
		for i, v := range x {
			xc[i] = roundF16(v)
		}
	case typeBF16:
		for i, v := range x {
			xc[i] = math.Float32frombits(uint32(kernels.F32ToBF16(v)) << 16)
		}
	case typeQ8_0:
		if in%32 != 0 {
			copy(xc, x)
			break
		}
		ggmlQ8_0Act(xc[:in], x)
	case typeQ4_K:
		if w.q4k != nil && in%256 == 0 {
			a := ggmlQ8KAct(x)
			rowBytes := in / 256 * 144
			for r := range y {
				y[r] = ggmlDotQ4K(w.q4k[r*rowBytes:(r+1)*rowBytes], a)
			}
			return
		}
		copy(xc, x)
	default:
		copy(xc, x)
	}
	dot := ggmlDot
	if w.typ == typeQ8_0 && in%32 == 0 {
		dot = ggmlDotQ8_0
	}
	for r := range y {
		y[r] = dot(w.data[r*in:(r+1)*in], xc[:in])
	}
}

// ggmlQ8_0Act is the activation side of ggml's mul_mat against Q8_0 weights (Q8_0's
// vec_dot_type is Q8_0) on the runner's scalar build: quantize_row_q8_0_ref (kernels.QuantizeQ8_0
// is that function: per block of 32, d = amax/127 stored as f16, q = roundf(x·(1/d)), half away
// from zero), so x enters the dot products as f16(d)·q, its decoding.
func ggmlQ8_0Act(dst, x []float32) {
	buf := make([]byte, len(x)/32*34)
	if kernels.QuantizeQ8_0(buf, x) != nil || kernels.Dequantize(kernels.TypeQ8_0, dst, buf) != nil {
		panic("model: ggmlQ8_0Act: a row of whole Q8_0 blocks") // ggmlMatVec calls it so
	}
}

// ggmlDotQ8_0 is ggml_vec_dot_q8_0_q8_0's scalar path on a Q8_0 row w (decoded: f16(d_w)·q_w)
// and a row x quantized by ggmlQ8_0Act: per block, the integer dot Σq_w·q_x times
// f16(d_w)·f16(d_x), rounded to float32 and added to a float32 sum, block after block. The
// block's float64 sum of the decoded products is that exact product (every term is d_w·d_x
// times an integer), so one conversion rounds it as ggml does. Bit-exact sums matter at Q8_0: a
// last-bit difference moves a later activation across a rounding boundary, a whole
// quantization step.
func ggmlDotQ8_0(w, x []float32) float32 {
	var sum float32
	for b := 0; b < len(w); b += 32 {
		var t float64
		for k := b; k < b+32; k++ {
			t += float64(w[k]) * float64(x[k])
		}
		sum = ggmlF32(sum + float32(t))
	}
	return sum
}

// ggmlQ8K is an activation row quantized to Q8_K blocks (block_q8_K: 256 values, float32 d,
// int8 quants, and the sums of each 16 quants).
type ggmlQ8K struct {
	d     []float32
	qs    []int8
	bsums []int32
}

// ggmlQ8KAct is quantize_row_q8_K_ref, which the runner's scalar x86 build calls for Q8_K (the
// vec_dot_type of the k-quants): per block of 256, max is the value of largest magnitude (the
// first such), iscale = −127/max in float32, q = nearest_int(iscale·x) capped at 127 (nearest_int
// adds 1.5·2²³ in float32 and takes the low mantissa bits: round half to even), d = 1/iscale; an
// all-zero block has d = 0 and q = 0.
func ggmlQ8KAct(x []float32) ggmlQ8K {
	nb := len(x) / 256
	a := ggmlQ8K{d: make([]float32, nb), qs: make([]int8, nb*256), bsums: make([]int32, nb*16)}
	for b := 0; b < nb; b++ {
		xb := x[b*256 : (b+1)*256]
		var mx, amax float32
		for _, v := range xb {
			if av := float32(math.Abs(float64(v))); av > amax {
				amax, mx = av, v
			}
		}
		if amax == 0 {
			continue
		}
		iscale := -127 / mx
		qs := a.qs[b*256 : (b+1)*256]
		for j, v := range xb {
			f := ggmlF32(iscale*v) + 12582912
			q := int32(math.Float32bits(f)&0x007fffff) - 0x00400000
			qs[j] = int8(min(127, q))
		}
		for j := 0; j < 16; j++ {
			var s int32
			for _, q := range qs[16*j : 16*j+16] {
				s += int32(q)
			}
			a.bsums[b*16+j] = s
		}
		a.d[b] = 1 / iscale
	}
	return a
}

// ggmlDotQ4K is ggml_vec_dot_q4_K_q8_K's scalar path (the runner's build has no AVX2) on one row
// of Q4_K blocks w and an activation row a: per block, eight integer lane sums
// aux[l] = Σ_j sc_j·Σ q8·q4 over the sub-block j's values at l mod 8, added as d·aux[l] (d =
// f16(d_w)·d_x in float32) to eight float32 lane sums kept across blocks; the mins as one
// integer Σ bsums·m, subtracted as (f16(dmin_w)·d_x)·Σ from a float32 sum; the eight lane sums
// are added to that sum, in order, after the last block.
func ggmlDotQ4K(w []byte, a ggmlQ8K) float32 {
	var sums [8]float32
	var sumf float32
	for b := range a.d {
		blk := w[b*144 : (b+1)*144]
		var sc, mn [8]int32
		for j := 0; j < 8; j++ {
			s, m := q4KScaleMin(j, blk[4:16])
			sc[j], mn[j] = int32(s), int32(m)
		}
		var sumi int32
		for j := 0; j < 16; j++ {
			sumi += a.bsums[b*16+j] * mn[j/2]
		}
		qs := blk[16:144]
		q8 := a.qs[b*256 : (b+1)*256]
		var aux [8]int32
		for j := 0; j < 8; j++ { // sub-block j: values 32j..32j+31
			nib := qs[32*(j/2) : 32*(j/2)+32] // low nibbles for even j, high for odd
			for k := 0; k < 32; k++ {
				q4 := int32(nib[k] & 0xF)
				if j%2 == 1 {
					q4 = int32(nib[k] >> 4)
				}
				aux[k%8] += sc[j] * int32(int16(int32(q8[32*j+k])*q4))
			}
		}
		d := ggmlF32(kernels.F16ToF32(binary.LittleEndian.Uint16(blk)) * a.d[b])
		for l := range sums {
			sums[l] = sums[l] + ggmlF32(d*float32(aux[l]))
		}
		dmin := ggmlF32(kernels.F16ToF32(binary.LittleEndian.Uint16(blk[2:])) * a.d[b])
		sumf = sumf - ggmlF32(dmin*float32(sumi))
	}
	for _, s := range sums {
		sumf += s
	}
	return sumf
}

// q4KScaleMin unpacks the 6-bit scale and min of a Q4_K block's sub-block j (get_scale_min_k4).
func q4KScaleMin(j int, q []byte) (sc, m byte) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xF | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// ggmlLinear is llama.cpp's build_lora_mm (+ bias): W·x, then scale·B·(A·x) added, then b.
func (m *Model) ggmlLinear(y []float32, l *linear, w ggmlWeight, x, xc []float32) {
	ggmlMatVec(y, w, x, xc)
	if a := l.lora; a != nil {
		ax := make([]float32, a.rank)
		ggmlMatVec(ax, ggmlWeight{data: a.a.Data, typ: typeF32}, x, xc)
		bx := make([]float32, l.out)
		ggmlMatVec(bx, ggmlWeight{data: a.b.Data, typ: typeF32}, ax, xc)
		for i := range y {
			y[i] += bx[i] * a.scale
		}
	}
	if l.b != nil {
		for i := range y {
			y[i] += l.b.Data[i]
		}
	}
}

// ggmlRMSNorm is ggml_rms_norm followed by ggml_mul with the norm weight.
func ggmlRMSNorm(y, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v * v)
	}
	mean := float32(sum / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	for i, v := range x {
		y[i] = (v * scale) * w[i]
	}
}

// ggmlRopeCache is ggml_rope_cache_init for one position: cos, sin of every rotated pair, for
// a block of RoPE base base and freq_scale freqScale (Config.layerRope). powf(base, −2/n_dims)
// is float32(math.Pow) here: glibc's powf gives the same bits for the bases and widths of the
// supported models (10⁴, 5·10⁵, 10⁶ over 32–256 dimensions, checked with a C program).
func (m *Model) ggmlRopeCache(cache []float32, p int, base, freqScale float32) {
	c := m.cfg
	thetaScale := float32(math.Pow(float64(base), float64(float32(-2)/float32(c.RopeDim))))
	ms := c.ropeMScale()
	theta := float32(p)
	for i := 0; i < c.RopeDim/2; i++ {
		ext := theta
		if c.RopeFreqs != nil {
			ext = theta / c.RopeFreqs[i]
		}
		th := freqScale * ext
		cache[2*i] = libmCosf(th) * ms
		cache[2*i+1] = libmSinf(th) * ms
		theta *= thetaScale
	}
}

// ggmlRope rotates one head in place as ggml's rotate_pairs (NORMAL: adjacent pairs; NEOX:
// halves).
func (m *Model) ggmlRope(x, cache []float32) {
	c := m.cfg
	nd := c.RopeDim
	for i := 0; i < nd/2; i++ {
		i0, i1 := 2*i, 2*i+1
		if c.RopeNeoX {
			i0, i1 = i, i+nd/2
		}
		cs, sn := cache[2*i], cache[2*i+1]
		x0, x1 := x[i0], x[i1]
		x[i0] = ggmlF32(x0*cs) - ggmlF32(x1*sn)
		x[i1] = ggmlF32(x0*sn) + ggmlF32(x1*cs)
	}
}

// ggmlVExpf is ggml_v_expf's SSE2 branch (no FMA) for one lane.
func ggmlVExpf(x float32) float32 {
	const (
		r   = float32(0x1.8p23)
		l2e = float32(0x1.715476p+0)
		c1  = float32(0x1.62e4p-1)
		c2  = float32(0x1.7f7d1cp-20)
		p0  = float32(0x1.0e4020p-7)
		p1  = float32(0x1.573e2ep-5)
		p2  = float32(0x1.555e66p-3)
		p3  = float32(0x1.fffdb6p-2)
		p4  = float32(0x1.ffffecp-1)
	)
	z := ggmlF32(x*l2e) + r
	n := z - r
	b := (x - ggmlF32(n*c1)) - ggmlF32(n*c2)
	e := math.Float32bits(z) << 23
	k := math.Float32frombits(e + math.Float32bits(1))
	u := b * b
	j := ggmlF32(ggmlF32((ggmlF32(p0*b)+p1)*u)+(ggmlF32(p2*b)+p3))*u + ggmlF32(p4*b)
	an := float32(math.Abs(float64(n)))
	if an <= 126 {
		return ggmlF32(k*j) + k
	}
	var g uint32
	if n <= 0 {
		g = 0x82000000
	}
	s1 := math.Float32frombits(g + 0x7f000000)
	s2 := math.Float32frombits(e - g)
	if an > 192 {
		return s1 * s1
	}
	return (ggmlF32(s2*j) + s2) * s1
}

// ggmlSwiGLU is ggml_vec_swiglu_f32 on an SSE2 build.
func ggmlSwiGLU(y, x, g []float32) {
	n, i := len(x), 0
	for ; i+3 < n; i += 4 {
		for l := i; l < i+4; l++ {
			y[l] = (x[l] / (1 + ggmlVExpf(0-x[l]))) * g[l]
		}
	}
	for ; i < n; i++ {
		y[i] = (x[i] / (1 + libmExpf(-x[i]))) * g[i]
	}
}

// ggmlGeluF16 is ggml's f16 GELU table (ggml_table_gelu_f16, filled by ggml_cpu_init): for
// every f16 bit pattern h, the f16 rounding of ggml_gelu_f32(h) = 0.5f·h·(1 + tanhf(√(2/π)·h·
// (1 + 0.044715·h·h))) in float arithmetic with glibc's tanhf. Built once; it never changes.
var ggmlGeluF16 = sync.OnceValue(func() []uint16 {
	const (
		coefA     = float32(0.044715)
		sqrt2OvPi = float32(0.79788456080286535587989211986876)
	)
	t := make([]uint16, 1<<16)
	for i := range t {
		x := kernels.F16ToF32(uint16(i))
		in := float32(float32(sqrt2OvPi*x) * (1 + float32(float32(coefA*x)*x)))
		t[i] = kernels.F32ToF16(float32(float32(0.5*x) * (1 + libmTanhf(in))))
	}
	return t
})

// ggmlGeGLU is ggml_vec_geglu_f32 with GGML_GELU_FP16 (ggml-cpu vec.h): gelu of x looked up in
// the f16 table at x rounded to f16, times g; 0 at x ≤ −10 and x·g at x ≥ 10.
func ggmlGeGLU(y, x, g []float32) {
	tab := ggmlGeluF16()
	for i, v := range x {
		switch {
		case v <= -10:
			y[i] = 0
		case v >= 10:
			y[i] = v * g[i]
		default:
			y[i] = kernels.F16ToF32(tab[kernels.F32ToF16(v)]) * g[i]
		}
	}
}

// ggmlWeights returns the runner's view of a weight: its values and GGUF type.
func (m *Model) ggmlWeights(p *Param, l *linear) ggmlWeight {
	typ, name := typeF32, p.Name
	for _, b := range m.bindings() { // a part of a fused tensor has the fused tensor's type
		if b.part != "" && b.part == p.Name {
			name = b.name
		}
	}
	var info *tensorInfo
	for i, t := range m.tensors {
		if t.name == name {
			typ, info = ggmlType(t.kind), &m.tensors[i]
			break
		}
	}
	w := ggmlWeight{data: p.Data, typ: typ}
	if l != nil && l.q != nil {
		w.data, w.enc = nil, l
		if typ == typeQ4_K && l.q.typ == typeQ4_K && l.in%256 == 0 {
			w.q4k = l.q.raw // the file's blocks (a fused part's rows of them)
		}
		return w
	}
	if l != nil {
		w.data = l.w.Data
	}
	if typ == typeQ4_K && info != nil {
		w.q4k = m.q4kCached(info, p.Name, w.data)
	}
	return w
}

// q4kCached is q4kRows read once per weight: the weights of an F16KV model do not change
// (it scores only), so every later pass reuses the blocks (or the nil of a weight without them).
func (m *Model) q4kCached(t *tensorInfo, name string, data []float32) []byte {
	m.q4kMu.Lock()
	defer m.q4kMu.Unlock()
	if raw, ok := m.q4kRaw[name]; ok {
		return raw
	}
	if m.q4kRaw == nil {
		m.q4kRaw = map[string][]byte{}
	}
	raw := m.q4kRows(t, name, data)
	m.q4kRaw[name] = raw
	return raw
}

// q4kRows reads the Q4_K blocks of the weight named name (data its values; a part of a fused
// tensor t is its rows of t) from the model's file, or returns nil when its rows are not whole
// blocks, the file cannot be read, or the blocks do not decode to exactly data (weights changed
// since the load): the product is then computed from the float32 values.
func (m *Model) q4kRows(t *tensorInfo, name string, data []float32) []byte {
	n := len(data)
	if len(t.shape) != 2 || t.shape[0]%256 != 0 || m.path == "" || n == 0 {
		return nil
	}
	cols := int(t.shape[0])
	rowBytes := int64(cols / 256 * 144)
	rowOff := 0
	for _, b := range m.bindings() {
		if b.part != "" && b.part == name {
			rowOff = b.rowOff
		}
	}
	rows := n / cols
	if int64(rowOff+rows)*rowBytes > t.size {
		return nil
	}
	f, err := os.Open(m.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	raw := make([]byte, int64(rows)*rowBytes)
	if _, err := f.ReadAt(raw, t.off+int64(rowOff)*rowBytes); err != nil {
		return nil
	}
	dec := make([]float32, rows*cols)
	if kernels.Dequantize(kernels.TypeQ4_K, dec, raw) != nil {
		return nil
	}
	for i, v := range dec {
		if math.Float32bits(v) != math.Float32bits(data[i]) {
			return nil
		}
	}
	return raw
}

// ggmlLogProbs is LogProbs for LoadOptions.F16KV: each sequence as the runner evaluates it
// (see the comment at the top of this part of the file), one sequence per goroutine.
func (m *Model) ggmlLogProbs(seqs []Sequence) ([][]float32, error) {
	p, err := m.pack(seqs, false)
	if err != nil {
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	c := m.cfg
	bw := make([]ggmlBlock, c.Layers)
	for l := range m.blocks {
		b := &m.blocks[l]
		bw[l] = ggmlBlock{m.ggmlWeights(b.q.w, &b.q), m.ggmlWeights(b.k.w, &b.k), m.ggmlWeights(b.v.w, &b.v),
			m.ggmlWeights(b.o.w, &b.o), m.ggmlWeights(b.gate.w, &b.gate), m.ggmlWeights(b.up.w, &b.up),
			m.ggmlWeights(b.down.w, &b.down)}
	}
	head := m.ggmlWeights(m.lmHead(), nil)
	// The rows each sequence must score, in LogProbs order.
	lp := make([]float32, len(p.rows))
	first := make([]int, len(p.spans)+1) // index into p.rows of each span's first scored row
	for si, s := range p.spans {
		first[si+1] = first[si]
		for first[si+1] < len(p.rows) && p.rows[first[si+1]] < s.off+s.n {
			first[si+1]++
		}
	}
	parallelFor(m.threads, len(p.spans), func(si int) {
		s := p.spans[si]
		m.ggmlSequence(lp[first[si]:first[si+1]], p.tokens[s.off:s.off+s.n], p.rows[first[si]:first[si+1]], s.off,
			p.tgts[first[si]:first[si+1]], bw, head)
	})
	return splitMasked(lp, seqs), nil
}

// ggmlScales returns what the runner's graph multiplies the attention scores by: qScale on q
// after RoPE (a ggml_scale node), and flash attention's kq_scale. llama, qwen2 and qwen3 pass
// 1.0f/sqrtf(hd) as kq_scale (llm_build_llama, ollama's qwen3 Attention); the architectures
// marked qScaledFirst scale q first, by Config.AttnScale when their config sets it as their
// runner computes it (gemma2.go, gemma3.go), else by 1.0f/sqrtf(hd) (phi3), with a kq_scale of 1.
func (c Config) ggmlScales() (qScale, kqScale float32) {
	inv := 1 / float32(math.Sqrt(float64(c.HeadDim)))
	if spec, _ := archTraits(c.Arch); !spec.qScaledFirst {
		return 1, inv
	}
	if c.AttnScale != 0 {
		return c.AttnScale, 1
	}
	return inv, 1
}

// ggmlBlock is one block's weights as the runner holds them.
type ggmlBlock struct{ q, k, v, o, gate, up, down ggmlWeight }

func (b *ggmlBlock) weights() []*ggmlWeight {
	return []*ggmlWeight{&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down}
}

// decoded returns b with every encoded projection decoded into buf (ggmlWeight.decoded).
func (b ggmlBlock) decoded(buf []float32) ggmlBlock {
	for _, w := range b.weights() {
		*w, buf = w.decoded(buf)
	}
	return b
}

// decodedSize is the float32 values decoded needs for b.
func (b ggmlBlock) decodedSize() int {
	n := 0
	for _, w := range b.weights() {
		n += w.decodedSize()
	}
	return n
}

// ggmlSequence scores one sequence: lp[i] = log p(tgts[i] | tokens[:rows[i]-off+1]). Besides
// the llama block it follows the gemma graphs (llm_build_gemma2_iswa; ollama's gemma3
// TextModel): the embedding times √dim (ggml_scale by sqrtf(dim)), the post-attention and
// post-FFN norms before each residual add, geglu (ggmlGeGLU), the attention soft-cap inside
// flash attention (kq_scale /= cap, then s = cap·tanhf(s): ggml's flash_attn_ext with
// logit_softcap), the sliding window as masked (skipped) keys, each block's RoPE base and
// scale, and the final soft-cap as scale, tanh, scale nodes.
func (m *Model) ggmlSequence(lp []float32, tokens []int32, rows []int, off int, tgts []int32, bw []ggmlBlock, head ggmlWeight) {
	c := m.cfg
	n, D, F := len(tokens), c.Dim, c.FFN
	H, KV, hd := c.Heads, c.KVHeads, c.HeadDim
	rep := H / KV
	qDim, kvDim := H*hd, KV*hd
	qScale, scale := c.ggmlScales()
	softcap := c.AttnSoftcap
	if softcap != 0 {
		scale /= softcap
	}
	x := make([]float32, n*D)
	for t, id := range tokens {
		xt := x[t*D : (t+1)*D]
		copy(xt, m.embed.Data[int(id)*D:(int(id)+1)*D])
		if c.EmbedScale != 0 {
			for i := range xt {
				xt[i] *= c.EmbedScale
			}
		}
	}
	xn := make([]float32, D)
	xc := make([]float32, max(D, F, qDim))
	q := make([]float32, n*qDim)
	k16 := make([]float32, n*kvDim)
	v16 := make([]float32, n*kvDim)
	ao := make([]float32, qDim)
	tmp := make([]float32, max(D, F))
	gate, up, h := make([]float32, F), make([]float32, F), make([]float32, F)
	cache := make([]float32, c.RopeDim)
	q16, acc := make([]float32, hd), make([]float32, hd)
	// residual adds out (normalized by the post-norm w when the model has them) to xt.
	residual := func(xt, out []float32, w *Param) {
		if c.PostNorms {
			ggmlRMSNorm(out, out, w.Data, c.Eps)
		}
		for i := range xt {
			xt[i] = out[i] + xt[i]
		}
	}
	var wbuf []float32 // one block's encoded projections, decoded
	for l := range bw {
		wbuf = slices.Grow(wbuf, bw[l].decodedSize())
	}
	for l := 0; l < c.Layers; l++ {
		b := &m.blocks[l]
		w := bw[l].decoded(wbuf[:cap(wbuf)])
		theta, freqScale := c.layerRope(l)
		for t := 0; t < n; t++ {
			xt := x[t*D : (t+1)*D]
			ggmlRMSNorm(xn, xt, b.attnNorm.Data, c.Eps)
			qt, kt, vt := q[t*qDim:(t+1)*qDim], k16[t*kvDim:(t+1)*kvDim], v16[t*kvDim:(t+1)*kvDim]
			m.ggmlLinear(qt, &b.q, w.q, xn, xc)
			m.ggmlLinear(kt, &b.k, w.k, xn, xc)
			m.ggmlLinear(vt, &b.v, w.v, xn, xc)
			if c.QKNorm { // rms_norm + mul over each head (qwen3, gemma3)
				for hh := 0; hh < H; hh++ {
					ggmlRMSNorm(qt[hh*hd:(hh+1)*hd], qt[hh*hd:(hh+1)*hd], b.qNorm.Data, c.Eps)
				}
				for g := 0; g < KV; g++ {
					ggmlRMSNorm(kt[g*hd:(g+1)*hd], kt[g*hd:(g+1)*hd], b.kNorm.Data, c.Eps)
				}
			}
			m.ggmlRopeCache(cache, t, theta, freqScale)
			for hh := 0; hh < H; hh++ {
				m.ggmlRope(qt[hh*hd:(hh+1)*hd], cache)
			}
			if qScale != 1 {
				for i := range qt {
					qt[i] *= qScale
				}
			}
			for g := 0; g < KV; g++ {
				m.ggmlRope(kt[g*hd:(g+1)*hd], cache)
			}
			for i := range kt { // the f16 KV cache
				kt[i], vt[i] = roundF16(kt[i]), roundF16(vt[i])
			}
		}
		for t := 0; t < n; t++ {
			j0 := 0 // the first key row t sees
			if c.windowed(l) {
				j0 = max(0, t-c.Window+1)
			}
			for hh := 0; hh < H; hh++ {
				g := hh / rep
				for d := range q16 {
					q16[d] = roundF16(q[t*qDim+hh*hd+d])
				}
				clear(acc)
				S, M := float32(0), float32(math.Inf(-1))
				for j := j0; j <= t; j++ {
					sc := ggmlDot(k16[j*kvDim+g*hd:j*kvDim+(g+1)*hd], q16) * scale
					if softcap != 0 {
						sc = softcap * libmTanhf(sc)
					}
					ggmlFlashStep(acc, v16[j*kvDim+g*hd:], sc, &S, &M)
				}
				inv := float32(0)
				if S != 0 {
					inv = 1 / S
				}
				for d := range acc {
					ao[hh*hd+d] = acc[d] * inv
				}
			}
			xt := x[t*D : (t+1)*D]
			m.ggmlLinear(tmp[:D], &b.o, w.o, ao, xc)
			residual(xt, tmp[:D], b.postAttnNorm)
			ggmlRMSNorm(xn, xt, b.ffnNorm.Data, c.Eps)
			m.ggmlLinear(up, &b.up, w.up, xn, xc)
			m.ggmlLinear(gate, &b.gate, w.gate, xn, xc)
			if c.GeGLU {
				ggmlGeGLU(h, gate, up)
			} else {
				ggmlSwiGLU(h, gate, up)
			}
			m.ggmlLinear(tmp[:D], &b.down, w.down, h, xc)
			residual(xt, tmp[:D], b.postFFNNorm)
		}
	}
	logits := make([]float32, c.Vocab)
	spec, _ := archTraits(c.Arch)
	for i, r := range rows {
		ggmlRMSNorm(xn, x[(r-off)*D:(r-off+1)*D], m.outNorm.Data, c.Eps)
		ggmlMatVec(logits, head, xn, xc)
		if cp := c.FinalSoftcap; cp != 0 {
			ggmlSoftcap(logits, cp, spec.goEngine)
		}
		lp[i] = ollamaLogprob(logits, int(tgts[i]))
	}
}

// ggmlSoftcap is the final soft-cap as the runners build it: ggml_scale by 1/c, ggml_tanh
// (tanhf), ggml_scale by c. llama.cpp computes 1.0f/c in float; ollama's Go engine (goInverse)
// passes 1.0/float64(c) rounded to float32.
func ggmlSoftcap(z []float32, c float32, goInverse bool) {
	inv := 1 / c
	if goInverse {
		inv = float32(1 / float64(c))
	}
	for i, v := range z {
		z[i] = libmTanhf(v*inv) * c
	}
}

// ollamaLogprob is the runner's CalculateLogprobs for one token.
func ollamaLogprob(logits []float32, tok int) float32 {
	mx := logits[0]
	for _, v := range logits[1:] {
		mx = max(mx, v)
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v - mx))
	}
	lse := float32(math.Log(sum))
	return (logits[tok] - mx) - lse
}
