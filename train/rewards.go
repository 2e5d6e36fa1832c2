package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/alignkit/align/assets"
	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/recipes"
)

// RewardScorers are a training run's policy (its newest checkpoint, merged into a temporary
// F32 GGUF through the same path as align export) and its reference (reference.path, else
// model.path; none for reference-free recipes) as sequence log-prob scorers, for DPO's
// implicit rewards (eval.ImplicitRewards). Close removes the temporary file.
type RewardScorers struct {
	// Beta is the recipe's beta.
	Beta float64
	// Policy and Ref sum a model's log-probs of the response tokens (model.Encode's mask);
	// Ref is nil for a reference-free recipe.
	Policy, Ref func(prompt, response []data.Message) (float64, error)
	RefPath     string
	closers     []func()
}

// Close releases the models and the merged policy file.
func (s *RewardScorers) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// OpenRewardScorers loads a run's policy and reference for implicit-reward scoring; threads
// bounds the forward passes (0 = all cores). Both models must tokenize identically.
func OpenRewardScorers(ctx context.Context, runDir string, threads int) (*RewardScorers, error) {
	r, err := recipes.ParseFile(filepath.Join(runDir, "recipe.yaml"))
	if err != nil {
		return nil, fmt.Errorf("train: rewards: %w", err)
	}
	s := &RewardScorers{Beta: r.Beta}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	tmp, err := os.MkdirTemp("", "align-rewards-")
	if err != nil {
		return nil, fmt.Errorf("train: rewards: %w", err)
	}
	s.closers = append(s.closers, func() { os.RemoveAll(tmp) })
	merged := filepath.Join(tmp, "policy.f32.gguf")
	if err := Export(ctx, runDir, "gguf:"+merged, ExportOptions{Out: io.Discard}); err != nil {
		return nil, fmt.Errorf("train: rewards: policy: %w", err)
	}
	lo := model.LoadOptions{Threads: threads}
	policy, err := model.Load(merged, lo)
	if err != nil {
		return nil, fmt.Errorf("train: rewards: policy: %w", err)
	}
	s.closers = append(s.closers, func() { policy.Close() })
	s.Policy = seqScore(policy)
	if !r.Reference.Free {
		refPath := r.Reference.Path
		if refPath == "" {
			refPath = r.Model.Path
		}
		if refPath == "" {
			return nil, errors.New("train: rewards: the recipe names no GGUF model.path or reference.path to use as the reference")
		}
		if refPath, err = assets.Resolve(refPath, DefaultAssetDir()); err != nil {
			return nil, fmt.Errorf("train: rewards: reference: %w", err)
		}
		ref, err := model.Load(refPath, lo)
		if err != nil {
			return nil, fmt.Errorf("train: rewards: reference: %w", err)
		}
		s.closers = append(s.closers, func() { ref.Close() })
		if !policy.SameTokenizer(ref) {
			return nil, fmt.Errorf("train: rewards: the reference %s tokenizes differently from the policy", refPath)
		}
		s.Ref, s.RefPath = seqScore(ref), refPath
	}
	ok = true
	return s, nil
}

// seqScore sums a model's log-probs of the response tokens.
func seqScore(m *model.Model) func(prompt, response []data.Message) (float64, error) {
	return func(prompt, response []data.Message) (float64, error) {
		seq, err := m.Encode(prompt, response)
		if err != nil {
			return 0, err
		}
		lp, err := m.LogProbs([]model.Sequence{seq})
		if err != nil {
			return 0, err
		}
		s := 0.0
		for _, v := range lp[0] {
			s += float64(v)
		}
		return s, nil
	}
}
