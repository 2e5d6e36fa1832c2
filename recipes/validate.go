package recipes

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/alignkit/align/objectives"
)

// Objective describes what the training loop must provide to an objective.
type Objective struct {
	// Name is the canonical name (underscores).
	Name string
	// Data is the record kind it trains on: "pairs" or "ranked".
	Data string
	// Online is true when the method needs sample-judge-train iterations.
	Online bool
}

// Objectives lists the objectives a recipe can name: those of the objectives registry (the one
// table of objectives) that the training loop trains, in the registry's order.
func Objectives() []Objective {
	var out []Objective
	for _, in := range objectives.Registry() {
		if in.Data != "" {
			out = append(out, Objective{Name: in.Name, Data: in.Data, Online: in.Online})
		}
	}
	return out
}

// ObjectiveParams returns the objective's typed parameter values: objective.params as the YAML
// gave them, plus the top-level beta, loss_type and label_smoothing (TRL's names) for the
// objectives that have parameters of those names, and reference_free from reference.free where
// the objective offers it. Curry-DPO's stages train plain DPO with the same values.
func (r *Recipe) ObjectiveParams() (objectives.Params, error) {
	name := CanonicalObjective(r.Objective.Name)
	var info *objectives.Info
	for _, in := range objectives.Registry() {
		if in.Name == name {
			info = &in
			break
		}
	}
	if info == nil {
		_, err := LookupObjective(name)
		return nil, err
	}
	p := objectives.Params{}
	for k, v := range r.Objective.Params {
		p[k] = v
	}
	for _, s := range info.Params {
		switch s.Name {
		case "beta":
			p["beta"] = r.Beta
		case "loss_type":
			p["loss_type"] = r.LossType
		case "label_smoothing":
			p["label_smoothing"] = r.LabelSmoothing
		case "reference_free":
			if r.Reference.Free {
				p["reference_free"] = true
			}
		}
	}
	return p, nil
}

// CanonicalObjective maps a user-written objective name (f-dpo, F_DPO, curry-dpo) to its
// canonical form.
func CanonicalObjective(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "-", "_")
}

