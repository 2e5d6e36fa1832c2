package model

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/ollama/ollama/tokenizer"
)

// paddedCase is a small tied shape whose vocabulary padVocab pads past its FFN: pad(n) writes
// it with n rows (n = the source vocabulary's size: the same weights without padded rows).
type paddedCase struct {
	name string
	src  int
	rows int // the real model's vocabulary
	// visible: the padded tokens hold a share of the softmax that moves the mean log-prob
	// by more than the parity bounds (PeakedGGUF); WriteRandomGGUF's tied qwen3 repeats its
	// input token with a logit far above every padded one, so there it is below float32's
	// resolution at most positions.
	visible bool
	pad     func(t *testing.T, path string, n int)
}

func paddedCases() []paddedCase {
	gemma := func(arch string) func(*testing.T, string, int) {
		return func(t *testing.T, path string, n int) {
			r := randomGemma(arch)
			r.Tied, r.FFN, r.PadVocab = true, 512, n
			if err := r.Write(path); err != nil {
				t.Fatal(err)
			}
		}
	}
	qwen3 := func(t *testing.T, path string, n int) {
		var spec RandomGGUF
		for _, ra := range randomArchs() {
			if ra.name == "align-rnd-qwen3" {
				spec = ra.spec
			}
		}
		spec.PadVocab = n
		writeRandomFile(t, path, spec)
	}
	return []paddedCase{{"gemma2", 512, 256000, true, gemma("gemma2")}, {"gemma3", 512, 262144, true, gemma("gemma3")}, {"qwen3", 259, 151936, false, qwen3}}
}

// TestPaddedVocab: a vocabulary padded past FFN (PeakedGGUF's and WriteRandomGGUF's PadVocab)
// at the real models' sizes loads with every padded token of type unused, encodes the prompts
// (one with a padded token's text in it) exactly as the unpadded vocabulary does, keeps align's
// greedy outputs on the source tokens and peaked (most top log-probs above −1), and lowers no
// log-prob: log p_padded = log p − log(1+M), with M ≥ 0 the padded tokens' mass relative to
// the source tokens', since the other weights are the unpadded file's. For PeakedGGUF that
// share must be large enough that a scorer which dropped the padded rows would miss the parity
// bounds (mean > 2e-3), and small enough to keep the peak (mean < 0.3).
func TestPaddedVocab(t *testing.T) {
	for _, pc := range paddedCases() {
		t.Run(pc.name, func(t *testing.T) {
			dir := t.TempDir()
			pPath, uPath := filepath.Join(dir, "padded.gguf"), filepath.Join(dir, "unpadded.gguf")
			pc.pad(t, pPath, pc.rows)
			pc.pad(t, uPath, pc.src)
			mp, mu := loadT(t, pPath, LoadOptions{}), loadT(t, uPath, LoadOptions{})
			if got := mp.Config().Vocab; got != pc.rows {
				t.Fatalf("padded vocabulary: %d rows, want %d", got, pc.rows)
			}
			if got := mu.Config().Vocab; got != pc.src {
				t.Fatalf("unpadded vocabulary: %d rows, want %d", got, pc.src)
			}
			for id := pc.src; id < pc.rows; id += 1000 {
				if typ := mp.vocab.Types[id]; typ != tokenizer.TOKEN_TYPE_UNUSED {
					t.Fatalf("padded token %d %q has type %d, want unused", id, mp.vocab.Values[id], typ)
				}
			}
			var diffs []float64
			peaked, total, upeaked := 0, 0, 0
			for _, p := range []string{"Once upon a time", "Lily and Tom went to the park.", "The quick brown fox <unused_3> jumps"} {
				tp, err := mp.Tokenize(p, true)
				if err != nil {
					t.Fatal(err)
				}
				tu, err := mu.Tokenize(p, true)
				if err != nil {
					t.Fatal(err)
				}
				if !equalIDs(tp, tu) {
					t.Fatalf("%q: padded vocabulary encodes %v, unpadded %v", p, tp, tu)
				}
				gen, err := mp.Generate(context.Background(), tp, SampleOptions{MaxTokens: 24})
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range gen {
					if int(id) >= pc.src {
						t.Fatalf("%q: greedy output %v holds padded token %d", p, gen, id)
					}
				}
				seq := Sequence{Tokens: append(tp, gen...), Mask: make([]bool, len(tp)+len(gen))}
				for i := len(tp); i < len(seq.Tokens); i++ {
					seq.Mask[i] = true
				}
				lp, err := mp.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				lu, err := mu.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				for i := range lp[0] {
					total++
					if lp[0][i] > -1 {
						peaked++
					}
					if lu[0][i] > -1 {
						upeaked++
					}
					d := float64(lu[0][i]) - float64(lp[0][i])
					if d < -1e-6 {
						t.Errorf("%q token %d: padded log-prob %.7f above the unpadded %.7f", p, i, lp[0][i], lu[0][i])
					}
					diffs = append(diffs, d)
				}
			}
			var mean, hi float64
			for _, d := range diffs {
				mean += d / float64(len(diffs))
				hi = math.Max(hi, d)
			}
			t.Logf("%s: %d (unpadded %d) of %d greedy tokens peaked; padded mass lowers log-probs by %.2e in the mean (max %.2e)", pc.name, peaked, upeaked, total, mean, hi)
			if 2*peaked <= total {
				t.Errorf("only %d of %d tokens peaked", peaked, total)
			}
			if pc.visible && (mean < 2e-3 || mean > 0.3) {
				t.Errorf("padded tokens lower the log-probs by %.2e in the mean: want 2e-3 to 0.3", mean)
			}
		})
	}
}

