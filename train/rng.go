package train

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// RNG is the run's random state: a PCG generator whose state can be saved in a checkpoint and
// restored, so that a resumed run draws the same numbers as an uninterrupted one.
type RNG struct {
	pcg *rand.PCG
	r   *rand.Rand
}

// NewRNG seeds a generator; the stream is fixed by (seed, stream).
func NewRNG(seed, stream uint64) *RNG {
	p := rand.NewPCG(seed, stream^0x9e3779b97f4a7c15)
	return &RNG{pcg: p, r: rand.New(p)}
}

// Uint64 draws 64 random bits (used to derive per-step seeds for dropout and sampling).
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// Perm returns a random permutation of [0, n).
func (g *RNG) Perm(n int) []int { return g.r.Perm(n) }

// MarshalJSON saves the generator state.
func (g *RNG) MarshalJSON() ([]byte, error) {
	b, err := g.pcg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(b)
}

// UnmarshalJSON restores a state saved by MarshalJSON.
func (g *RNG) UnmarshalJSON(data []byte) error {
	var b []byte
	if err := json.Unmarshal(data, &b); err != nil {
		return err
	}
	if g.pcg == nil {
		g.pcg = rand.NewPCG(0, 0)
		g.r = rand.New(g.pcg)
	}
	if err := g.pcg.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("train: rng state: %w", err)
	}
	return nil
}
