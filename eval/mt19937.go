package eval

import (
	"crypto/sha512"
	"encoding/binary"
	"math"
	"strconv"
)

// mt19937 is the Mersenne Twister (Matsumoto & Nishimura 1998) that both CPython's `random`
// module and NumPy's legacy `np.random` use. align needs bit-exact copies of two of their
// uses: AlpacaEval seeds `random.Random(str)` to decide the judge's output order, and
// Arena-Hard v0.1 bootstraps with `np.random.seed(42)` + `DataFrame.sample(replace=True)`.
type mt19937 struct {
	mt  [624]uint32
	idx int
}

// newMT19937 seeds with a single 32-bit integer (init_genrand; NumPy's legacy int seed).
func newMT19937(seed uint32) *mt19937 {
	r := &mt19937{}
	r.initGenrand(seed)
	return r
}

func (r *mt19937) initGenrand(s uint32) {
	r.mt[0] = s
	for i := 1; i < 624; i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	r.idx = 624
}

// initByArray is the reference init_by_array, which CPython uses for every seed.
func (r *mt19937) initByArray(key []uint32) {
	r.initGenrand(19650218)
	i, j := 1, 0
	k := 624
	if len(key) > k {
		k = len(key)
	}
	for ; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= 624 {
			r.mt[0] = r.mt[623]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k = 623; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= 624 {
			r.mt[0] = r.mt[623]
			i = 1
		}
	}
	r.mt[0] = 0x80000000
	r.idx = 624
}

func (r *mt19937) uint32() uint32 {
	if r.idx >= 624 {
		const upper, lower = 0x80000000, 0x7fffffff
		for k := 0; k < 624; k++ {
			y := (r.mt[k] & upper) | (r.mt[(k+1)%624] & lower)
			v := r.mt[(k+397)%624] ^ (y >> 1)
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			r.mt[k] = v
		}
		r.idx = 0
	}
	y := r.mt[r.idx]
	r.idx++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// float64 is genrand_res53, CPython's random() and NumPy's legacy random_sample().
func (r *mt19937) float64() float64 {
	a := r.uint32() >> 5
	b := r.uint32() >> 6
	return (float64(a)*67108864 + float64(b)) * (1.0 / 9007199254740992.0)
}

// pythonRandomFromString seeds like CPython's random.Random(s) for a str s (seed version 2):
// the integer int.from_bytes(s.encode() + sha512(s.encode()).digest(), "big"), split into
// 32-bit words, least significant first, fed to init_by_array.
func pythonRandomFromString(s string) *mt19937 {
	b := []byte(s)
	sum := sha512.Sum512(b)
	b = append(b, sum[:]...)
	for len(b) > 0 && b[0] == 0 { // from_bytes drops leading zero bytes
		b = b[1:]
	}
	if pad := (4 - len(b)%4) % 4; pad > 0 {
		b = append(make([]byte, pad), b...)
	}
	n := len(b) / 4
	key := make([]uint32, 0, n)
	for w := n - 1; w >= 0; w-- {
		key = append(key, binary.BigEndian.Uint32(b[4*w:]))
	}
	if len(key) == 0 {
		key = []uint32{0}
	}
	r := &mt19937{}
	r.initByArray(key)
	return r
}

// boundedMasked is NumPy's legacy RandomState.randint(0, high) for one element of an int64
// array when high-1 fits in 32 bits: masked rejection sampling on 32-bit draws
// (random_bounded_uint64_fill with use_masked=True).
func (r *mt19937) boundedMasked(high int) int {
	rng := uint32(high - 1)
	if rng == 0 {
		return 0
	}
	mask := rng
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	for {
		v := r.uint32() & mask
		if v <= rng {
			return int(v)
		}
	}
}

// alpacaEvalIsSwitched says whether AlpacaEval's RandomSwitchTwoColumnsProcessor swaps
// output_1 and output_2 before the judge sees them. It seeds random.Random with
// "is_switched_outputs" + instruction + str(seed) (annotators/pairwise_evaluator.py passes
// _switch_column="is_switched_outputs" and random_seed_columns=["instruction"]; the
// annotator's seed defaults to 123) and draws random.choices([False, True], k=1), that is
// index floor(random()*2).
func alpacaEvalIsSwitched(instruction string, seed int) bool {
	r := pythonRandomFromString("is_switched_outputs" + instruction + strconv.Itoa(seed))
	return math.Floor(r.float64()*2) == 1
}
