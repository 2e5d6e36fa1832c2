package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// PeakedGGUF describes a random-weight GGUF with structured, peaked predictions, for parity
// tests with the real server: a model of any supported architecture at a given shape (gemma
// metadata and post-norms included), with the vocabulary (every tokenizer.* key) of another
// GGUF. (WriteRandomGGUF draws i.i.d. weights over align's own BPE vocabularies; this one is
// built so that a tied head, which llama.cpp imposes on gemma2, is peaked too, and so that no
// byte token is ever predicted.)
//
// The weights are random but the model is peaked, not near-uniform: the output head maps the
// embedding of each normal token t onto another normal token next(t) (a fixed random
// permutation), so the residual stream, which starts as t's embedding, predicts next(t) with a
// clear margin, while attention and the FFN (unit-scale projections, post-norm weights
// PostNorm) move every logit by O(1). Peak sets the margin (0.2 at dim 64: top log-probs
// between −0.5 and −0.05).
type PeakedGGUF struct {
	Arch                    string // llama, qwen2, gemma2, gemma3
	Layers, Dim, FFN        int
	Heads, KVHeads, HeadDim int
	ContextLen              int              // 0 = 2048
	SlidingWindow           int              // attention.sliding_window (gemma2, gemma3), as the file stores it
	Peak                    float64          // 0 = 0.2
	PostNorm                float64          // post-norm weight scale (gemma); 0 = 0.3
	Type                    kernels.GGMLType // matrices: F32 (0), F16, Q8_0 or Q4_K; a row that is not whole blocks falls back to Q8_0, then F32 (matrixType)
	Vocab                   string           // GGUF whose tokenizer.* metadata is copied
	Seed                    uint64
	ExtraKV                 map[string]any // written as given (keys without the arch prefix get it)
	// Tied writes no output.weight (gemma2 must: llama.cpp ties its head). The model is then
	// peaked through block 0's FFN, a lookup table t → next(t) (FFN must be at least the
	// vocabulary), with LookupGain (0 = 1.5), its post-norm weight TiedFFNNorm (0 = 3) and
	// output_norm scaled by TiedHeadGain (0 = 1.2).
	Tied                                  bool
	LookupGain, TiedFFNNorm, TiedHeadGain float64
	OmitTensor, BadShapeName              string // bad-input tests: leave this tensor out / write it one row short
	VisionTensors                         bool   // add a few v.* / mm.* tensors, as gemma3's multimodal files have
	// PadVocab (tied head only), when above the source vocabulary's size, pads the vocabulary
	// to that many tokens (padVocab: "<unused_<i>>", type unused, which no prompt encodes to),
	// so that the tied embedding and head have a real model's rows (262144 for gemma3, far more
	// than its FFN). The lookup FFN then covers the source tokens only (FFN ≥ the source
	// vocabulary), the only ones a prompt or a peaked output holds. A tied head cannot leave
	// 262k near-zero logits beside a peak of about 8 (they would bury it), so the padded tokens
	// are pushed down along a shared random unit direction d: every source token's embedding
	// gets +d (the lookup's keys and values are the embeddings without it) and each padded
	// token's embedding is −PadDepth·d (0 = 6) plus noise of a quarter of the normal rows'
	// scale. The residual stream carries d from the input embedding, so every padded logit
	// sits about gain·(1+PadDepth)·(ĥ·d) below the normal tokens' baseline: together they
	// still hold a visible share of the softmax (TestPaddedVocab: log-probs lower by about
	// 0.1 in the mean) without taking the top. The padded rows and d come from their own
	// random stream: a file with PadVocab equal to the source size has the same weights
	// without the padded rows.
	PadVocab int
	PadDepth float64
	// NoSpecial (untied head only) keeps sampling off byte, control and unused tokens: every
	// embedding gets a shared unit direction d and those tokens' head rows are −(40/√Dim)·d,
	// about −20 logits below the rest, so even a near-uniform model (small Peak) samples only
	// normal pieces.
	NoSpecial bool
}

