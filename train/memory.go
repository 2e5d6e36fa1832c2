package train

import (
	"fmt"

	"github.com/alignkit/align/model"
	"github.com/alignkit/align/recipes"
)

// MemoryPlan is what recipe r's peak memory depends on (model.MemoryPlan): one policy forward
// packs the micro-batch (per_device_train_batch_size examples × the policy sequences the
// objective reads per example) at max_length each; a second copy of the weights is held when
// the run loads the base or its own reference model beside the policy (needsBase,
// needsOwnReference).
func MemoryPlan(r recipes.Recipe) (model.MemoryPlan, error) {
	obj, err := buildObjective(r)
	if err != nil {
		return model.MemoryPlan{}, err
	}
	n, err := needsOf(obj)
	if err != nil {
		return model.MemoryPlan{}, err
	}
	return model.MemoryPlan{
		Tokens:    r.PerDeviceTrainBatchSize * max(len(n.policy), 1) * r.MaxLength,
		Reference: needsBase(r, n) || needsOwnReference(r, n),
		LoRARank:  r.LoraR,
		Targets:   r.LoraTargetModules,
		Dropout:   r.LoraDropout > 0,
		LowMemory: r.Model.LowMemory,
		Dense:     r.Model.Dense,
		Recompute: r.Model.Recompute,
	}, nil
}

// EstimateMemory is the estimated peak memory of training the GGUF at path with recipe r.
func EstimateMemory(path string, r recipes.Recipe) (model.MemoryEstimate, error) {
	info, err := model.Inspect(path)
	if err != nil {
		return model.MemoryEstimate{}, err
	}
	plan, err := MemoryPlan(r)
	if err != nil {
		return model.MemoryEstimate{}, err
	}
	return info.EstimateMemory(plan)
}

// needsBase reports whether a run loads the frozen base beside the policy: as the default
// reference, or for the held-out evaluation.
func needsBase(r recipes.Recipe, n needs) bool {
	// A reward model's eval.held_out holds pairs out; it compares no generations with the base.
	return (len(n.ref) > 0 && !r.Reference.Free && !ownReference(r)) || (r.Eval.HeldOut > 0 && !isReward(r))
}

// needsOwnReference reports whether a run loads a reference model of its own (reference.path
// or reference.ollama).
func needsOwnReference(r recipes.Recipe, n needs) bool {
	return len(n.ref) > 0 && !r.Reference.Free && ownReference(r)
}

func ownReference(r recipes.Recipe) bool { return r.Reference.Path != "" || r.Reference.Ollama != "" }

// checkMemory prints the estimate of the run's peak memory before the models load, beside the
// memory the run may take (Options.MemAvailable, else this machine's available memory), and
// refuses the run when the estimate exceeds it, unless Options.Force. An estimate that cannot
// be made (a model Inspect cannot size) is reported and does not stop the run; Load then says
// what is wrong with the file.
func (t *trainer) checkMemory(path string) error {
	e, err := EstimateMemory(path, t.r)
	w := progressWriter(t.opt.Progress)
	if err != nil {
		fmt.Fprintf(w, "align: memory estimate unavailable: %v\n", err)
		return nil
	}
	avail := t.opt.MemAvailable
	if avail <= 0 {
		avail = model.AvailableMemory()
	}
	if avail <= 0 {
		fmt.Fprintf(w, "align: estimated peak memory %s; available memory unknown\n", e)
		return nil
	}
	fmt.Fprintf(w, "align: estimated peak memory %s; %.0f MB available\n", e, float64(avail)/1e6)
	if e.Total <= avail {
		return nil
	}
	if t.opt.Force {
		fmt.Fprintf(w, "align: --force: starting although the estimate exceeds the available memory\n")
		return nil
	}
	return fmt.Errorf("train: the run will not fit in memory: estimated peak %s, %.0f MB available. Lower per_device_train_batch_size or max_length, set model.recompute=true, keep a quantized base resident (no model.dense), set GOMEMLIMIT (the estimate's runtime part shrinks to it), or pass --force to start anyway",
		e, float64(avail)/1e6)
}
