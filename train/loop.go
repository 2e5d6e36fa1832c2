package train

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/kernels"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/objectives"
)

// stageSteps is the number of optimizer steps of a stage with n examples.
func (t *trainer) stageSteps(n int) int {
	if t.r.MaxSteps > 0 {
		return t.r.MaxSteps
	}
	micro := (n + t.r.PerDeviceTrainBatchSize - 1) / t.r.PerDeviceTrainBatchSize
	perEpoch := (micro + t.r.GradientAccumulationSteps - 1) / t.r.GradientAccumulationSteps
	epochs := t.r.NumTrainEpochs
	if t.r.Objective.Name == "curry_dpo" && t.r.Objective.EpochsPerStage > 0 {
		epochs = t.r.Objective.EpochsPerStage
	}
	return max(1, int(math.Ceil(epochs*float64(perEpoch))))
}

// trainStage runs the optimizer steps of one stage: per step, gradient_accumulation_steps
// micro-batches of forward → objective → dL/dlogp → backward, then clipping, the scheduled
// learning rate and AdamW.
func (t *trainer) trainStage(ctx context.Context, exs []*example) error {
	params := t.trainable()
	warm, bc := t.bcWarmUp()
	obj := t.obj
	defer func() { t.obj = obj }()
	total := bc + t.stageSteps(len(exs))
	if t.st.StageTotal == 0 {
		t.st.StageTotal = total
	}
	sched, err := NewSchedule(t.r.LRSchedulerType, t.stageLR(), t.r.WarmupRatio, total-bc)
	if err != nil {
		return err
	}
	if t.optim == nil || t.st.StageStep == 0 {
		t.optim = NewAdamW(params, t.r.AdamBeta1, t.r.AdamBeta2, t.r.AdamEpsilon, t.r.WeightDecay)
	}
	if t.st.Perm == nil {
		t.st.Perm = t.dataOrder(len(exs))
		t.st.Epoch, t.st.Cursor = 0, 0
	}
	t.prog = NewProgress(progressWriter(t.opt.Progress), total, fmt.Sprintf("%s stage %d", t.r.Name, t.st.Stage+1), t.opt.Progress == nil)
	t.prog.Log("stage %d: %d pairs, %d optimizer steps (from step %d)", t.st.Stage+1, len(exs), total, t.st.StageStep)
	B, G := t.r.PerDeviceTrainBatchSize, t.r.GradientAccumulationSteps
	window := map[string]float64{}
	windowN := 0
	var windowTokens int64
	t.policy.SetTraining(true)
	defer t.policy.SetTraining(false)
	if t.st.Step == 0 && t.st.StageStep == 0 {
		if err := t.warmUp(ctx, exs, total); err != nil {
			return err
		}
	}
	t.fmaPeak, t.flops = kernels.FMAPeak(t.policy.Threads(), 200*time.Millisecond), 0
	windowStart := time.Now()
	for t.st.StageStep < total {
		if err := ctx.Err(); err != nil {
			return err
		}
		stepStart := time.Now()
		if bc > 0 && t.st.StageStep == bc {
			// CPL's warm-up is over: a fresh optimizer, and the schedule starts now.
			t.optim = NewAdamW(params, t.r.AdamBeta1, t.r.AdamBeta2, t.r.AdamEpsilon, t.r.WeightDecay)
		}
		t.obj = obj
		if t.st.StageStep < bc {
			t.obj = warm
		}
		t.zeroGrad()
		var stepLoss float64
		stepMetrics := map[string]float64{}
		var tokens int64
		for g := 0; g < G; g++ {
			if t.st.Cursor*B >= len(exs) {
				t.st.Epoch++
				t.st.Perm = t.dataOrder(len(exs))
				t.st.Cursor = 0
			}
			lo := t.st.Cursor * B
			batch := make([]*example, 0, B)
			for _, i := range t.st.Perm[lo:min(lo+B, len(exs))] {
				batch = append(batch, exs[i])
			}
			t.st.Cursor++
			res, n, err := t.step(ctx, batch, 1/float64(G))
			if err != nil {
				return err
			}
			if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
				where := "no checkpoint was written yet"
				if t.lastCkpt != "" {
					where = "the last good checkpoint is " + t.lastCkpt
				} else if d, _, ok, _ := LatestCheckpoint(t.dir); ok {
					where = "the last good checkpoint is " + d
				}
				return fmt.Errorf("train: the loss is %v at step %d (stage %d); training stopped and %s. Lower learning_rate, set max_grad_norm, or check the data for empty responses", res.Loss, t.st.Step+1, t.st.Stage+1, where)
			}
			stepLoss += res.Loss / float64(G)
			for k, v := range res.Metrics {
				stepMetrics[k] += v / float64(G)
			}
			tokens += n
		}
		t.obj = obj
		norm := ClipGradNorm(params, t.r.MaxGradNorm)
		lr := t.r.LearningRate // CPL's warm-up runs at the constant peak rate, as the code does
		if t.st.StageStep >= bc {
			lr = sched.LR(t.st.StageStep - bc)
		}
		t.optim.Step(params, lr)
		t.st.StageStep++
		t.st.Step++
		t.st.Tokens += tokens
		t.st.TrainSeconds += time.Since(stepStart).Seconds()
		t.st.LastLoss = stepLoss
		windowTokens += tokens
		window["loss"] += stepLoss
		for k, v := range stepMetrics {
			window[k] += v
		}
		windowN++
		if t.st.StageStep%t.r.LoggingSteps == 0 || t.st.StageStep == total {
			vals := map[string]float64{}
			for k, v := range window {
				vals[k] = v / float64(windowN)
			}
			vals["learning_rate"] = lr
			vals["grad_norm"] = norm
			el := time.Since(windowStart).Seconds()
			if el > 0 {
				vals["tokens/s"] = float64(windowTokens) / el
				// Model FLOPs utilisation of the policy's steps (docs/benchmarks.md, MFU).
				vals["mfu"] = t.flops / el / (t.fmaPeak * 1e9)
			}
			vals["elapsed"] = t.st.TrainSeconds
			vals["stage"] = float64(t.st.Stage + 1)
			epoch := float64(t.st.Epoch) + float64(min(t.st.Cursor*B, len(exs)))/float64(len(exs))
			if err := t.metrics.Write(Metrics{Step: t.st.Step, Epoch: epoch, Values: vals}); err != nil {
				return err
			}
			acc, ok := vals["rewards/accuracies"]
			if !ok {
				acc = vals["accuracy"] // the reward model's (TRL RewardTrainer's name)
			}
			t.prog.Update(t.st.StageStep, fmt.Sprintf("loss %.4f acc %.2f", vals["loss"], acc))
			window, windowN, windowTokens, windowStart = map[string]float64{}, 0, 0, time.Now()
			t.flops = 0
		}
		if (t.r.SaveSteps > 0 && t.st.Step%t.r.SaveSteps == 0) || t.st.StageStep == total {
			if err := t.checkpoint(); err != nil {
				return err
			}
		}
	}
	return nil
}