// TestPaddedVocabParity: the padded files of TestPaddedVocab (vocabularies of the real models'
// 256000, 262144 and 151936 rows on small shapes whose FFN is 512) are served by the real
// Ollama v0.17.4, whose greedy outputs are peaked and which align scores within the runner's
// bound (1e-3 llama.cpp: gemma2; 2e-3 Go engine: gemma3, qwen3), gemma with the default path
// and qwen3 with F16KV as their parity tests do. Where the padded tokens hold a visible share
// of the softmax (gemma), the unpadded file's scores of the same tokens miss the server's by
// more than the bound: the check sees the padded rows.
func TestPaddedVocabParity(t *testing.T) {
	c := ollamaClient(t)
	for _, pc := range paddedCases() {
		t.Run(pc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, uPath := filepath.Join(dir, pc.name+"-padded.gguf"), filepath.Join(dir, "unpadded.gguf")
			pc.pad(t, path, pc.rows)
			pc.pad(t, uPath, pc.src)
			name := "align-padded-" + pc.name
			importGGUF(t, c, name, path, "")
			qwen := pc.name == "qwen3"
			tol := gemmaTol(pc.name)
			if qwen {
				tol = 2e-3
			}
			m := loadT(t, path, LoadOptions{F16KV: qwen})
			mu := loadT(t, uPath, LoadOptions{F16KV: qwen})
			var all []float64
			var unpadded float64
			for _, p := range []string{"Once upon a time", "Lily and Tom went to the park."} {
				var seq Sequence
				var want []float64
				if qwen {
					seq, want = ollamaGenerateRaw(t, c, m, name, p, 30)
				} else {
					seq, want = ollamaGenerate(t, c, m, name, p, 30)
				}
				for _, id := range seq.Tokens {
					if int(id) >= pc.src {
						t.Fatalf("%q: the server's sequence holds padded token %d", p, id)
					}
				}
				got, err := m.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				if qwen {
					comparePerToken(t, fmt.Sprintf("%s %q", name, p), got[0], want, 2e-2, tol)
				} else {
					compareMean(t, fmt.Sprintf("%s %q", name, p), got[0], want, tol)
				}
				gu, err := mu.LogProbs([]Sequence{seq})
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					unpadded += math.Abs(float64(gu[0][i])-want[i]) / float64(2*len(want))
				}
				all = append(all, want...)
			}
			peaked(t, name, all)
			t.Logf("%s: server mean log-prob %.3f; the unpadded file's scores miss by %.2e in the mean", name, meanOf(all), unpadded)
			if pc.visible && unpadded < 2*tol {
				t.Errorf("the unpadded file's scores miss the server's by only %.2e: the check does not see the padded rows", unpadded)
			}
		})
	}
}

func meanOf(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x / float64(len(xs))
	}
	return s
}
