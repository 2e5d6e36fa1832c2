package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
)

// SampleOptions controls local sampling. Temperature <= 0 is greedy (argmax, lowest id on ties).
// TopK 0 and TopP 0 or 1 disable those filters. MaxTokens 0 means up to the context length.
type SampleOptions struct {
	MaxTokens   int
	Temperature float32
	TopP        float32
	TopK        int
	Seed        uint64
	Stop        []string
}

// kvCache holds keys and values per block for incremental decoding.
type kvCache struct {
	k, v [][]float32 // [layer][pos·kvDim]
}

// step runs one token at position pos through the model, appending to the cache, and returns
// the logits [V].
func (m *Model) decodeStep(cache *kvCache, tok int32, pos int) []float32 {
	c := m.cfg
	D, F := c.Dim, c.FFN
	H, KV, hd := c.Heads, c.KVHeads, c.HeadDim
	qDim, kvDim := H*hd, KV*hd
	rep := H / KV
	posv := []int32{int32(pos)}
	x := make([]float32, D)
	m.embedRow(x, int(tok))
	if s := c.EmbedScale; s != 0 {
		for i := range x {
			x[i] *= s
		}
	}
	xn, rstd := make([]float32, D), make([]float32, 1)
	q, k, v := make([]float32, qDim), make([]float32, kvDim), make([]float32, kvDim)
	ao, o := make([]float32, qDim), make([]float32, D)
	gate, up, h := make([]float32, F), make([]float32, F), make([]float32, F)
	var la linActs
	for l := range m.blocks {
		b := &m.blocks[l]
		rmsnormForward(xn, rstd, x, b.attnNorm.Data, 1, D, c.Eps)
		m.linearForward(&b.q, q, xn, 1, &la, 0, 0)
		m.linearForward(&b.k, k, xn, 1, &la, 0, 0)
		m.linearForward(&b.v, v, xn, 1, &la, 0, 0)
		if c.QKNorm {
			qr, kr := make([]float32, H), make([]float32, KV)
			rmsnormForward(q, qr, slices.Clone(q), b.qNorm.Data, H, hd, c.Eps)
			rmsnormForward(k, kr, slices.Clone(k), b.kNorm.Data, KV, hd, c.Eps)
		}
		m.ropeAt(l, q, posv, 1, H, false)
		m.ropeAt(l, k, posv, 1, KV, false)
		cache.k[l] = append(cache.k[l], k...)
		cache.v[l] = append(cache.v[l], v...)
		kc, vc := cache.k[l], cache.v[l]
		e := c.attnExt(l)
		lo, n := e.first(pos), pos+1
		scores := make([]float32, n)
		for hh := 0; hh < H; hh++ {
			g := hh / rep
			qh := q[hh*hd : (hh+1)*hd]
			for j := lo; j < n; j++ {
				scores[j] = e.scale * dot(qh, kc[j*kvDim+g*hd:j*kvDim+(g+1)*hd])
			}
			softcapForward(scores[lo:], nil, e.softcap)
			softmax(scores[lo:], scores[lo:])
			oh := ao[hh*hd : (hh+1)*hd]
			clear(oh)
			for j := lo; j < n; j++ {
				axpy(scores[j], vc[j*kvDim+g*hd:j*kvDim+(g+1)*hd], oh)
			}
		}
		m.linearForward(&b.o, o, ao, 1, &la, 0, 0)
		if c.PostNorms {
			rmsnormForward(o, rstd, slices.Clone(o), b.postAttnNorm.Data, 1, D, c.Eps)
		}
		axpy(1, o, x)
		rmsnormForward(xn, rstd, x, b.ffnNorm.Data, 1, D, c.Eps)
		m.linearForward(&b.gate, gate, xn, 1, &la, 0, 0)
		m.linearForward(&b.up, up, xn, 1, &la, 0, 0)
		m.ffnAct(h, gate, up)
		m.linearForward(&b.down, o, h, 1, &la, 0, 0)
		if c.PostNorms {
			rmsnormForward(o, rstd, slices.Clone(o), b.postFFNNorm.Data, 1, D, c.Eps)
		}
		axpy(1, o, x)
	}
	rmsnormForward(xn, rstd, x, m.outNorm.Data, 1, D, c.Eps)
	logits := make([]float32, c.Vocab)
	m.headLogits(logits, xn, 1)
	softcapForward(logits, nil, c.FinalSoftcap)
	return logits
}

