package model

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/ollama/ollama/fs/ggml"
	"github.com/ollama/ollama/tokenizer"

	"github.com/alignkit/align/kernels"
)

// RandomGGUF describes a random-weight GGUF file that both align and Ollama load: a shape, a
// vocabulary with its chat template, and the matrices' type. The parity tests write one per
// architecture and have the real server serve it.
type RandomGGUF struct {
	// Config is the shape: Arch, Layers, Dim, FFN, Heads, KVHeads, HeadDim, RopeTheta, Eps, Tied
	// (and the arch's traits, which WriteRandomGGUF sets from Arch). Vocab is the vocabulary's.
	Config Config
	Vocab  RandomVocab
	// Type is the matrices' type: F32, F16, Q8_0 or Q4_K (0 = F32); 1-D tensors stay F32. A row
	// that is not whole blocks falls back to Q8_0, then F16 (matrixType); with Q4_K the token
	// embedding and the head are Q4_K too where their rows allow (llama.cpp's Q4_K_M would
	// write the head as Q6_K, which align cannot encode).
	Type kernels.GGMLType
	Seed uint64
	// VocabFile, when set, is a GGUF whose tokenizer.* metadata (and chat template) is copied
	// instead of Vocab's: e.g. llama.cpp's ggml-vocab-phi-3.gguf.
	VocabFile string
	// PadVocab, when above the vocabulary's size, pads it to that many tokens (padVocab:
	// "<unused_<i>>", type unused, which no prompt encodes to): the embedding and head have
	// PadVocab rows, as a real model's 151936. The padded tokens' rows (the tied embedding's, or
	// the head's) are drawn from their own stream with PadScale (0 = 0.5) times the normal rows'
	// standard deviation, so their logits spread over about ±PadScale·10: never the top token
	// of a peaked position, but 151k of them hold a share of the softmax that a scorer which
	// left them out would miss (TestPaddedVocab). The other weights are those of the unpadded
	// file, draw for draw.
	PadVocab int
	PadScale float64
	// LongRope writes Phi-3's longrope: rope_factors_short/long.weight (random in [1, 4)),
	// rope.scaling.attn_factor, and a context_length 32× rope.scaling.original_context_length.
	LongRope bool
}

// RandomVocab is the tokenizer written into a random GGUF.
type RandomVocab int

const (
	// VocabChatML is a small byte-level BPE vocabulary (printable ASCII and newline, merges
	// trained on a fixed English text) with Qwen's special tokens and the chatml template;
	// tokenizer.ggml.pre = qwen2, no BOS.
	VocabChatML RandomVocab = iota
	// VocabLlama3 is the same BPE with Llama 3's special tokens and the llama3-instruct
	// template; tokenizer.ggml.pre = llama-bpe, BOS <|begin_of_text|>, EOS <|eot_id|> and
	// tokenizer.ggml.eos_token_ids [<|end_of_text|>, <|eot_id|>] as Llama 3.x GGUFs have.
	VocabLlama3
)

// Chat templates as they appear in GGUF tokenizer.chat_template; Ollama's /api/create (and
// initTemplate) matches them to its named templates chatml and llama3-instruct.
const (
	jinjaChatML = `{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`
	jinjaLlama3 = `{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}`
	jinjaPhi3   = `{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}`
)

// bpeCorpus trains the random vocabularies' merges (any English text would do; this one is
// fixed so that the files are reproducible).
const bpeCorpus = `Once upon a time there was a little girl who lived in a village near the forest.
Whenever she went out, the little girl wore a red riding cloak, so everyone in the village called her
Little Red Riding Hood. One morning, she asked her mother if she could go to visit her grandmother as
it had been a while since they had seen each other. The quick brown fox jumps over the lazy dog.
The model is trained to answer the question with a short and helpful response. What is the capital of
France? The capital of France is Paris. Please write a story about a cat and a dog who are friends.
Hello! How are you today? I am fine, thank you. They went to the park and played in the sun all day.`

