package kernels

import (
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/ollama/ollama/fs/ggml"
	"github.com/x448/float16"
)

func f16(f float32) []byte { return binary.LittleEndian.AppendUint16(nil, F32ToF16(f)) }

func TestBlockSizeMatchesOllama(t *testing.T) {
	for typ := range typeInfo {
		el, by := BlockSize(typ)
		ot := ggml.TensorType(typ)
		if uint64(el) != ot.BlockSize() || uint64(by) != ot.TypeSize() {
			t.Errorf("%s: (%d, %d), ollama says (%d, %d)", typ, el, by, ot.BlockSize(), ot.TypeSize())
		}
		if typ.String() != ot.String() {
			t.Errorf("name %s, ollama %s", typ, ot.String())
		}
	}
	if el, by := BlockSize(GGMLType(999)); el != 0 || by != 0 {
		t.Error("unknown type has a block size")
	}
	if err := Dequantize(GGMLType(39), make([]float32, 256), make([]byte, 1000)); err == nil {
		t.Error("MXFP4 accepted")
	} else if !strings.Contains(err.Error(), "type(39)") {
		t.Errorf("MXFP4 refused without naming the type: %v", err)
	}
	if err := Dequantize(TypeQ8_0, make([]float32, 33), make([]byte, 1000)); err == nil {
		t.Error("partial block accepted")
	}
	if err := Dequantize(TypeQ8_0, make([]float32, 64), make([]byte, 67)); err == nil {
		t.Error("short source accepted")
	}
}

func TestF16Conversion(t *testing.T) {
	// Every binary16 value converts exactly, and back (NaNs keep being NaN).
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		want := float16.Frombits(uint16(h)).Float32()
		if math.Float32bits(f) != math.Float32bits(want) && !(f != f && want != want) {
			t.Fatalf("F16ToF32(%#04x)=%g want %g", h, f, want)
		}
		if f == f && F32ToF16(f) != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, F32ToF16(f))
		}
	}
	// Rounding of float32 values: compare with x448/float16 (round to nearest even).
	r := rand.New(rand.NewPCG(31, 32))
	for i := 0; i < 200000; i++ {
		f := math.Float32frombits(r.Uint32())
		if f != f {
			continue
		}
		if got, want := F32ToF16(f), float16.Fromfloat32(f).Bits(); got != want {
			t.Fatalf("F32ToF16(%g)=%#04x want %#04x", f, got, want)
		}
	}
	for _, c := range []struct {
		f float32
		h uint16
	}{{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {5.960464477539063e-08, 0x0001},
		{2.98e-08, 0x0000}, {2.99e-08, 0x0001}, {float32(math.Inf(-1)), 0xfc00}} {
		if got := F32ToF16(c.f); got != c.h {
			t.Errorf("F32ToF16(%g)=%#04x want %#04x", c.f, got, c.h)
		}
	}
}

func TestBF16(t *testing.T) {
	cases := []struct {
		f float32
		h uint16
	}{{1, 0x3f80}, {-2, 0xc000}, {math.Float32frombits(0x3f808000), 0x3f80}, // tie to even (down)
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie to even (up)
		{math.Float32frombits(0x3f808001), 0x3f81}, {math.Float32frombits(0x00000001), 0x0000},
		{math.Float32frombits(0x00018000), 0x0002}, // subnormals are kept, not flushed
		{math.Float32frombits(0x7f800001), 0x7fc0}, // NaN forced quiet
	}
	for _, c := range cases {
		if got := F32ToBF16(c.f); got != c.h {
			t.Errorf("F32ToBF16(%#08x)=%#04x want %#04x", math.Float32bits(c.f), got, c.h)
		}
	}
	src := []float32{1.5, -3.25, 1e-39, 7}
	raw := make([]byte, 8)
	QuantizeBF16(raw, src)
	dst := make([]float32, 4)
	if err := Dequantize(TypeBF16, dst, raw); err != nil {
		t.Fatal(err)
	}
	for i, v := range src {
		if want := math.Float32frombits(math.Float32bits(v) &^ 0xffff); i != 2 && dst[i] != want {
			t.Errorf("bf16 roundtrip %g -> %g", v, dst[i])
		}
	}
}

