package model

import (
	"fmt"

	"github.com/ollama/ollama/fs/ggml"
	"github.com/ollama/ollama/tokenizer"
)

// padVocab extends the tokenizer.* metadata kv of a vocabulary of have tokens to n tokens, as
// converted GGUFs carry a vocabulary padded to the embedding's rows (Qwen's 151936 rows hold
// 151665 tokens; convert_hf_to_gguf names the rest [PAD<i>], type unused). The new tokens are
// "<unused_<i>>" (i from 0), of type unused (tokenizer.TOKEN_TYPE_UNUSED, 5): neither Ollama's
// tokenizers nor llama.cpp's split them out of text (only control and user-defined tokens
// are), and no BPE merge or SentencePiece piece sequence of a prompt forms their text, so a
// prompt encodes exactly as with the unpadded vocabulary. Scores (SentencePiece) get the
// lowest score of the vocabulary. It returns n.
func padVocab(kv ggml.KV, have, n int) (int, error) {
	if n < have {
		return 0, fmt.Errorf("pad vocabulary of %d tokens to %d: fewer", have, n)
	}
	tokens := kvStrings(kv, "tokenizer.ggml.tokens")
	if len(tokens) != have {
		return 0, fmt.Errorf("pad vocabulary: %d tokens, expected %d", len(tokens), have)
	}
	seen := make(map[string]bool, n)
	for _, s := range tokens {
		seen[s] = true
	}
	types := kvInts(kv, "tokenizer.ggml.token_type")
	for len(types) < have {
		types = append(types, tokenizer.TOKEN_TYPE_NORMAL)
	}
	scores := kvFloats(kv, "tokenizer.ggml.scores")
	var low float32
	for i, s := range scores {
		if i == 0 || s < low {
			low = s
		}
	}
	tokens, types = append([]string(nil), tokens...), append([]int32(nil), types...)
	if scores != nil {
		scores = append([]float32(nil), scores...)
	}
	for i := 0; len(tokens) < n; i++ {
		s := fmt.Sprintf("<unused_%d>", i)
		if seen[s] {
			continue
		}
		tokens = append(tokens, s)
		types = append(types, tokenizer.TOKEN_TYPE_UNUSED)
		if scores != nil {
			scores = append(scores, low)
		}
	}
	kv["tokenizer.ggml.tokens"] = tokens
	kv["tokenizer.ggml.token_type"] = types
	if scores != nil {
		kv["tokenizer.ggml.scores"] = scores
	}
	return n, nil
}

// kvStrings, kvInts and kvFloats read an array key that is either a decoded GGUF's or a plain
// slice (the random vocabularies' metadata).
func kvStrings(kv ggml.KV, key string) []string {
	if v, ok := kv[key].([]string); ok {
		return v
	}
	return kv.Strings(key)
}

func kvInts(kv ggml.KV, key string) []int32 {
	if v, ok := kv[key].([]int32); ok {
		return v
	}
	return kv.Ints(key)
}

func kvFloats(kv ggml.KV, key string) []float32 {
	if v, ok := kv[key].([]float32); ok {
		return v
	}
	return kv.Floats(key)
}