// LookupObjective returns the objective's description, or an error naming the closest one.
func LookupObjective(name string) (Objective, error) {
	c := CanonicalObjective(name)
	var names []string
	for _, o := range Objectives() {
		if o.Name == c {
			return o, nil
		}
		names = append(names, o.Name)
	}
	msg := fmt.Sprintf("objective.name: unknown objective %q (known: %s)", name, strings.Join(names, ", "))
	if s := Closest(c, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return Objective{}, errors.New(msg)
}

func oneOf(field, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	msg := fmt.Sprintf("%s: %q is not one of %s", field, v, strings.Join(allowed, ", "))
	if c := Closest(v, allowed); c != "" {
		msg += fmt.Sprintf("; did you mean %q?", c)
	}
	return errors.New(msg)
}

// Validate checks every field's range and the combinations that cannot work (an online
// objective without iterations, a ranked-data objective given pairs). It reports all problems
// at once, one per line.
func (r *Recipe) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(r.Version == Version, "version: %d is not supported by this build (it reads version %d); add `version: 1`", r.Version, Version)

	obj, err := LookupObjective(r.Objective.Name)
	add(err)
	if err == nil {
		r.Objective.Name = obj.Name
	}
	for k := range r.Objective.Params {
		switch k {
		case "beta", "loss_type", "label_smoothing":
			errs = append(errs, fmt.Errorf("objective.params.%s: set it at the top level as `%s:` (TRL's name)", k, k))
		}
	}
	check(r.Model.Path != "" || r.Model.Ollama != "", "model: set model.path (a GGUF file) or model.ollama (an Ollama model name)")
	check(r.Dataset.Path != "", "dataset.path: missing; name the preference data (or prompts) file")
	add(oneOf("dataset.format", r.Dataset.Format, "auto", "pairs", "ranked", "prompts"))
	if err == nil {
		if obj.Data == "ranked" && r.Dataset.Format == "pairs" {
			errs = append(errs, fmt.Errorf("objective %s needs ranked data (a prompt with 3 or more scored responses), but dataset.format is pairs", obj.Name))
		}
		if obj.Online {
			check(r.Online.Iterations >= 1, "objective %s is online: set online.iterations to 1 or more", obj.Name)
		}
		if obj.Name == "srpo" {
			check(r.Objective.RevisionTemplate != "", "objective.revision_template: SRPO needs the revision prompt template")
		}
	}
	check(r.Beta > 0 && !math.IsInf(r.Beta, 0), "beta: must be > 0, got %g", r.Beta)
	add(oneOf("loss_type", r.LossType, objectives.DPOLossTypes()...))
	if err == nil {
		// The objective checks its own parameters (ranges, names, types), top-level ones included.
		if p, perr := r.ObjectiveParams(); perr == nil {
			if _, berr := objectives.Build(obj.Name, p); berr != nil {
				errs = append(errs, fmt.Errorf("objective.params: %w", berr))
			}
		}
	}
	check(r.LearningRate > 0 && r.LearningRate < 1, "learning_rate: must be in (0, 1), got %g", r.LearningRate)
	add(oneOf("lr_scheduler_type", r.LRSchedulerType, "constant", "constant_with_warmup", "linear", "cosine"))
	check(r.WarmupRatio >= 0 && r.WarmupRatio <= 1, "warmup_ratio: must be in [0, 1], got %g", r.WarmupRatio)
	check(r.MaxSteps > 0 || r.NumTrainEpochs > 0, "num_train_epochs: must be > 0 when max_steps is not set, got %g", r.NumTrainEpochs)
	check(r.PerDeviceTrainBatchSize >= 1, "per_device_train_batch_size: must be >= 1, got %d", r.PerDeviceTrainBatchSize)
	check(r.GradientAccumulationSteps >= 1, "gradient_accumulation_steps: must be >= 1, got %d", r.GradientAccumulationSteps)
	check(r.MaxPromptLength >= 1, "max_prompt_length: must be >= 1, got %d", r.MaxPromptLength)
	check(r.MaxLength > r.MaxPromptLength, "max_length (%d) must exceed max_prompt_length (%d), leaving room for the response", r.MaxLength, r.MaxPromptLength)
	check(r.MaxGradNorm >= 0, "max_grad_norm: must be >= 0 (0 disables clipping), got %g", r.MaxGradNorm)
	check(r.WeightDecay >= 0, "weight_decay: must be >= 0, got %g", r.WeightDecay)
	check(r.AdamBeta1 >= 0 && r.AdamBeta1 < 1, "adam_beta1: must be in [0, 1), got %g", r.AdamBeta1)
	check(r.AdamBeta2 >= 0 && r.AdamBeta2 < 1, "adam_beta2: must be in [0, 1), got %g", r.AdamBeta2)
	check(r.AdamEpsilon > 0, "adam_epsilon: must be > 0, got %g", r.AdamEpsilon)
	check(r.LoggingSteps >= 1, "logging_steps: must be >= 1, got %d", r.LoggingSteps)
	check(r.SaveSteps >= 0, "save_steps: must be >= 0, got %d", r.SaveSteps)
	check(r.SaveTotalLimit >= 0, "save_total_limit: must be >= 0, got %d", r.SaveTotalLimit)
	check(r.LoraR >= 0, "lora_r: must be >= 0 (0 = full fine-tuning), got %d", r.LoraR)
	if r.LoraR > 0 {
		check(r.LoraAlpha > 0, "lora_alpha: must be > 0, got %g", r.LoraAlpha)
		check(len(r.LoraTargetModules) > 0, "lora_target_modules: name at least one projection")
	}
	check(r.LoraDropout >= 0 && r.LoraDropout < 1, "lora_dropout: must be in [0, 1), got %g", r.LoraDropout)
	for _, m := range r.LoraTargetModules {
		add(oneOf("lora_target_modules", strings.TrimSuffix(m, "_proj"), "q", "k", "v", "o", "gate", "up", "down"))
	}
	if r.Objective.EpochsPerStage < 0 {
		errs = append(errs, fmt.Errorf("objective.epochs_per_stage: must be >= 0, got %g", r.Objective.EpochsPerStage))
	}

	on := r.Online
	check(on.Iterations >= 0, "online.iterations: must be >= 0, got %d", on.Iterations)
	if on.Iterations > 0 {
		check(on.SamplesPerPrompt >= 2 || (err == nil && obj.Name == "hypo" && on.SamplesPerPrompt >= 1), "online.samples_per_prompt: must be >= 2 to build pairs, got %d", on.SamplesPerPrompt)
		add(oneOf("online.judge.kind", on.Judge.Kind, "llm", "rule", "reward"))
		if on.Judge.Kind == "reward" {
			check(on.Judge.Run != "", "online.judge.run: name the reward model's run directory (align train --recipe reward)")
		}
		if on.Judge.Kind == "rule" {
			check(len(on.Judge.Words) > 0, "online.judge.words: the rule judge needs target words")
		}
		if on.Judge.Kind == "llm" && on.Pairs.Rule != "none" {
			check(on.Judge.Model != "", "online.judge.model: name the Ollama judge model")
		}
	}
	check(on.Sampling.Temperature >= 0, "online.sampling.temperature: must be >= 0, got %g", on.Sampling.Temperature)
	check(on.Sampling.TopP > 0 && on.Sampling.TopP <= 1, "online.sampling.top_p: must be in (0, 1], got %g", on.Sampling.TopP)
	check(on.Sampling.TopK >= 0, "online.sampling.top_k: must be >= 0, got %d", on.Sampling.TopK)
	check(on.Sampling.MaxTokens >= 1, "online.sampling.max_tokens: must be >= 1, got %d", on.Sampling.MaxTokens)
	add(oneOf("online.pairs.rule", on.Pairs.Rule, "best_vs_worst", "tournament", "rubric", "all_pairs", "none"))
	if on.Judge.Mode != "" {
		add(oneOf("online.judge.mode", on.Judge.Mode, "side_by_side", "each"))
	}
	check(on.LRDecay >= 0 && on.LRDecay <= 1, "online.lr_decay: must be in (0, 1] (0 = unset, 1), got %g", on.LRDecay)
	check(on.PromptsPerIteration >= 0, "online.prompts_per_iteration: must be >= 0, got %d", on.PromptsPerIteration)
	if err == nil && obj.Name == "dno" && on.Iterations > 0 {
		// none: the dataset's pairs carry the win rates as score_chosen/score_rejected.
		check(on.Pairs.Rule == "rubric" || on.Pairs.Rule == "all_pairs" || on.Pairs.Rule == "none", "objective dno (theoretical) regresses onto win rates that the judge's grades estimate: set online.pairs.rule to rubric or all_pairs, with a grading judge template (dno-additive6), or to none with win rates in the dataset's score_chosen/score_rejected")
	}
	if on.SelectBest {
		check(r.Eval.HeldOut > 0, "online.select_best: needs held-out prompts to compare the iterates on; set eval.held_out")
	}
	if on.Pairs.Repetition != "" {
		add(oneOf("online.pairs.repetition", on.Pairs.Repetition, "negative", "keep"))
	}
	check(on.Pairs.StudentGap >= 0 && on.Pairs.MinGap >= 0, "online.pairs: min_gap and student_gap must be >= 0, got %g and %g", on.Pairs.MinGap, on.Pairs.StudentGap)
	if on.Judge.Temperature != nil {
		check(*on.Judge.Temperature >= 0, "online.judge.temperature: must be >= 0, got %g", *on.Judge.Temperature)
	}
	add(oneOf("online.kl_samples", on.KLSamples, "per_step", "per_iteration"))
	if err == nil && obj.Name == "hypo" && on.Iterations > 0 && on.KLSamples == "per_step" {
		check(on.LocalSampler, "online.kl_samples: per_step draws HyPO's samples from the current policy at every step, with the local sampler (the policy changes every step); set online.local_sampler: true, or online.kl_samples: per_iteration to sample through Ollama once per iteration")
	}
	for i, f := range on.Replay {
		check(f >= 0 && f <= 1, "online.replay[%d]: must be in [0, 1], got %g", i, f)
	}
	check(r.Eval.HeldOut >= 0, "eval.held_out: must be >= 0, got %d", r.Eval.HeldOut)
	if r.Eval.HeldOut > 0 {
		check(r.Eval.Samples >= 1, "eval.samples: must be >= 1, got %d", r.Eval.Samples)
	}
	for _, e := range r.Output.Export {
		if _, _, err := ParseExportTarget(e); err != nil {
			errs = append(errs, fmt.Errorf("output.export: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ParseExportTarget splits an export target "kind:dest" (ollama:NAME, gguf:FILE,
// adapter:FILE, peft:DIR).
func ParseExportTarget(s string) (kind, dest string, err error) {
	kind, dest, ok := strings.Cut(s, ":")
	if !ok || dest == "" {
		return "", "", fmt.Errorf("%q: want ollama:NAME, gguf:FILE, adapter:FILE or peft:DIR", s)
	}
	if err := oneOf("export kind", kind, "ollama", "gguf", "adapter", "peft"); err != nil {
		return "", "", fmt.Errorf("%q: %w", s, err)
	}
	return kind, dest, nil
}

// RunDir is the output directory: output.dir, or runs/<name>.
func (r *Recipe) RunDir() string {
	if r.Output.Dir != "" {
		return r.Output.Dir
	}
	name := r.Name
	if name == "" {
		name = r.Objective.Name
	}
	return "runs/" + name
}