func TestQ8_0(t *testing.T) {
	src := make([]float32, 64)
	for i := range src {
		src[i] = float32(i-20) * 0.37
	}
	src[40] = -0.37 * 127 // the largest magnitude: q = -127 exactly
	raw := make([]byte, 68)
	if err := QuantizeQ8_0(raw, src); err != nil {
		t.Fatal(err)
	}
	// Block 0: max |x| = 20*0.37 = 7.4, d = 7.4/127.
	d0 := F16ToF32(binary.LittleEndian.Uint16(raw))
	if want := F16ToF32(F32ToF16(float32(20*0.37) / 127)); d0 != want {
		t.Errorf("d0=%g want %g", d0, want)
	}
	if q := int8(raw[2]); q != -127 { // x[0] = -7.4
		t.Errorf("q[0]=%d want -127", q)
	}
	if q := int8(raw[2+20]); q != 0 {
		t.Errorf("q[20]=%d want 0", q)
	}
	dst := make([]float32, 64)
	if err := Dequantize(TypeQ8_0, dst, raw); err != nil {
		t.Fatal(err)
	}
	for i := range src {
		d := F16ToF32(binary.LittleEndian.Uint16(raw[(i/32)*34:]))
		if math.Abs(float64(dst[i]-src[i])) > float64(d)*0.51+1e-6 {
			t.Errorf("q8_0 roundtrip [%d] %g -> %g (d=%g)", i, src[i], dst[i], d)
		}
	}
	if err := QuantizeQ8_0(raw, src[:33]); err == nil {
		t.Error("33 values accepted")
	}
	// Zero block: d = 0, all q = 0.
	zero := make([]byte, 34)
	if err := QuantizeQ8_0(zero, make([]float32, 32)); err != nil {
		t.Fatal(err)
	}
	for _, b := range zero {
		if b != 0 {
			t.Fatal("zero block not all zero bytes")
		}
	}
}

// Hand-built blocks with known values (exactly representable, so the expected floats are exact).
func TestDequantizeHandBuilt(t *testing.T) {
	check := func(name string, typ GGMLType, blk []byte, want []float32) {
		t.Helper()
		dst := make([]float32, len(want))
		if err := Dequantize(typ, dst, blk); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range want {
			if dst[i] != want[i] {
				t.Fatalf("%s[%d]=%g want %g", name, i, dst[i], want[i])
			}
		}
	}
	// Q4_0: d=0.5, byte j holds low nibble j%16 and high nibble 15-j%16.
	{
		blk := f16(0.5)
		want := make([]float32, 32)
		for j := 0; j < 16; j++ {
			lo, hi := j, 15-j
			blk = append(blk, byte(lo|hi<<4))
			want[j] = float32(lo-8) * 0.5
			want[j+16] = float32(hi-8) * 0.5
		}
		check("q4_0", TypeQ4_0, blk, want)
	}
	// Q4_1: d=0.25, m=-1.
	{
		blk := append(f16(0.25), f16(-1)...)
		want := make([]float32, 32)
		for j := 0; j < 16; j++ {
			lo, hi := (j*3)%16, (j*5+1)%16
			blk = append(blk, byte(lo|hi<<4))
			want[j] = float32(lo)*0.25 - 1
			want[j+16] = float32(hi)*0.25 - 1
		}
		check("q4_1", TypeQ4_1, blk, want)
	}
	// Q5_0 and Q5_1: the fifth bit of element j is bit j of qh, of element j+16 bit j+16.
	{
		qh := uint32(0xA5C3_0F69)
		qs := make([]byte, 16)
		w0, w1 := make([]float32, 32), make([]float32, 32)
		for j := 0; j < 16; j++ {
			lo, hi := (j*7)%16, (j*11+3)%16
			qs[j] = byte(lo | hi<<4)
			q0 := lo | int(qh>>uint(j)&1)<<4
			q1 := hi | int(qh>>uint(j+16)&1)<<4
			w0[j], w0[j+16] = float32(q0-16)*2, float32(q1-16)*2
			w1[j], w1[j+16] = float32(q0)*0.5+3, float32(q1)*0.5+3
		}
		b0 := append(binary.LittleEndian.AppendUint32(f16(2), qh), qs...)
		check("q5_0", TypeQ5_0, b0, w0)
		b1 := append(binary.LittleEndian.AppendUint32(append(f16(0.5), f16(3)...), qh), qs...)
		check("q5_1", TypeQ5_1, b1, w1)
	}
	// Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit (scale, min) pairs packed as ggml does.
	sc := [8]int{1, 2, 3, 63, 17, 40, 5, 33}
	mn := [8]int{0, 1, 62, 7, 21, 9, 63, 2}
	scales := packScalesK4(sc, mn)
	{
		d, dmin := float32(0.5), float32(0.25)
		blk := append(append(f16(d), f16(dmin)...), scales[:]...)
		qs := make([]byte, 128)
		want := make([]float32, 256)
		for i := range qs {
			lo, hi := (i*3+1)%16, (i*7)%16
			qs[i] = byte(lo | hi<<4)
		}
		for g := 0; g < 4; g++ { // 64 values per group: low nibbles then high nibbles of 32 bytes
			for l := 0; l < 32; l++ {
				q := qs[g*32+l]
				want[g*64+l] = d*float32(sc[2*g])*float32(q&0xF) - dmin*float32(mn[2*g])
				want[g*64+32+l] = d*float32(sc[2*g+1])*float32(q>>4) - dmin*float32(mn[2*g+1])
			}
		}
		check("q4_k", TypeQ4_K, append(blk, qs...), want)

		qh := make([]byte, 32)
		for i := range qh {
			qh[i] = byte(i*37 + 11)
		}
		want5 := make([]float32, 256)
		for g := 0; g < 4; g++ {
			for l := 0; l < 32; l++ {
				q := qs[g*32+l]
				h0 := int(qh[l]>>uint(2*g)&1) << 4
				h1 := int(qh[l]>>uint(2*g+1)&1) << 4
				want5[g*64+l] = d*float32(sc[2*g])*float32(int(q&0xF)+h0) - dmin*float32(mn[2*g])
				want5[g*64+32+l] = d*float32(sc[2*g+1])*float32(int(q>>4)+h1) - dmin*float32(mn[2*g+1])
			}
		}
		blk5 := append(append(append(append(f16(d), f16(dmin)...), scales[:]...), qh...), qs...)
		check("q5_k", TypeQ5_K, blk5, want5)
	}
	// Q6_K: 6-bit values q in [0,64) minus 32, 16 int8 scales, one per 16 values.
	{
		d := float32(0.125)
		q := make([]int, 256)
		for i := range q {
			q[i] = (i*13 + 5) % 64
		}
		scl := make([]int8, 16)
		for i := range scl {
			scl[i] = int8(i*9 - 70)
		}
		ql, qh := make([]byte, 128), make([]byte, 64)
		// layout per 128-value half n: ql[l] holds q[l] (low) and q[l+64] (high), ql[l+32] holds
		// q[l+32] and q[l+96]; qh[l] holds the top 2 bits of q[l], q[l+32], q[l+64], q[l+96].
		for n := 0; n < 2; n++ {
			for l := 0; l < 32; l++ {
				a, b, c, e := q[n*128+l], q[n*128+l+32], q[n*128+l+64], q[n*128+l+96]
				ql[n*64+l] = byte(a&0xF | (c&0xF)<<4)
				ql[n*64+l+32] = byte(b&0xF | (e&0xF)<<4)
				qh[n*32+l] = byte(a>>4 | (b>>4)<<2 | (c>>4)<<4 | (e>>4)<<6)
			}
		}
		want := make([]float32, 256)
		for i := range want {
			want[i] = d * float32(scl[i/16]) * float32(q[i]-32)
		}
		blk := append(append([]byte{}, ql...), qh...)
		for _, s := range scl {
			blk = append(blk, byte(s))
		}
		check("q6_k", TypeQ6_K, append(blk, f16(d)...), want)
	}
}