// step runs one micro-batch with the objective's gradient scaled by scale: a reward model's
// (rewardMicroBatch) or the policy's (microBatch). It returns the result and the policy tokens.
func (t *trainer) step(ctx context.Context, batch []*example, scale float64) (objectives.Result, int64, error) {
	if t.head != nil {
		return t.rewardMicroBatch(batch, scale)
	}
	return t.microBatch(ctx, batch, scale)
}

// warmUp runs the run's first micro-batch once before the first step, forward and backward
// with the objective's gradient scaled by 0 and then cleared (the weights and the optimizer
// are untouched; the reference log-probs it computes are the ones the first step would), and
// prints the rate it measured times the policy tokens of one epoch of exs as the estimated time
// per epoch, and that times the stage's epochs. An objective that samples each step (per-step
// KL) is not warmed up: its sampling draws from the run's RNG.
func (t *trainer) warmUp(ctx context.Context, exs []*example, steps int) error {
	if len(exs) == 0 {
		return nil
	}
	if t.perStepKL() {
		t.prog.Log("time per epoch: not estimated (the objective samples every step)")
		return nil
	}
	B, G := t.r.PerDeviceTrainBatchSize, t.r.GradientAccumulationSteps
	batch := make([]*example, 0, B)
	for _, i := range t.st.Perm[:min(B, len(exs))] {
		batch = append(batch, exs[i])
	}
	start := time.Now()
	_, n, err := t.step(ctx, batch, 0)
	el := time.Since(start)
	t.zeroGrad()
	t.flops = 0
	if err != nil {
		return fmt.Errorf("train: warm-up step: %w", err)
	}
	keys := t.needs.policy
	if t.head != nil { // a reward model scores the chosen and the rejected sequence
		keys = []string{"w", "l"}
	}
	var epoch int64 // the policy tokens of one pass over exs
	for _, ex := range exs {
		for _, k := range keys {
			for _, s := range ex.seqs[k] {
				epoch += int64(len(s.Tokens))
			}
		}
	}
	if n <= 0 || el <= 0 {
		return nil
	}
	rate := float64(n) / el.Seconds()
	perEpoch := time.Duration(float64(epoch) / rate * float64(time.Second))
	epochs := float64(steps*G*B) / float64(len(exs)) // micro-batches of the stage over those of an epoch
	round := func(d time.Duration) time.Duration {
		if d >= time.Minute {
			return d.Round(time.Second)
		}
		return d.Round(10 * time.Millisecond)
	}
	t.prog.Log("warm-up step: %d tokens in %s (%.0f tokens/s): estimated time per epoch %s (%d tokens), %s for the stage's %d steps (%.2f epochs)",
		n, round(el), rate, round(perEpoch), epoch, round(time.Duration(epochs*float64(perEpoch))), steps, epochs)
	return nil
}