// Write writes the GGUF to path.
func (r PeakedGGUF) Write(path string) error {
	if err := r.write(path); err != nil {
		return fmt.Errorf("model: peaked GGUF %s: %w", path, err)
	}
	return nil
}

func (r PeakedGGUF) write(path string) error {
	if r.Layers <= 0 || r.Dim <= 0 || r.FFN <= 0 || r.Heads <= 0 {
		return errors.New("Layers, Dim, FFN and Heads must be positive")
	}
	if r.KVHeads == 0 {
		r.KVHeads = r.Heads
	}
	if r.HeadDim == 0 {
		r.HeadDim = r.Dim / r.Heads
	}
	if r.ContextLen == 0 {
		r.ContextLen = 2048
	}
	if r.Peak == 0 {
		r.Peak = 0.2
	}
	if r.LookupGain == 0 {
		r.LookupGain = 1.5
	}
	if r.TiedFFNNorm == 0 {
		r.TiedFFNNorm = 3
	}
	if r.TiedHeadGain == 0 {
		r.TiedHeadGain = 1.2
	}
	if r.PostNorm == 0 {
		r.PostNorm = 0.3
	}
	if r.Type == 0 {
		r.Type = kernels.TypeF32
	}
	kv, vocab, err := vocabFromFile(r.Vocab)
	if err != nil {
		return fmt.Errorf("vocabulary: %w", err)
	}
	// src: the source vocabulary's tokens; vocab: the rows (src, or PadVocab when padded).
	src := vocab
	types := kv.Ints("tokenizer.ggml.token_type")
	if r.PadVocab > 0 {
		if !r.Tied {
			return errors.New("PadVocab needs a tied head")
		}
		if r.PadVocab < src {
			return fmt.Errorf("PadVocab %d < the vocabulary's %d tokens", r.PadVocab, src)
		}
		if vocab, err = padVocab(kv, src, r.PadVocab); err != nil {
			return err
		}
	}
	if r.PadDepth == 0 {
		r.PadDepth = 6
	}
	const padShift, padNoise = 1.0, 0.25 // PadVocab's |d| in the source rows, its padded rows' noise (× the normal rows' scale)
	kv["general.architecture"], kv["general.name"], kv["general.file_type"] = r.Arch, "align-peaked-"+r.Arch, fileTypeOf(r.Type)
	a := r.Arch + "."
	kv[a+"block_count"] = uint32(r.Layers)
	kv[a+"embedding_length"] = uint32(r.Dim)
	kv[a+"feed_forward_length"] = uint32(r.FFN)
	kv[a+"attention.head_count"] = uint32(r.Heads)
	kv[a+"attention.head_count_kv"] = uint32(r.KVHeads)
	kv[a+"attention.key_length"] = uint32(r.HeadDim)
	kv[a+"attention.value_length"] = uint32(r.HeadDim)
	kv[a+"context_length"] = uint32(r.ContextLen)
	kv[a+"attention.layer_norm_rms_epsilon"] = float32(1e-6)
	switch r.Arch {
	case "gemma2":
		kv[a+"attention.sliding_window"] = uint32(r.SlidingWindow)
		kv[a+"attn_logit_softcapping"] = float32(50)
		kv[a+"final_logit_softcapping"] = float32(30)
	case "gemma3":
		kv[a+"attention.sliding_window"] = uint32(r.SlidingWindow)
		kv[a+"rope.freq_base"] = float32(1e6)
		kv[a+"rope.local.freq_base"] = float32(1e4)
	}
	for k, v := range r.ExtraKV {
		kv[k] = v
	}

	rng := rand.New(rand.NewPCG(r.Seed, 0x66F))
	gauss := func(n int, sd float64) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(sd * rng.NormFloat64())
		}
		return d
	}
	near := func(n int, mean float64) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(mean * (1 + 0.1*rng.NormFloat64()))
		}
		return d
	}
	D, F, hd := r.Dim, r.FFN, r.HeadDim
	qDim, kvDim := r.Heads*hd, r.KVHeads*hd
	var ts []*ggml.Tensor
	add := func(name string, data []float32, shape ...int) {
		if name == r.OmitTensor {
			return
		}
		if name == r.BadShapeName {
			shape[len(shape)-1]--
			data = data[:len(data)/(shape[len(shape)-1]+1)*shape[len(shape)-1]]
		}
		typ := matrixType(r.Type, shape[len(shape)-1], kernels.TypeF32)
		if len(shape) == 1 {
			typ = kernels.TypeF32
		}
		gs := make([]uint64, len(shape)) // ggml order: ne0 = the row length
		for i, s := range shape {
			gs[len(shape)-1-i] = uint64(s)
		}
		ts = append(ts, &ggml.Tensor{Name: name, Kind: uint32(typ), Shape: gs, WriterTo: f32Tensor(typ, data)})
	}
	// next(t): a random permutation of the normal tokens (byte, control and unused tokens are
	// never predicted, so that greedy outputs detokenize piece by piece on either runner).
	var normal []int
	for t := 0; t < src; t++ {
		if t >= len(types) || types[t] == 1 {
			normal = append(normal, t)
		}
	}
	if len(normal) < 2 {
		return fmt.Errorf("vocabulary %s has %d normal tokens", r.Vocab, len(normal))
	}
	next := make([]int, src)
	for i, j := range rng.Perm(len(normal)) {
		next[normal[i]] = normal[j]
	}
	for t := range next {
		if t >= len(types) || types[t] != 1 {
			next[t] = normal[rng.IntN(len(normal))]
		}
	}
	isNormal := func(t int) bool { return t < src && (t >= len(types) || types[t] == 1) }
	embed := gauss(src*D, 1/math.Sqrt(float64(D)))
	raw := embed // the source rows without PadVocab's shared direction (the lookup's keys)
	if r.PadVocab > 0 {
		prng := rand.New(rand.NewPCG(r.Seed, 0x9AD5))
		d := unitVector(prng, D)
		raw = embed
		embed = make([]float32, vocab*D)
		for t := 0; t < vocab; t++ {
			for i, v := range d {
				if t < src {
					embed[t*D+i] = raw[t*D+i] + float32(padShift*v)
				} else {
					embed[t*D+i] = float32(-r.PadDepth*v + padNoise*prng.NormFloat64()/math.Sqrt(float64(D)))
				}
			}
		}
	}
	var shared []float64 // NoSpecial's direction d
	if r.NoSpecial && !r.Tied {
		shared = unitVector(rng, D)
		for t := 0; t < vocab; t++ {
			for i, v := range shared {
				embed[t*D+i] += float32(v)
			}
		}
	}
	unit := func(t int) []float64 { // t's embedding (raw: without PadVocab's direction) scaled to unit norm
		e := raw[t*D : (t+1)*D]
		var ss float64
		for _, v := range e {
			ss += float64(v) * float64(v)
		}
		u := make([]float64, D)
		for i, v := range e {
			u[i] = float64(v) / math.Sqrt(ss)
		}
		return u
	}
	add("token_embd.weight", embed, vocab, D)
	outNorm := near(D, 1)
	if r.Tied {
		for i := range outNorm {
			outNorm[i] *= float32(r.TiedHeadGain)
		}
	}
	add("output_norm.weight", outNorm, D)
	if !r.Tied {
		// Row next(t) of the head is Peak·√D·(t's unit embedding): the residual stream's
		// direction at t predicts next(t). Rows of tokens never predicted stay small.
		out := gauss(vocab*D, 0.02)
		for _, t := range normal {
			u := unit(t)
			for i := range u {
				out[next[t]*D+i] = float32(r.Peak * math.Sqrt(float64(D)) * u[i])
			}
		}
		if shared != nil {
			for t := 0; t < vocab; t++ {
				if !isNormal(t) {
					for i, v := range shared {
						out[t*D+i] = float32(-40 / math.Sqrt(float64(D)) * v)
					}
				}
			}
		}
		add("output.weight", out, vocab, D)
	}
	gemma := r.Arch == "gemma2" || r.Arch == "gemma3"
	for l := 0; l < r.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", near(D, 1), D)
		add(p+"attn_q.weight", gauss(qDim*D, 1/math.Sqrt(float64(D))), qDim, D)
		add(p+"attn_k.weight", gauss(kvDim*D, 1/math.Sqrt(float64(D))), kvDim, D)
		add(p+"attn_v.weight", gauss(kvDim*D, 1/math.Sqrt(float64(D))), kvDim, D)
		add(p+"attn_output.weight", gauss(D*qDim, 1/math.Sqrt(float64(qDim))), D, qDim)
		add(p+"ffn_norm.weight", near(D, 1), D)
		gate, up, down := gauss(F*D, 1/math.Sqrt(float64(D))), gauss(F*D, 1/math.Sqrt(float64(D))), gauss(D*F, 1/math.Sqrt(float64(F)))
		postFFN := r.PostNorm
		if r.Tied && l == 0 {
			// A tied head predicts the token itself; block 0's FFN is a lookup table instead:
			// hidden unit t fires on t's embedding (gate = up = LookupGain·unit(t)) and writes
			// unit(next(t)) (down's column t), which its post-norm (weight TiedFFNNorm)
			// makes dominate the residual.
			if F < src {
				return fmt.Errorf("a tied peaked model needs FFN >= vocabulary (%d < %d; PadVocab's padded tokens do not count)", F, src)
			}
			clear(down)
			for t := 0; t < src; t++ {
				u := unit(t)
				for i := range u {
					gate[t*D+i] = float32(r.LookupGain * u[i])
					up[t*D+i] = gate[t*D+i]
				}
				if isNormal(t) {
					un := unit(next[t])
					for i := range un {
						down[i*F+t] = float32(un[i])
					}
				}
			}
			postFFN = r.TiedFFNNorm
		}
		add(p+"ffn_gate.weight", gate, F, D)
		add(p+"ffn_up.weight", up, F, D)
		add(p+"ffn_down.weight", down, D, F)
		if r.Arch == "qwen2" {
			add(p+"attn_q.bias", gauss(qDim, 0.1), qDim)
			add(p+"attn_k.bias", gauss(kvDim, 0.1), kvDim)
			add(p+"attn_v.bias", gauss(kvDim, 0.1), kvDim)
		}
		if gemma {
			add(p+"post_attention_norm.weight", near(D, r.PostNorm), D)
			add(p+"post_ffw_norm.weight", near(D, postFFN), D)
		}
		if r.Arch == "gemma3" {
			add(p+"attn_q_norm.weight", near(hd, 1), hd)
			add(p+"attn_k_norm.weight", near(hd, 1), hd)
		}
	}
	if r.VisionTensors {
		add("v.patch_embedding.weight", gauss(16*48, 0.02), 16, 48)
		add("v.blk.0.attn_q.weight", gauss(16*16, 0.02), 16, 16)
		add("mm.mm_input_projection.weight", gauss(16*D, 0.02), 16, D)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := ggml.WriteGGUF(f, kv, ts); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// unitVector draws a direction of n dimensions, uniform on the sphere.
func unitVector(rng *rand.Rand, n int) []float64 {
	d := make([]float64, n)
	var ss float64
	for i := range d {
		d[i] = rng.NormFloat64()
		ss += d[i] * d[i]
	}
	for i := range d {
		d[i] /= math.Sqrt(ss)
	}
	return d
}