// packScalesK4 packs eight 6-bit (scale, min) pairs the way ggml's Q4_K/Q5_K quantizers do.
func packScalesK4(sc, mn [8]int) (out [12]byte) {
	for j := 0; j < 8; j++ {
		if j < 4 {
			out[j] = byte(sc[j])
			out[j+4] = byte(mn[j])
		} else {
			out[j+4] = byte(sc[j]&0xF | (mn[j]&0xF)<<4)
			out[j-4] |= byte(sc[j]>>4) << 6
			out[j] |= byte(mn[j]>>4) << 6
		}
	}
	return out
}

// TestDequantizeModelF16 converts every F16 tensor of the tiny test model and checks each value
// against x448/float16, and that re-quantizing gives the file's bytes back.
func TestDequantizeModelF16(t *testing.T) {
	path := "../testdata/models/llama-2-tiny-random.gguf"
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	g, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	ts := g.Tensors()
	n := 0
	for _, tn := range ts.Items() {
		typ := GGMLType(tn.Kind)
		if typ != TypeF16 && typ != TypeF32 {
			continue
		}
		el, by := BlockSize(typ)
		raw := make([]byte, tn.Elements()/uint64(el)*uint64(by))
		if _, err := f.Seek(int64(ts.Offset+tn.Offset), io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(f, raw); err != nil {
			t.Fatalf("%s: %v", tn.Name, err)
		}
		dst := make([]float32, tn.Elements())
		if err := Dequantize(typ, dst, raw); err != nil {
			t.Fatalf("%s: %v", tn.Name, err)
		}
		if typ != TypeF16 {
			continue
		}
		n++
		for i, v := range dst {
			h := binary.LittleEndian.Uint16(raw[2*i:])
			if want := float16.Frombits(h).Float32(); math.Float32bits(v) != math.Float32bits(want) {
				t.Fatalf("%s[%d]: %g want %g", tn.Name, i, v, want)
			}
		}
		back := make([]byte, len(raw))
		QuantizeF16(back, dst)
		for i := range back {
			if back[i] != raw[i] {
				t.Fatalf("%s: F16 roundtrip differs at byte %d", tn.Name, i)
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s has no F16 tensor", path)
	}
	t.Logf("%d F16 tensors checked", n)
}
