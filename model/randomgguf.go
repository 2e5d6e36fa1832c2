package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// RandomGGUF describes a random-weight GGUF for parity tests with the real server: a model of
// any supported architecture at a small shape, with the vocabulary (every tokenizer.* key) of
// another GGUF.
//
// The weights are random but the model is peaked, not near-uniform: the output head maps the
// embedding of each token t onto one other token next(t) (a fixed random permutation), so the
// residual stream, which starts as t's embedding, predicts next(t) with a clear margin, while
// attention and the FFN (unit-scale projections, post-norm weights PostNorm) move every logit
// by O(1). Peak sets the margin (0.2 at dim 64 with 4 gemma2 blocks: top log-probs between −0.5 and −0.05).
type RandomGGUF struct {
	Arch                     string // llama, qwen2, gemma2, gemma3
	Layers, Dim, FFN         int
	Heads, KVHeads, HeadDim  int
	ContextLen               int     // 0 = 2048
	SlidingWindow            int     // attention.sliding_window (gemma2, gemma3), as the file stores it
	Peak                     float64 // 0 = 0.2
	PostNorm                 float64 // post-norm weight scale (gemma); 0 = 0.3
	Type                     kernels.GGMLType
	Vocab                    string // GGUF whose tokenizer.* metadata is copied
	Seed                     uint64
	ExtraKV                  map[string]any // written as given (keys without the arch prefix get it)
	Tied                     bool           // no output.weight: peaked through a tied head is impossible, so the logits are near-uniform
	OmitTensor, BadShapeName string         // bad-input tests: leave this tensor out / write it one row short
	VisionTensors            bool           // add a few v.* / mm.* tensors, as gemma3's multimodal files have
}

// Write writes the GGUF to path.
func (r RandomGGUF) Write(path string) error {
	if err := r.write(path); err != nil {
		return fmt.Errorf("model: random GGUF %s: %w", path, err)
	}
	return nil
}

func (r RandomGGUF) write(path string) error {
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
	if r.PostNorm == 0 {
		r.PostNorm = 0.3
	}
	if r.Type == 0 {
		r.Type = kernels.TypeF32
	}
	src, err := os.Open(r.Vocab)
	if err != nil {
		return err
	}
	defer src.Close()
	g, err := ggml.Decode(src, -1)
	if err != nil {
		return fmt.Errorf("vocabulary %s: %w", r.Vocab, err)
	}
	kv := ggml.KV{"general.architecture": r.Arch, "general.name": "align-random-" + r.Arch, "general.file_type": fileTypeOf(r.Type)}
	for k, v := range g.KV() {
		if strings.HasPrefix(k, "tokenizer.") {
			kv[k] = widenKV(v)
		}
	}
	vocab := len(g.KV().Strings("tokenizer.ggml.tokens"))
	if vocab == 0 {
		return fmt.Errorf("vocabulary %s has no tokenizer.ggml.tokens", r.Vocab)
	}
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
		typ := r.Type
		if len(shape) == 1 || (typ == kernels.TypeQ8_0 && shape[0]%32 != 0) {
			typ = kernels.TypeF32
		}
		gs := make([]uint64, len(shape)) // ggml order: ne0 = the row length
		for i, s := range shape {
			gs[len(shape)-1-i] = uint64(s)
		}
		ts = append(ts, &ggml.Tensor{Name: name, Kind: uint32(typ), Shape: gs, WriterTo: tensorWriter{data: data, typ: typ}})
	}
	embed := gauss(vocab*D, 1/math.Sqrt(float64(D)))
	add("token_embd.weight", embed, vocab, D)
	add("output_norm.weight", near(D, 1), D)
	if !r.Tied {
		// Row next(t) of the head is Peak·√D·(t's embedding) scaled to unit RMS: the residual
		// stream's direction at t predicts next(t).
		out := make([]float32, vocab*D)
		for t, nt := range rng.Perm(vocab) {
			e := embed[t*D : (t+1)*D]
			var ss float64
			for _, v := range e {
				ss += float64(v) * float64(v)
			}
			s := r.Peak * math.Sqrt(float64(D)) / math.Sqrt(ss/float64(D))
			for i, v := range e {
				out[nt*D+i] = float32(s * float64(v) / math.Sqrt(float64(D)))
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
		add(p+"ffn_gate.weight", gauss(F*D, 1/math.Sqrt(float64(D))), F, D)
		add(p+"ffn_up.weight", gauss(F*D, 1/math.Sqrt(float64(D))), F, D)
		add(p+"ffn_down.weight", gauss(D*F, 1/math.Sqrt(float64(F))), D, F)
		if r.Arch == "qwen2" {
			add(p+"attn_q.bias", gauss(qDim, 0.1), qDim)
			add(p+"attn_k.bias", gauss(kvDim, 0.1), kvDim)
			add(p+"attn_v.bias", gauss(kvDim, 0.1), kvDim)
		}
		if gemma {
			add(p+"post_attention_norm.weight", near(D, r.PostNorm), D)
			add(p+"post_ffw_norm.weight", near(D, r.PostNorm), D)
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