// bcWarmUp returns CPL's behaviour-cloning warm-up objective and its number of optimizer steps
// (bc_steps), run before the first stage's CPL steps; 0 steps for every other objective and
// stage. Hejna et al.'s code (research/algs/cpl.py, CPL.train_step) optimises the BC loss alone
// for bc_steps steps at a constant learning rate, then resets the optimizer and starts the
// schedule.
func (t *trainer) bcWarmUp() (objectives.Objective, int) {
	c, ok := t.obj.(*objectives.CPL)
	if !ok || c.BCSteps == 0 || t.st.Stage > 0 {
		return nil, 0
	}
	w := *c
	w.BCOnly = true
	return &w, c.BCSteps
}

// microBatch runs one micro-batch and accumulates scale·dL/dθ into the policy's gradients. It
// returns the objective's result and the number of tokens processed.
func (t *trainer) microBatch(ctx context.Context, batch []*example, scale float64) (objectives.Result, int64, error) {
	if lazy, err := t.batchReference(batch); err != nil {
		return objectives.Result{}, 0, err
	} else if lazy {
		defer func() {
			for _, ex := range batch {
				clear(ex.ref)
			}
		}()
	}
	if t.perStepKL() {
		if err := t.stepSamples(ctx, batch); err != nil {
			return objectives.Result{}, 0, err
		}
		defer func() {
			for _, ex := range batch {
				delete(ex.seqs, "on")
				delete(ex.ref, "on")
			}
		}()
	}
	var seqs []model.Sequence
	type slot struct {
		kind string
		ex   int
		off  int
		n    int
	}
	var slots []slot
	var tokens int64
	for _, k := range t.needs.policy {
		for b, ex := range batch {
			slots = append(slots, slot{k, b, len(seqs), len(ex.seqs[k])})
			seqs = append(seqs, ex.seqs[k]...)
		}
	}
	lens := make([]int, len(seqs))
	for i, s := range seqs {
		tokens += int64(len(s.Tokens))
		lens[i] = len(s.Tokens)
	}
	t.flops += t.policy.StepFLOPs(lens)
	pass, err := t.policy.Forward(seqs)
	if err != nil {
		return objectives.Result{}, 0, fmt.Errorf("train: forward: %w", err)
	}
	at := func(k string, b int) [][]float32 {
		for _, s := range slots {
			if s.kind == k && s.ex == b {
				return pass.LogProbs[s.off : s.off+s.n]
			}
		}
		return nil
	}
	B := len(batch)
	in := &objectives.Batch{}
	for _, name := range t.obj.Inputs() {
		src, _ := sourceOf(name)
		if p := in.Scalar(name); p != nil {
			col := make([]float64, B)
			for b, ex := range batch {
				switch src.model {
				case "policy":
					col[b] = sum64(at(src.seq, b)[0])
				case "ref":
					col[b] = sum64(ex.ref[src.seq][0])
				case "prev":
					col[b] = sum64(ex.prev[src.seq][0])
				case "prevm":
					col[b] = sum64(ex.prevm[src.seq][0])
				case "len":
					col[b] = float64(countMask(ex.seqs[src.seq][0]))
				case "label":
					v, ok := ex.labels[src.seq]
					if !ok {
						return objectives.Result{}, 0, fmt.Errorf("train: objective %s reads %s from each pair's scores (score_chosen, score_rejected: the win rates against pi_t), but example %d has none", t.obj.Name(), name, ex.idx)
					}
					col[b] = v
				}
			}
			*p = col
			continue
		}
		p := in.Array(name)
		if p == nil {
			return objectives.Result{}, 0, fmt.Errorf("train: objective input %q has an unsupported shape", name)
		}
		col := make([][]float64, B)
		for b, ex := range batch {
			switch {
			case name == "tok_w" || name == "tok_l" || name == "tref_w" || name == "tref_l":
				var lp []float32
				if src.model == "policy" {
					lp = at(src.seq, b)[0]
				} else {
					lp = ex.ref[src.seq][0] // CPL's per-token reference log-probs
				}
				col[b] = make([]float64, len(lp))
				for i, v := range lp {
					col[b][i] = float64(v)
				}
			case src.model == "policy": // on_pi: one sum per online sample
				for _, lp := range at(src.seq, b) {
					col[b] = append(col[b], sum64(lp))
				}
			case src.model == "ref":
				for _, lp := range ex.ref[src.seq] {
					col[b] = append(col[b], sum64(lp))
				}
			}
		}
		*p = col
	}
	grad := objectives.NewGrad(t.obj, in)
	res, err := t.obj.Loss(in, grad)
	if err != nil {
		return res, 0, fmt.Errorf("train: objective %s: %w", t.obj.Name(), err)
	}
	dlogp := make([][]float32, len(seqs))
	for i, lp := range pass.LogProbs {
		dlogp[i] = make([]float32, len(lp))
	}
	for _, name := range t.obj.Differentiated() {
		src, _ := sourceOf(name)
		for b := range batch {
			var off, n int
			for _, s := range slots {
				if s.kind == src.seq && s.ex == b {
					off, n = s.off, s.n
				}
			}
			if p := grad.Scalar(name); p != nil {
				g := float32((*p)[b] * scale)
				for _, d := range dlogp[off : off+n] {
					for i := range d {
						d[i] += g
					}
				}
				continue
			}
			arr := (*grad.Array(name))[b]
			if name == "tok_w" || name == "tok_l" {
				d := dlogp[off]
				for i := range d {
					d[i] += float32(arr[i] * scale)
				}
				continue
			}
			for j, d := range dlogp[off : off+n] { // on_pi: one gradient per sample, on each token
				g := float32(arr[j] * scale)
				for i := range d {
					d[i] += g
				}
			}
		}
	}
	if err := pass.Backward(dlogp); err != nil {
		return res, 0, fmt.Errorf("train: backward: %w", err)
	}
	return res, tokens, nil
}

