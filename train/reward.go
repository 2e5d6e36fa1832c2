package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/objectives"
	"github.com/alignkit/align/pairs"
	"github.com/alignkit/align/recipes"
)

// isReward reports whether a recipe trains a reward model (objective reward): the policy
// gets a scalar head (model.RewardHead) and the loop feeds the objective rewards, not
// log-probs.
func isReward(r recipes.Recipe) bool {
	return recipes.CanonicalObjective(r.Objective.Name) == "reward"
}

// rewardHeadSeed derives the head's initial weights from the run seed.
func rewardHeadSeed(seed uint64) uint64 { return seed ^ 0x7265776172640a }

// trainable lists the tensors the optimizer updates and a checkpoint saves: the policy's
// trainable parameters (LoRA or full) and, for a reward model, the head (score.weight) last.
func (t *trainer) trainable() []*model.Param {
	ps := t.policy.Params()
	if t.head != nil {
		ps = append(append([]*model.Param(nil), ps...), t.head.W)
	}
	return ps
}

// zeroGrad clears the gradients of every trainable tensor.
func (t *trainer) zeroGrad() {
	t.policy.ZeroGrad()
	if t.head != nil {
		clear(t.head.W.Grad)
	}
}

// splitRewardPairs holds out the pairs of eval.held_out prompts for the reward model's
// held-out accuracy; the other prompts' pairs train. Whole prompts are held out, so that no
// held-out response was seen in training (a dataset of all pairs of K samples repeats each
// response). The prompts are ordered by a hash of their text under the run seed.
func splitRewardPairs(ps []data.Pair, held int, seed uint64) (train, test []data.Pair, err error) {
	if held <= 0 {
		return ps, nil, nil
	}
	group := map[string]int{}
	var keys []uint64
	gs := make([]int, len(ps))
	for i, p := range ps {
		k := promptKey(p.Prompt)
		g, ok := group[k]
		if !ok {
			g = len(keys)
			group[k] = g
			keys = append(keys, seedFor(seed, 11)^hashString(k))
		}
		gs[i] = g
	}
	if held >= len(keys) {
		return nil, nil, fmt.Errorf("train: eval.held_out is %d but the dataset has %d prompts; the reward model needs prompts left to train on", held, len(keys))
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	out := map[int]bool{}
	for _, g := range order[len(order)-held:] {
		out[g] = true
	}
	for i, p := range ps {
		if out[gs[i]] {
			test = append(test, p)
		} else {
			train = append(train, p)
		}
	}
	return train, test, nil
}

func promptKey(ms []data.Message) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%d:%s%d:%s", len(m.Role), m.Role, len(m.Content), m.Content)
	}
	return b.String()
}

// rewardMicroBatch is microBatch for a reward model: one forward pass through the policy and
// the head over the chosen and rejected sequences, the objective on the rewards (with each
// pair's margin), and the backward pass of scale·dL/dr into the head and the policy.
func (t *trainer) rewardMicroBatch(batch []*example, scale float64) (objectives.Result, int64, error) {
	B := len(batch)
	seqs := make([]model.Sequence, 0, 2*B)
	for _, k := range []string{"w", "l"} {
		for _, ex := range batch {
			seqs = append(seqs, ex.seqs[k][0])
		}
	}
	var tokens int64
	lens := make([]int, len(seqs))
	for i, s := range seqs {
		tokens += int64(len(s.Tokens))
		lens[i] = len(s.Tokens)
	}
	t.flops += t.policy.StepFLOPs(lens)
	pass, err := t.policy.RewardForward(seqs, t.head)
	if err != nil {
		return objectives.Result{}, 0, fmt.Errorf("train: reward forward: %w", err)
	}
	in := &objectives.Batch{RC: make([]float64, B), RR: make([]float64, B), Margin: make([]float64, B)}
	for b, ex := range batch {
		in.RC[b], in.RR[b], in.Margin[b] = float64(pass.Rewards[b]), float64(pass.Rewards[B+b]), ex.margin
	}
	grad := objectives.NewGrad(t.obj, in)
	res, err := t.obj.Loss(in, grad)
	if err != nil {
		return res, 0, fmt.Errorf("train: objective %s: %w", t.obj.Name(), err)
	}
	dr := make([]float32, 2*B)
	for b := range batch {
		dr[b], dr[B+b] = float32(grad.RC[b]*scale), float32(grad.RR[b]*scale)
	}
	if err := pass.Backward(dr); err != nil {
		return res, 0, fmt.Errorf("train: reward backward: %w", err)
	}
	return res, tokens, nil
}