// pick chooses the next token from logits.
func pick(logits []float32, opt SampleOptions, rng *rand.Rand) int32 {
	if opt.Temperature <= 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
	type cand struct {
		id int
		p  float32
	}
	cs := make([]cand, len(logits))
	for i, v := range logits {
		cs[i] = cand{i, v / opt.Temperature}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].p > cs[j].p })
	if opt.TopK > 0 && opt.TopK < len(cs) {
		cs = cs[:opt.TopK]
	}
	mx := cs[0].p
	var sum float64
	for i := range cs {
		cs[i].p = float32(math.Exp(float64(cs[i].p - mx)))
		sum += float64(cs[i].p)
	}
	for i := range cs {
		cs[i].p = float32(float64(cs[i].p) / sum)
	}
	if opt.TopP > 0 && opt.TopP < 1 {
		var cum float32
		for i := range cs {
			cum += cs[i].p
			if cum >= opt.TopP {
				cs = cs[:i+1]
				break
			}
		}
		var s float32
		for _, c := range cs {
			s += c.p
		}
		for i := range cs {
			cs[i].p /= s
		}
	}
	u := rng.Float32()
	var cum float32
	for _, c := range cs {
		cum += c.p
		if u < cum {
			return int32(c.id)
		}
	}
	return int32(cs[len(cs)-1].id)
}

// Generate samples a continuation of prompt (token ids, BOS included if wanted) with a KV cache.
// It stops at an end-of-sequence token (not returned), MaxTokens, the context length, a Stop
// string, or ctx's cancellation.
func (m *Model) Generate(ctx context.Context, prompt []int32, opt SampleOptions) ([]int32, error) {
	if len(prompt) == 0 {
		return nil, errors.New("model: generate: empty prompt")
	}
	c := m.cfg
	for _, t := range prompt {
		if t < 0 || int(t) >= c.Vocab {
			return nil, fmt.Errorf("model: generate: token id %d out of range", t)
		}
	}
	limit := c.ContextLen - len(prompt)
	if opt.MaxTokens > 0 {
		limit = min(limit, opt.MaxTokens)
	}
	cache := &kvCache{k: make([][]float32, c.Layers), v: make([][]float32, c.Layers)}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5A3B1E))
	var logits []float32
	for i, t := range prompt {
		logits = m.decodeStep(cache, t, i)
	}
	var out []int32
	for len(out) < limit {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		next := pick(logits, opt, rng)
		if m.vocab != nil && slices.Contains(m.vocab.EOS, next) {
			break
		}
		out = append(out, next)
		if len(opt.Stop) > 0 {
			s, err := m.decode(out)
			if err == nil {
				for _, st := range opt.Stop {
					if st != "" && strings.Contains(s, st) {
						return out, nil
					}
				}
			}
		}
		logits = m.decodeStep(cache, next, len(prompt)+len(out)-1)
	}
	return out, nil
}

// GenerateText tokenizes a raw prompt (BOS as the GGUF asks, no template), samples and returns
// the generated text only, cut before the first Stop string.
func (m *Model) GenerateText(ctx context.Context, prompt string, opt SampleOptions) (string, error) {
	ids, err := m.Tokenize(prompt, true)
	if err != nil {
		return "", err
	}
	out, err := m.Generate(ctx, ids, opt)
	if err != nil {
		return "", err
	}
	s, err := m.decode(out)
	if err != nil {
		return "", fmt.Errorf("model: generate: %w", err)
	}
	for _, st := range opt.Stop {
		if i := strings.Index(s, st); st != "" && i >= 0 {
			s = s[:i]
		}
	}
	return s, nil
}