// gpt2Byte maps a byte to the printable rune that byte-level BPE vocabularies (GPT-2's
// bytes_to_unicode) spell it with.
func gpt2Byte(b byte) rune {
	switch {
	case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE:
		return rune(b)
	}
	n := 0
	for c := 0; c < int(b); c++ {
		if !(c >= '!' && c <= '~' || c >= 0xA1 && c <= 0xAC || c >= 0xAE) {
			n++
		}
	}
	return rune(256 + n)
}

// bpeVocab returns the random vocabularies' normal tokens and merges: the printable ASCII
// bytes and newline, then nMerges merges trained greedily on bpeCorpus (most frequent adjacent
// pair first, ties by the pair's text).
func bpeVocab(nMerges int) (tokens, merges []string) {
	have := map[string]bool{}
	add := func(s string) {
		if !have[s] {
			have[s] = true
			tokens = append(tokens, s)
		}
	}
	add(string(gpt2Byte('\n')))
	for b := byte(' '); b <= '~'; b++ {
		add(string(gpt2Byte(b)))
	}
	var words [][]string
	for _, line := range strings.Split(bpeCorpus, "\n") {
		for i, w := range strings.Fields(line) {
			var sym []string
			if i > 0 {
				sym = append(sym, string(gpt2Byte(' ')))
			}
			for j := 0; j < len(w); j++ {
				sym = append(sym, string(gpt2Byte(w[j])))
			}
			words = append(words, sym)
		}
	}
	for len(merges) < nMerges {
		count := map[[2]string]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w); i++ {
				count[[2]string{w[i], w[i+1]}]++
			}
		}
		if len(count) == 0 {
			break
		}
		pairs := make([][2]string, 0, len(count))
		for p := range count {
			pairs = append(pairs, p)
		}
		sort.Slice(pairs, func(i, j int) bool {
			if count[pairs[i]] != count[pairs[j]] {
				return count[pairs[i]] > count[pairs[j]]
			}
			return pairs[i][0]+" "+pairs[i][1] < pairs[j][0]+" "+pairs[j][1]
		})
		best := pairs[0]
		merges = append(merges, best[0]+" "+best[1])
		add(best[0] + best[1])
		for k, w := range words {
			var out []string
			for i := 0; i < len(w); i++ {
				if i+1 < len(w) && w[i] == best[0] && w[i+1] == best[1] {
					out = append(out, best[0]+best[1])
					i++
				} else {
					out = append(out, w[i])
				}
			}
			words[k] = out
		}
	}
	return tokens, merges
}