// checkpoint writes the weights, optimizer, loop state and recipe atomically.
func (t *trainer) checkpoint() error {
	recipe, err := t.r.Marshal()
	if err != nil {
		return err
	}
	state, err := json.Marshal(t.st)
	if err != nil {
		return fmt.Errorf("train: checkpoint state: %w", err)
	}
	optim := t.optim
	if optim == nil {
		optim = NewAdamW(t.trainable(), t.r.AdamBeta1, t.r.AdamBeta2, t.r.AdamEpsilon, t.r.WeightDecay)
	}
	dir, err := SaveCheckpoint(t.dir, t.st.Step, []CheckpointFile{
		// A reward model's head (score.weight) is the last tensor, saved with the adapter.
		{"weights.bin", func(w io.Writer) error { return saveParams(w, t.trainable()) }},
		{"optimizer.bin", optim.Save},
		{"state.json", func(w io.Writer) error { _, err := w.Write(state); return err }},
		{"recipe.yaml", func(w io.Writer) error { _, err := w.Write(recipe); return err }},
	}, t.r.SaveTotalLimit)
	if err != nil {
		return err
	}
	t.lastCkpt = dir
	return nil
}

// restore loads a checkpoint into the policy, the optimizer and the loop state.
func (t *trainer) restore(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	st := loopState{RNG: NewRNG(0, 0)}
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("train: resume %s: state.json: %w", dir, err)
	}
	f, err := os.Open(filepath.Join(dir, "weights.bin"))
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	err = loadParams(f, t.trainable())
	f.Close()
	if err != nil {
		return fmt.Errorf("train: resume %s: %w", dir, err)
	}
	t.optim = NewAdamW(t.trainable(), t.r.AdamBeta1, t.r.AdamBeta2, t.r.AdamEpsilon, t.r.WeightDecay)
	f, err = os.Open(filepath.Join(dir, "optimizer.bin"))
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	err = t.optim.Load(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("train: resume %s: %w", dir, err)
	}
	if st.StageTotal > 0 && st.StageStep >= st.StageTotal && !st.Done {
		// The checkpoint closed a stage: continue with the next one.
		st.Stage++
		st.StageStep, st.StageTotal, st.Epoch, st.Cursor, st.Perm = 0, 0, 0, 0, nil
	}
	t.st = st
	t.lastCkpt = dir
	return nil
}

