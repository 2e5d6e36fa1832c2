package train

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
)

// TestTrainBatchesSharePrompts: the sequences train encodes for HH pairs (long multi-turn
// prompts, truncated as TRL does) and for K online samples of one prompt keep one prompt per
// pair or group, so that a pass over them, in microBatch's order (every chosen, then every
// rejected, then the samples), packs each prompt once.
func TestTrainBatchesSharePrompts(t *testing.T) {
	m, err := model.Load("../testdata/models/stories260K.gguf", model.LoadOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := data.ReadPairs("../testdata/data/harmless-base-test.jsonl.gz", data.Options{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	enc := &encoder{m: m, maxPrompt: 256, maxLength: 320}
	on := [][]data.Message{{{Role: "assistant", Content: "No."}}, {{Role: "assistant", Content: "I cannot help with that."}}, {{Role: "assistant", Content: "Sure"}}}
	var exs []*example
	for _, p := range pairs[:4] {
		ex, err := enc.pairExample(p, []string{"w", "l", "on"}, on)
		if err != nil {
			t.Fatal(err)
		}
		exs = append(exs, ex)
	}
	var seqs []model.Sequence
	want := 0
	for _, k := range []string{"w", "l", "on"} {
		for _, ex := range exs {
			seqs = append(seqs, ex.seqs[k]...)
		}
	}
	for _, ex := range exs {
		P := -1
		for _, k := range []string{"w", "l", "on"} {
			for _, s := range ex.seqs[k] {
				p := len(s.Tokens) - countMask(s)
				if P >= 0 && p != P {
					t.Fatalf("%s: prompt of %d tokens, another sequence of the pair %d", k, p, P)
				}
				P = p
				want += len(s.Tokens) - p
			}
		}
		want += P
	}
	got, err := m.PackedRows(seqs, true)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("a shared pass packs %d rows, want %d (each prompt once)", got, want)
	}
}

// TestSharedPromptsTrainLikeUnshared: a few steps of DPO, SimPO, CPL, HyPO (K online samples
// of each prompt, scored per step by the policy and the reference) and INPO (pairs of online
// samples; local sampler and rule judge, as TestEveryEmbeddedRecipeTrains) train the same with the prompt computed once per pair (the
// default) as with model.unshared_prompts: every step's loss and gradient norm within 1e-5
// relative, through the real loop (reference log-probs, policy forward and backward, AdamW), so
// that the losses of later steps also check the weights the earlier steps made.
func TestSharedPromptsTrainLikeUnshared(t *testing.T) {
	online := []string{"online.judge.kind=rule", "online.judge.words=happy,friends,smiled,fun,play,loved,big", "online.local_sampler=true",
		"online.iterations=1", "online.pairs.min_score=0", "online.pairs.min_gap=1", "dataset.max_samples=20"}
	for _, name := range []string{"dpo", "simpo", "cpl", "hypo", "inpo"} {
		base := t.TempDir()
		sets := append(append([]string(nil), small...), "max_steps=3", "max_length=96", "max_prompt_length=64")
		if name == "inpo" {
			sets = append(sets, online...)
		}
		a, b := filepath.Join(base, "a", "run"), filepath.Join(base, "b", "run")
		run(t, load(t, name, sets...), a)
		run(t, load(t, name, append(sets, "model.unshared_prompts=true")...), b)
		ma, _ := ReadMetrics(filepath.Join(a, "metrics.jsonl"))
		mb, _ := ReadMetrics(filepath.Join(b, "metrics.jsonl"))
		if len(ma) == 0 || len(ma) != len(mb) {
			t.Fatalf("%s: %d vs %d metric rows", name, len(ma), len(mb))
		}
		for i := range ma {
			for _, k := range []string{"loss", "grad_norm"} {
				va, ok := ma[i].Values[k]
				vb := mb[i].Values[k]
				if !ok {
					continue
				}
				if math.Abs(va-vb) > 1e-5*math.Abs(vb) {
					t.Errorf("%s step %d: %s %v shared, %v unshared", name, ma[i].Step, k, va, vb)
				}
			}
		}
	}
}