// vocabKV returns the tokenizer.* metadata of a random vocabulary.
func (v RandomVocab) kv() (ggml.KV, int, error) {
	tokens, merges := bpeVocab(160)
	types := make([]int32, len(tokens))
	for i := range types {
		types[i] = tokenizer.TOKEN_TYPE_NORMAL
	}
	var special []string
	kv := ggml.KV{"tokenizer.ggml.model": "gpt2"}
	idx := func(s string) uint32 { return uint32(len(tokens) + slices.Index(special, s)) }
	switch v {
	case VocabChatML:
		special = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
		kv["tokenizer.ggml.pre"] = "qwen2"
		kv["tokenizer.ggml.add_bos_token"] = false
		kv["tokenizer.ggml.bos_token_id"] = idx("<|endoftext|>")
		kv["tokenizer.ggml.eos_token_id"] = idx("<|im_end|>")
		kv["tokenizer.ggml.padding_token_id"] = idx("<|endoftext|>")
		kv["tokenizer.chat_template"] = jinjaChatML
	case VocabLlama3:
		special = []string{"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}
		kv["tokenizer.ggml.pre"] = "llama-bpe"
		kv["tokenizer.ggml.add_bos_token"] = true
		kv["tokenizer.ggml.bos_token_id"] = idx("<|begin_of_text|>")
		kv["tokenizer.ggml.eos_token_id"] = idx("<|eot_id|>")
		kv["tokenizer.ggml.eos_token_ids"] = []int32{int32(idx("<|end_of_text|>")), int32(idx("<|eot_id|>"))}
		kv["tokenizer.chat_template"] = jinjaLlama3
	default:
		return nil, 0, fmt.Errorf("unknown random vocabulary %d", v)
	}
	for _, s := range special {
		tokens = append(tokens, s)
		types = append(types, tokenizer.TOKEN_TYPE_CONTROL)
	}
	kv["tokenizer.ggml.tokens"] = tokens
	kv["tokenizer.ggml.token_type"] = types
	kv["tokenizer.ggml.merges"] = merges
	return kv, len(tokens), nil
}

// WriteRandomGGUF writes r as a GGUF. The weights are drawn so that the model is neither
// trivial nor near-uniform: projections N(0, 1/in) (each block changes the residual by O(1)),
// norms 1 + N(0, 0.1²), biases N(0, 0.02²), token embeddings N(0, 1), and an LM head (untied)
// of N(0, (10/√Dim)²) or, tied, the embeddings (scaled to match), so that the logits spread over about ±10 and the
// top token usually has most of the probability (the parity tests check that: near-uniform
// logits would hide differences in every log-prob).
func WriteRandomGGUF(w io.Writer, r RandomGGUF) error {
	if err := writeRandomGGUF(w, r); err != nil {
		return fmt.Errorf("model: write random GGUF: %w", err)
	}
	return nil
}

// headStd is the random models' logit standard deviation.
const headStd = 10

func writeRandomGGUF(w io.Writer, r RandomGGUF) error {
	c := r.Config
	spec, err := archTraits(c.Arch)
	if err != nil {
		return err
	}
	c.RopeNeoX, c.QKVBias, c.QKNorm = spec.neox, spec.qkvBias, spec.qkNorm
	var kv ggml.KV
	var vocab int
	if r.VocabFile != "" {
		kv, vocab, err = vocabFromFile(r.VocabFile)
	} else {
		kv, vocab, err = r.Vocab.kv()
	}
	if err != nil {
		return err
	}
	src := vocab
	if r.PadVocab > vocab {
		if vocab, err = padVocab(kv, src, r.PadVocab); err != nil {
			return err
		}
	}
	padScale := r.PadScale
	if padScale == 0 {
		padScale = 0.5
	}
	c.Vocab = vocab
	m, err := NewRandom(c, r.Seed, LoadOptions{Threads: 1})
	if err != nil {
		return err
	}
	if vocab > src {
		// NewRandom's norms and biases are drawn between the embedding's values: take those of
		// the unpadded model, so that only the padded rows differ.
		c0 := c
		c0.Vocab = src
		m0, err := NewRandom(c0, r.Seed, LoadOptions{Threads: 1})
		if err != nil {
			return err
		}
		b0 := m0.bindings()
		for i, b := range m.bindings() {
			if p, p0 := *b.slot, *b0[i].slot; p != nil && p0 != nil && b.shape[1] == 0 {
				copy(p.Data, p0.Data)
			}
		}
	}
	c = m.cfg
	rng := rand.New(rand.NewPCG(r.Seed, 0x66AF))
	padRng := rand.New(rand.NewPCG(r.Seed, 0x9AD5))
	for _, b := range m.bindings() {
		p := *b.slot
		if p == nil {
			continue
		}
		var std float64
		switch {
		case b.shape[1] == 0:
			continue // NewRandom's norms and biases
		case p == m.embed:
			std = 1
		case p == m.output:
			std = headStd / math.Sqrt(float64(c.Dim))
		default:
			std = 1 / math.Sqrt(float64(b.shape[1]))
		}
		n := len(p.Data)
		if p == m.embed || p == m.output {
			n = src * c.Dim // the padded rows come from padRng
		}
		for i := range p.Data[:n] {
			p.Data[i] = float32(std * rng.NormFloat64())
		}
		if p == m.output || p == m.embed && c.Tied {
			for i := n; i < len(p.Data); i++ {
				p.Data[i] = float32(padScale * std * padRng.NormFloat64())
			}
		} else {
			for i := n; i < len(p.Data); i++ {
				p.Data[i] = float32(std * padRng.NormFloat64())
			}
		}
	}
	if c.Tied {
		// Embeddings of std 1 as the head give logits of std √Dim: scale them to ±6 as well.
		s := float32(headStd / math.Sqrt(float64(c.Dim)))
		for i := range m.embed.Data {
			m.embed.Data[i] *= s
		}
	}
	a := c.Arch
	kv["general.architecture"] = a
	kv["general.name"] = "align-random-" + a
	kv["general.file_type"] = fileTypeOf(r.Type)
	kv[a+".block_count"] = uint32(c.Layers)
	kv[a+".context_length"] = uint32(c.ContextLen)
	kv[a+".embedding_length"] = uint32(c.Dim)
	kv[a+".feed_forward_length"] = uint32(c.FFN)
	kv[a+".attention.head_count"] = uint32(c.Heads)
	kv[a+".attention.head_count_kv"] = uint32(c.KVHeads)
	kv[a+".attention.key_length"] = uint32(c.HeadDim)
	kv[a+".attention.value_length"] = uint32(c.HeadDim)
	kv[a+".attention.layer_norm_rms_epsilon"] = c.Eps
	kv[a+".rope.dimension_count"] = uint32(c.RopeDim)
	kv[a+".rope.freq_base"] = c.RopeTheta
	kv[a+".vocab_size"] = uint32(c.Vocab)
	typ := r.Type
	var ts []*ggml.Tensor
	vec := func(name string, d []float32) {
		ts = append(ts, &ggml.Tensor{Name: name, Shape: []uint64{uint64(len(d))}, Kind: uint32(kernels.TypeF32), WriterTo: f32Tensor(kernels.TypeF32, d)})
	}
	if r.LongRope {
		orig := c.ContextLen
		kv[a+".context_length"] = uint32(32 * orig)
		kv[a+".rope.scaling.original_context_length"] = uint32(orig)
		kv[a+".rope.scaling.attn_factor"] = float32(math.Sqrt(1 + math.Log(32)/math.Log(float64(orig))))
		for _, n := range []string{"rope_factors_long.weight", "rope_factors_short.weight"} {
			f := make([]float32, c.RopeDim/2)
			for i := range f {
				f[i] = float32(1 + 3*rng.Float64())
			}
			vec(n, f)
		}
	}
	data := map[string][]float32{}
	for _, b := range m.bindings() {
		if p := *b.slot; p != nil {
			data[p.Name] = p.Data
		}
	}
	fused := joinFused(m.bindings(), data)
	for _, b := range m.bindings() {
		p := *b.slot
		if p == nil {
			continue
		}
		if b.shape[1] == 0 {
			vec(b.name, p.Data)
			continue
		}
		rows, d := b.shape[0], [][]float32{p.Data}
		if b.fusedRows > 0 {
			if b.rowOff != 0 {
				continue // written with the first part
			}
			rows, d = b.fusedRows, fused[b.name]
		}
		tt := matrixType(typ, b.shape[1], kernels.TypeF16)
		ts = append(ts, &ggml.Tensor{Name: b.name, Shape: []uint64{uint64(b.shape[1]), uint64(rows)}, Kind: uint32(tt), WriterTo: f32Tensor(tt, d...)})
	}
	return writeGGUF(w, kv, ts)
}

// vocabFromFile reads the tokenizer.* metadata of a GGUF.
func vocabFromFile(path string) (ggml.KV, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	g, err := ggml.Decode(f, -1)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	kv := ggml.KV{}
	for k, v := range g.KV() {
		if strings.HasPrefix(k, "tokenizer.") {
			kv[k] = widenKV(v)
		}
	}
	n := len(g.KV().Strings("tokenizer.ggml.tokens"))
	if n == 0 {
		return nil, 0, fmt.Errorf("%s: no tokenizer.ggml.tokens", path)
	}
	return kv, n, nil
}