// evaluateReward measures the reward model on the held-out pairs: accuracy (the share of
// pairs whose chosen response gets the higher reward, TRL's accuracy) and the mean margin.
func (t *trainer) evaluateReward(res *Result) error {
	if len(t.heldPairs) == 0 {
		return nil
	}
	t.policy.SetTraining(false)
	var seqs []model.Sequence
	for _, p := range t.heldPairs {
		w, err := t.enc.encode(p.Prompt, p.Chosen)
		if err != nil {
			return fmt.Errorf("train: held-out pair %s: %w", p.ID, err)
		}
		l, err := t.enc.encode(p.Prompt, p.Rejected)
		if err != nil {
			return fmt.Errorf("train: held-out pair %s: %w", p.ID, err)
		}
		seqs = append(seqs, w, l)
	}
	rs, err := rewardsBatched(t.policy, t.head, seqs, 64)
	if err != nil {
		return fmt.Errorf("train: held-out rewards: %w", err)
	}
	var acc, gap float64
	n := len(t.heldPairs)
	for i := 0; i < n; i++ {
		if rs[2*i] > rs[2*i+1] {
			acc++
		}
		gap += float64(rs[2*i] - rs[2*i+1])
	}
	res.RewardAccuracy, res.RewardMargin = acc/float64(n), gap/float64(n)
	res.HeldOutPairs = n
	t.prog.Log("held-out reward accuracy (%d pairs): %.1f%%, mean margin %.3f", n, 100*res.RewardAccuracy, res.RewardMargin)
	return nil
}