const paramsMagic = "ALIGNPARAMS1\n"

// saveParams writes the trainable tensors: names, shapes and little-endian float32 data.
func saveParams(w io.Writer, ps []*model.Param) error {
	if _, err := io.WriteString(w, paramsMagic); err != nil {
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, uint32(len(ps))); err != nil {
		return err
	}
	for _, p := range ps {
		if err := binary.Write(w, binary.LittleEndian, uint32(len(p.Name))); err != nil {
			return err
		}
		if _, err := io.WriteString(w, p.Name); err != nil {
			return err
		}
		if err := binary.Write(w, binary.LittleEndian, uint64(len(p.Data))); err != nil {
			return err
		}
		if err := writeF32(w, p.Data); err != nil {
			return err
		}
	}
	return nil
}

// loadParams reads tensors written by saveParams into ps, checking names and sizes.
func loadParams(r io.Reader, ps []*model.Param) error {
	magic := make([]byte, len(paramsMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != paramsMagic {
		return fmt.Errorf("train: weights: bad header")
	}
	var n uint32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return fmt.Errorf("train: weights: %w", err)
	}
	if int(n) != len(ps) {
		return fmt.Errorf("train: weights hold %d tensors, the model has %d trainable (different lora_r or targets?)", n, len(ps))
	}
	for _, p := range ps {
		var l uint32
		if err := binary.Read(r, binary.LittleEndian, &l); err != nil {
			return fmt.Errorf("train: weights: %w", err)
		}
		name := make([]byte, l)
		if _, err := io.ReadFull(r, name); err != nil {
			return fmt.Errorf("train: weights: %w", err)
		}
		var size uint64
		if err := binary.Read(r, binary.LittleEndian, &size); err != nil {
			return fmt.Errorf("train: weights: %w", err)
		}
		if string(name) != p.Name || int(size) != len(p.Data) {
			return fmt.Errorf("train: weights: tensor %q (%d values) does not match the model's %q (%d)", name, size, p.Name, len(p.Data))
		}
		if err := readF32(r, p.Data); err != nil {
			return err
		}
	}
	return nil
}

func cloneParams(ps []*model.Param) [][]float32 {
	out := make([][]float32, len(ps))
	for i, p := range ps {
		out[i] = append([]float32(nil), p.Data...)
	}
	return out
}

func restoreParams(ps []*model.Param, saved [][]float32) {
	for i, p := range ps {
		copy(p.Data, saved[i])
	}
}

// batchReference computes the frozen reference's log-probs of the micro-batch when
// fillReference left them out (precompute_ref_log_probs: false). It reports whether it did; the
// caller drops them after the step, so nothing is kept between steps.
func (t *trainer) batchReference(batch []*example) (bool, error) {
	if len(t.needs.ref) == 0 || t.r.PrecomputeRefLogProbs || t.r.Reference.Free {
		return false, nil
	}
	for _, ex := range batch {
		if len(ex.ref[t.needs.ref[0]]) > 0 {
			return false, nil // filled by fillReference (an iterative Curry-DPO stage)
		}
	}
	lps, err := logProbsBatched(t.ref, flatten(batch, t.needs.ref), 64)
	if err != nil {
		return false, fmt.Errorf("train: reference log-probs: %w", err)
	}
	scatter(batch, t.needs.ref, lps, func(e *example) map[string][][]float32 { return e.ref })
	return true, nil
}

// perStepKL reports whether HyPO draws its online samples at every optimizer step
// (online.kl_samples: per_step, the paper's y ~ pi_theta for the current theta).
func (t *trainer) perStepKL() bool {
	return t.r.Online.Iterations > 0 && t.r.Online.Pairs.Rule == "none" && t.r.Online.KLSamples == "per_step" && len(t.needs.ref) > 0 && slices.Contains(t.needs.policy, "on")
}

// stepSamples draws HyPO's k online samples for each example of a micro-batch from the policy
// as it is now (dropout off), with the local sampler, and sets their sequences and reference
// log-probs. Each sample's seed derives from the run seed, the stage, the global step, the
// example and the sample index, so a resumed run (same weights at the same step) draws the
// same samples and stays bit-identical. The caller drops them after the step.
func (t *trainer) stepSamples(ctx context.Context, batch []*example) error {
	k := t.r.Online.SamplesPerPrompt
	texts := make([]string, len(batch)*k)
	t.policy.SetTraining(false)
	err := parallel(ctx, len(texts), func(i int) error {
		ex, j := batch[i/k], i%k
		s, err := t.sampleText(ctx, t.policy, ex.prompt, seedFor(t.r.Seed, 4, t.st.Stage, t.st.Step, ex.idx, j))
		texts[i] = s
		return err
	})
	t.policy.SetTraining(true)
	if err != nil {
		return fmt.Errorf("train: HyPO step samples: %w", err)
	}
	var seqs []model.Sequence
	for i, ex := range batch {
		ex.seqs["on"] = nil
		for j := 0; j < k; j++ {
			s, err := t.enc.encode(ex.prompt, []data.Message{{Role: "assistant", Content: texts[i*k+j]}})
			if err != nil {
				return fmt.Errorf("train: HyPO step samples: %w", err)
			}
			ex.seqs["on"] = append(ex.seqs["on"], s)
			seqs = append(seqs, s)
		}
	}
	var lps [][]float32
	if t.r.Reference.Free {
		for _, s := range seqs {
			lps = append(lps, make([]float32, countMask(s)))
		}
	} else {
		var err error
		if lps, err = logProbsBatched(t.ref, seqs, 64); err != nil {
			return fmt.Errorf("train: HyPO step samples: reference log-probs: %w", err)
		}
	}
	for i, ex := range batch {
		ex.ref["on"] = lps[i*k : (i+1)*k]
	}
	return nil
}
