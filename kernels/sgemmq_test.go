package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// randEncoded returns rows×cols values of type t as random GGUF blocks: random quants, and
// scales drawn so that every value is finite and of order one.
func randEncoded(r *rand.Rand, t GGMLType, rows, cols int) []byte {
	elems, bytes := BlockSize(t)
	nb := rows * cols / elems
	raw := make([]byte, nb*bytes)
	for i := range raw {
		raw[i] = byte(r.IntN(256))
	}
	f16 := func(b []byte, lo, hi float64) {
		binary.LittleEndian.PutUint16(b, F32ToF16(float32(lo+(hi-lo)*r.Float64())))
	}
	for b := 0; b < nb; b++ {
		blk := raw[b*bytes : (b+1)*bytes]
		switch t {
		case TypeF32:
			binary.LittleEndian.PutUint32(blk, math.Float32bits(float32(r.NormFloat64())))
		case TypeF16:
			f16(blk, -1, 1)
		case TypeBF16:
			binary.LittleEndian.PutUint16(blk, F32ToBF16(float32(r.NormFloat64())))
		case TypeQ8_0:
			f16(blk, 0.001, 0.02)
		case TypeQ4_0:
			f16(blk, 0.01, 0.2)
		case TypeQ4_K, TypeQ5_K:
			f16(blk, 0.001, 0.02)
			f16(blk[2:], 0.001, 0.02)
		case TypeQ6_K:
			f16(blk[bytes-2:], 0.0005, 0.005)
		}
	}
	return raw
}

// quantTypes are the encodings a frozen base may stay resident in.
var quantTypes = []GGMLType{TypeF32, TypeF16, TypeBF16, TypeQ8_0, TypeQ4_0, TypeQ4_K, TypeQ5_K, TypeQ6_K}

// TestSgemmQ: for every implementation and encoding, SgemmQ is bit-identical to Sgemm on the
// decoded float32 matrix, for op(W) = Wᵀ (forward) and W (backward), K slices that do and do not
// fall on block boundaries, edge tiles, beta 0 and 1, and 1 and 3 threads; and it agrees with a
// float64 product of the decoded values.
func TestSgemmQ(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, typ := range quantTypes {
			elems, _ := BlockSize(typ)
			for _, sh := range [][3]int{{37, 100, 256}, {20, 64, 768}, {13, 768, 256}} { // m, rows, cols
				m, rows, cols := sh[0], sh[1], sh[2]
				if cols%elems != 0 {
					continue
				}
				q, err := NewQMatrix(typ, randEncoded(r, typ, rows, cols), rows, cols)
				if err != nil {
					t.Fatal(err)
				}
				dense := make([]float32, rows*cols)
				q.DecodeRows(dense, 0, rows)
				for _, transW := range []bool{true, false} {
					n, k := rows, cols // C = A·Wᵀ: A is m×cols
					if !transW {
						n, k = cols, rows // C = A·W: A is m×rows
					}
					a := randVec(r, m*k, 1)
					c0 := randVec(r, m*n, 1)
					for _, beta := range []float32{0, 1} {
						for _, threads := range []int{1, 3} {
							want := append([]float32(nil), c0...)
							got := append([]float32(nil), c0...)
							ldb := k
							if !transW {
								ldb = n
							}
							sgemmWith(im, threads, false, transW, m, n, k, 0.5, a, k, dense, ldb, beta, want, n)
							sgemmQWith(im, threads, transW, m, n, k, 0.5, a, k, q, beta, got, n)
							for i := range want {
								if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
									t.Fatalf("%s %v transW %v beta %g threads %d: C[%d] = %g, dense %g", typ, sh, transW, beta, threads, i, got[i], want[i])
								}
							}
						}
					}
					// The float64 reference of one row of C.
					got := make([]float32, m*n)
					sgemmQWith(im, 2, transW, m, n, k, 1, a, k, q, 0, got, n)
					i := m / 2
					for j := 0; j < n; j++ {
						var s, mag float64
						for p := 0; p < k; p++ {
							var wv float32
							if transW {
								wv = dense[j*cols+p]
							} else {
								wv = dense[p*cols+j]
							}
							s += float64(a[i*k+p]) * float64(wv)
							mag += math.Abs(float64(a[i*k+p]) * float64(wv))
						}
						if math.Abs(float64(got[i*n+j])-s) > 1e-5*mag+1e-30 {
							t.Fatalf("%s %v transW %v: C[%d,%d] = %g, float64 %g", typ, sh, transW, i, j, got[i*n+j], s)
						}
					}
				}
			}
		}
	})
}

// TestQMatrixBadInput: a layout that is not whole blocks, or too few bytes, is an error.
func TestQMatrixBadInput(t *testing.T) {
	if _, err := NewQMatrix(TypeQ4_K, make([]byte, 144), 1, 128); err == nil {
		t.Error("Q4_K rows of 128 accepted")
	}
	if _, err := NewQMatrix(TypeQ8_0, make([]byte, 33), 1, 32); err == nil {
		t.Error("short Q8_0 data accepted")
	}
	if _, err := NewQMatrix(GGMLType(99), make([]byte, 32), 1, 32); err == nil {
		t.Error("unknown type accepted")
	}
}