func rewardsBatched(m *model.Model, head *model.RewardHead, seqs []model.Sequence, batch int) ([]float32, error) {
	out := make([]float32, 0, len(seqs))
	for i := 0; i < len(seqs); i += batch {
		rs, err := m.Rewards(seqs[i:min(i+batch, len(seqs))], head)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// RewardModel is a trained reward model served by align's own engine: the run's policy (base
// GGUF with its LoRA or full weights from the newest checkpoint) and its head. Rewards encode
// each (prompt, response) as training did and score them in batches, the model using every
// core (its threads); concurrent calls share batches. It implements pairs.Rewarder.
type RewardModel struct {
	run  string
	m    *model.Model
	head *model.RewardHead
	enc  *encoder
	// batch is the sequences per forward pass; pending the calls waiting, running whether a
	// caller is draining them.
	batch   int
	mu      sync.Mutex
	pending []*rewardReq
	running bool
}

// RewardOptions configure OpenRewardModel.
type RewardOptions struct {
	// Threads for the model (0 = all cores).
	Threads int
	// OllamaHosts locate a model.ollama base model's blob.
	OllamaHosts []string
	// Batch is the number of sequences per forward pass (default 64).
	Batch int
}

// ErrNoRewardHead is returned for a run that did not train a reward model.
var ErrNoRewardHead = errors.New("the run has no reward head")

// OpenRewardModel loads the reward model of a run directory (`align train --recipe reward`):
// its recipe, its base model and the newest checkpoint's weights, the head included. A run
// of another objective has no head and gets an error saying so.
func OpenRewardModel(ctx context.Context, runDir string, opt RewardOptions) (*RewardModel, error) {
	r, err := recipes.ParseFile(filepath.Join(runDir, "recipe.yaml"))
	if err != nil {
		return nil, fmt.Errorf("reward model %s: %w (is it a run directory of align train?)", runDir, err)
	}
	if !isReward(r) {
		return nil, fmt.Errorf("reward model %s: %w: it trained objective %s; train a reward model with `align train --recipe reward` (or reward-quickstart)", runDir, ErrNoRewardHead, r.Objective.Name)
	}
	t, err := openCheckpoint(ctx, runDir, r, Options{OllamaHosts: opt.OllamaHosts, Threads: opt.Threads})
	if errors.Is(err, errNoCheckpoint) {
		return nil, fmt.Errorf("reward model %s: %w yet: %w", runDir, ErrNoRewardHead, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reward model %s: %w", runDir, err)
	}
	if opt.Batch <= 0 {
		opt.Batch = 64
	}
	return &RewardModel{run: runDir, m: t.policy, head: t.head, enc: t.enc, batch: opt.Batch}, nil
}

// loadWeights reads a weights.bin into the trainable tensors (the head included).
func (t *trainer) loadWeights(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return loadParams(f, t.trainable())
}

// Name is the judge name of the reward model in judgment files: rm:RUN.
func (rm *RewardModel) Name() string { return "rm:" + rm.run }

// Head returns the reward head.
func (rm *RewardModel) Head() *model.RewardHead { return rm.head }

// Model returns the policy the head reads.
func (rm *RewardModel) Model() *model.Model { return rm.m }

// Close releases the model.
func (rm *RewardModel) Close() error { return rm.m.Close() }

// Rewards scores each response to a one-turn prompt (the user's instruction), as training
// encoded its pairs (chat template, max_prompt_length and max_length truncation). Concurrent
// calls are batched together: the caller that finds the engine idle runs every pending
// request, up to the batch size per forward pass, while the others wait for their rewards.
func (rm *RewardModel) Rewards(ctx context.Context, instruction string, responses []string) ([]float64, error) {
	prompt := []data.Message{{Role: "user", Content: instruction}}
	req := &rewardReq{seqs: make([]model.Sequence, len(responses)), done: make(chan struct{})}
	for i, r := range responses {
		s, err := rm.enc.encode(prompt, []data.Message{{Role: "assistant", Content: r}})
		if err != nil {
			return nil, fmt.Errorf("reward model: encode response %d: %w", i+1, err)
		}
		req.seqs[i] = s
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rm.mu.Lock()
	rm.pending = append(rm.pending, req)
	lead := !rm.running
	rm.running = true
	rm.mu.Unlock()
	if lead {
		rm.drain()
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if req.err != nil {
		return nil, fmt.Errorf("reward model: %w", req.err)
	}
	out := make([]float64, len(req.out))
	for i, v := range req.out {
		out[i] = float64(v)
		if math.IsNaN(out[i]) || math.IsInf(out[i], 0) {
			return nil, fmt.Errorf("reward model: response %d: reward %v is not finite", i+1, v)
		}
	}
	return out, nil
}

// rewardReq is one Rewards call waiting for the engine.
type rewardReq struct {
	seqs []model.Sequence
	out  []float32
	err  error
	done chan struct{}
}

// drain runs the pending requests, batch sequences per forward pass, until none is left.
func (rm *RewardModel) drain() {
	for {
		rm.mu.Lock()
		reqs := rm.pending
		rm.pending = nil
		if len(reqs) == 0 {
			rm.running = false
			rm.mu.Unlock()
			return
		}
		rm.mu.Unlock()
		var seqs []model.Sequence
		for _, q := range reqs {
			seqs = append(seqs, q.seqs...)
		}
		rs, err := rewardsBatched(rm.m, rm.head, seqs, rm.batch)
		off := 0
		for _, q := range reqs {
			if err != nil {
				q.err = err
			} else {
				q.out = rs[off : off+len(q.seqs)]
			}
			off += len(q.seqs)
			close(q.done)
		}
	}
}

// rewardJudge opens the stage's reward judge (online.judge.kind: reward): the reward model of
// online.judge.run, loaded once per run, with its rewards logged in stage-K/logName.
func (t *trainer) rewardJudge(stage int, logName string) (pairs.Judge, func(), error) {
	if t.rm == nil {
		rm, err := OpenRewardModel(context.Background(), t.r.Online.Judge.Run, RewardOptions{Threads: t.opt.Threads, OllamaHosts: t.opt.OllamaHosts})
		if err != nil {
			return nil, nil, fmt.Errorf("train: online.judge: %w", err)
		}
		t.rm = rm
	}
	j, err := pairs.OpenRewardJudge(t.rm, 0, filepath.Join(t.stageDir(stage), logName))
	if err != nil {
		return nil, nil, fmt.Errorf("train: online.judge: %w", err)
	}
	t.prog.Log("stage %d: judging with the reward model %s (tie below |Δr| %g)", stage+1, t.r.Online.Judge.Run, pairs.DefaultRewardTie)
	return j, func() { j.Close() }, nil
}
