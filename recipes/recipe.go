package recipes

// Version is the recipe schema version this build reads. A recipe must say `version: 1`.
const Version = 1

// Recipe is one training run, written as YAML. Field names follow TRL's DPOConfig where TRL has
// the concept, so that a recipe can move to a GPU stack unchanged. Every field is documented here;
// docs/recipes.md and recipes/schema.json are generated from these comments (see schema_test.go).
type Recipe struct {
	// Schema version. Must be 1.
	Version int `yaml:"version" json:"version"`
	// Short name of the recipe, used in run directories and reports.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// One-line description shown by `align recipes list`.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`

	// The policy model to train.
	Model ModelSpec `yaml:"model" json:"model"`
	// The frozen reference model. Empty path means a frozen copy of the policy's base weights.
	Reference ReferenceSpec `yaml:"reference" json:"reference"`
	// The preference dataset (offline) or the prompts (online).
	Dataset DatasetSpec `yaml:"dataset" json:"dataset"`
	// The objective (loss) and its parameters.
	Objective ObjectiveSpec `yaml:"objective" json:"objective"`

	// Inverse temperature of the implicit reward (TRL DPOConfig.beta). Default 0.1.
	Beta float64 `yaml:"beta" json:"beta"`
	// Loss variant of the DPO family (TRL loss_type): sigmoid, robust, hinge, ipo, sigmoid_norm, exo_pair, nca_pair, bco_pair, sppo_hard, apo_zero, apo_down. Default sigmoid.
	LossType string `yaml:"loss_type" json:"loss_type"`
	// Label smoothing epsilon (cDPO, robust DPO, exo_pair). Default 0.
	LabelSmoothing float64 `yaml:"label_smoothing" json:"label_smoothing"`

	// Peak learning rate of AdamW (TRL learning_rate). Default 5e-6 (LoRA recipes use larger values).
	LearningRate float64 `yaml:"learning_rate" json:"learning_rate"`
	// Learning-rate schedule after warm-up: constant, constant_with_warmup, linear or cosine (Hugging Face get_scheduler semantics). Default linear.
	LRSchedulerType string `yaml:"lr_scheduler_type" json:"lr_scheduler_type"`
	// Fraction of the total optimizer steps spent warming the learning rate up linearly from 0. Default 0.
	WarmupRatio float64 `yaml:"warmup_ratio" json:"warmup_ratio"`
	// Passes over the training pairs. Ignored when max_steps > 0. Default 1.
	NumTrainEpochs float64 `yaml:"num_train_epochs" json:"num_train_epochs"`
	// Total optimizer steps; when > 0 it overrides num_train_epochs. Default -1 (use epochs).
	MaxSteps int `yaml:"max_steps" json:"max_steps"`
	// Pairs per micro-batch (TRL per_device_train_batch_size; alias batch_size). Default 8.
	PerDeviceTrainBatchSize int `yaml:"per_device_train_batch_size" json:"per_device_train_batch_size"`
	// Micro-batches whose gradients are summed before each optimizer step. Default 1.
	GradientAccumulationSteps int `yaml:"gradient_accumulation_steps" json:"gradient_accumulation_steps"`
	// Maximum tokens of prompt plus response; the response is cut at the end to fit. Default 1024.
	MaxLength int `yaml:"max_length" json:"max_length"`
	// Maximum prompt tokens; longer prompts keep their end (TRL truncation_mode keep_end). Default 512.
	MaxPromptLength int `yaml:"max_prompt_length" json:"max_prompt_length"`
	// Compute the reference log-probs once before training and cache them on disk; false computes them per micro-batch during training (same losses, no cache). Default true.
	PrecomputeRefLogProbs bool `yaml:"precompute_ref_log_probs" json:"precompute_ref_log_probs"`
	// Seed of every random choice: LoRA init, data order, dropout, sampling. Default 42.
	Seed uint64 `yaml:"seed" json:"seed"`
	// Clip the global gradient norm to this value before each step; 0 disables clipping. Default 1.0.
	MaxGradNorm float64 `yaml:"max_grad_norm" json:"max_grad_norm"`
	// Decoupled AdamW weight decay. Default 0.
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
	// AdamW beta1. Default 0.9.
	AdamBeta1 float64 `yaml:"adam_beta1" json:"adam_beta1"`
	// AdamW beta2. Default 0.999.
	AdamBeta2 float64 `yaml:"adam_beta2" json:"adam_beta2"`
	// AdamW epsilon. Default 1e-8.
	AdamEpsilon float64 `yaml:"adam_epsilon" json:"adam_epsilon"`
	// Write a metrics.jsonl line every this many optimizer steps. Default 10.
	LoggingSteps int `yaml:"logging_steps" json:"logging_steps"`
	// Write a checkpoint every this many optimizer steps (and always at the end); 0 means only at the end. Default 500.
	SaveSteps int `yaml:"save_steps" json:"save_steps"`
	// Keep at most this many checkpoints, deleting the oldest; 0 keeps all. Default 3.
	SaveTotalLimit int `yaml:"save_total_limit" json:"save_total_limit"`

	// LoRA rank; 0 trains all weights (full fine-tuning, small models only). Default 16.
	LoraR int `yaml:"lora_r" json:"lora_r"`
	// LoRA scaling numerator: the update is (lora_alpha/lora_r)·B·A. Default 32.
	LoraAlpha float64 `yaml:"lora_alpha" json:"lora_alpha"`
	// Dropout on the LoRA input during training. Default 0.05.
	LoraDropout float64 `yaml:"lora_dropout" json:"lora_dropout"`
	// Projections that get adapters: q, k, v, o, gate, up, down (PEFT names q_proj... accepted). Default [q, k, v, o].
	LoraTargetModules []string `yaml:"lora_target_modules" json:"lora_target_modules"`

	// The online loop (INPO, DNO, APO, HyPO, iterative DPO, and the quickstart's local pair sampling).
	Online OnlineSpec `yaml:"online" json:"online"`
	// Held-out evaluation at the end of training (win rate against the base under the judge).
	Eval EvalSpec `yaml:"eval" json:"eval"`
	// Where the run is written and what it is exported to.
	Output OutputSpec `yaml:"output" json:"output"`
}

// ModelSpec names the policy.
type ModelSpec struct {
	// GGUF file of the policy. `asset:NAME` names a file embedded in the align binary (stories260K.gguf).
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Ollama model name; its GGUF blob is located through the server, else the $OLLAMA_MODELS manifests (used when path is empty).
	Ollama string `yaml:"ollama,omitempty" json:"ollama,omitempty"`
	// Keep the frozen base weights in their GGUF encoding even when it is F32. A quantized or
	// half-precision GGUF keeps them encoded anyway (dequantized inside the matrix products),
	// unless dense is set.
	LowMemory bool `yaml:"low_memory,omitempty" json:"low_memory,omitempty"`
	// Decode every weight of a quantized GGUF to float32 at load (more memory; the results are
	// the same bits).
	Dense bool `yaml:"dense,omitempty" json:"dense,omitempty"`
	// Recompute activations per layer in the backward pass instead of keeping them.
	Recompute bool `yaml:"recompute,omitempty" json:"recompute,omitempty"`
	// Compute each sequence's prompt on its own instead of once per pair (or per group of online
	// samples): the same losses and gradients to float32 rounding, slower. For comparisons.
	UnsharedPrompts bool `yaml:"unshared_prompts,omitempty" json:"unshared_prompts,omitempty"`
	// Compute threads; 0 means all cores.
	Threads int `yaml:"threads,omitempty" json:"threads,omitempty"`
}

// ReferenceSpec names the frozen reference model.
type ReferenceSpec struct {
	// GGUF file of the reference; empty means the policy's base weights. `asset:NAME` as for model.path.
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Ollama model name of the reference (used when path is empty).
	Ollama string `yaml:"ollama,omitempty" json:"ollama,omitempty"`
	// Use no reference at all: its log-probs are taken as 0 (TRL reference_free).
	Free bool `yaml:"free,omitempty" json:"free,omitempty"`
}

// DatasetSpec says where the records come from and how to read them.
type DatasetSpec struct {
	// File (JSONL, JSON, Parquet) of preference records or prompts. `asset:NAME` names an embedded file.
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Record layout: auto (detect), pairs, ranked or prompts. Default auto.
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
	// Column mapping from align's names (prompt, chosen, rejected, responses, scores, id) to the file's column names.
	Columns map[string]string `yaml:"columns,omitempty" json:"columns,omitempty"`
	// Which records train: all, or train/test as produced by `align data split`, or a fraction like 0.9 (the first part, by a seeded shuffle). Default all.
	Split string `yaml:"split,omitempty" json:"split,omitempty"`
	// Use at most this many records (0 = all).
	MaxSamples int `yaml:"max_samples,omitempty" json:"max_samples,omitempty"`
	// Skip invalid records (empty responses, bad roles) instead of stopping at the first; the run log counts them.
	SkipInvalid bool `yaml:"skip_invalid,omitempty" json:"skip_invalid,omitempty"`
}

// ObjectiveSpec selects the loss.
type ObjectiveSpec struct {
	// Objective name: dpo, f_dpo, simpo, cpl, curry_dpo, srpo, inpo, dno, dno_prct, apo, hypo (dashes accepted).
	Name string `yaml:"name" json:"name"`
	// Objective parameters beyond beta, loss_type and label_smoothing (for example gamma_beta_ratio, eta, tau, alpha), checked against the objective's own list.
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
	// SRPO: the revision prompt, a Go text/template with {{.Prompt}} and {{.Response}}, rendered as the user turn.
	RevisionTemplate string `yaml:"revision_template,omitempty" json:"revision_template,omitempty"`
	// Curry-DPO: true (default) makes each stage's reference the previous stage's policy; false keeps the initial reference for all stages.
	Iterative *bool `yaml:"iterative,omitempty" json:"iterative,omitempty"`
	// Curry-DPO: epochs per curriculum stage; 0 (unset) means num_train_epochs (default 1).
	EpochsPerStage float64 `yaml:"epochs_per_stage,omitempty" json:"epochs_per_stage,omitempty"`
}

// OnlineSpec configures the iterations that sample from the policy, judge and train.
type OnlineSpec struct {
	// Number of sample-judge-train iterations; 0 makes the run offline.
	Iterations int `yaml:"iterations" json:"iterations"`
	// Responses sampled per prompt (K).
	SamplesPerPrompt int `yaml:"samples_per_prompt" json:"samples_per_prompt"`
	// Prompts used per iteration; successive iterations take successive slices, wrapping around when the file runs out. 0 (default) splits the training prompts into `iterations` parts, so every iteration has fresh prompts, as INPO and DNO do.
	PromptsPerIteration int `yaml:"prompts_per_iteration,omitempty" json:"prompts_per_iteration,omitempty"`
	// Give every iteration all the training prompts (the same prompts, and the same sampling seeds, each iteration) instead of fresh ones. Default false.
	ReusePrompts bool `yaml:"reuse_prompts,omitempty" json:"reuse_prompts,omitempty"`
	// Peak learning rate of iteration t (0-based) is learning_rate × lr_decay^t: DNO lowers the learning rate in later iterations. Default 1 (the same each iteration).
	LRDecay float64 `yaml:"lr_decay,omitempty" json:"lr_decay,omitempty"`
	// After each iteration, measure the policy's win rate against the base on the held-out prompts (eval.held_out) with the online judge, and end the run with the best iterate's weights, as DNO does. Default false (the last iterate).
	SelectBest bool `yaml:"select_best,omitempty" json:"select_best,omitempty"`
	// Sample with align's own engine (model.Generate) instead of an Ollama server.
	LocalSampler bool `yaml:"local_sampler,omitempty" json:"local_sampler,omitempty"`
	// HyPO: when the unlabelled samples of the KL term are drawn: per_step (fresh samples of the current policy at every optimizer step, with the local sampler, as in the paper) or per_iteration (once per iteration, before training; through Ollama when local_sampler is false). Default per_step.
	KLSamples string `yaml:"kl_samples,omitempty" json:"kl_samples,omitempty"`
	// Rubric (DNO): an Ollama model whose response is the teacher candidate of each prompt that the dataset gives no reference response; sampled once per iteration with the sampling options below. Empty: only the dataset's references.
	TeacherModel string `yaml:"teacher_model,omitempty" json:"teacher_model,omitempty"`
	// Sampling options.
	Sampling SamplingSpec `yaml:"sampling" json:"sampling"`
	// How samples are judged.
	Judge JudgeSpec `yaml:"judge" json:"judge"`
	// How pairs are built from judged samples.
	Pairs PairRules `yaml:"pairs" json:"pairs"`
	// Replay fractions of earlier iterations' pairs: [0.3, 0.15] adds up to 30% from t-1 and 15% from t-2 (DNO).
	Replay []float64 `yaml:"replay,omitempty" json:"replay,omitempty"`
}

// SamplingSpec holds the sampling options of the online loop and of the evaluation.
type SamplingSpec struct {
	// Softmax temperature. Default 0.7.
	Temperature float64 `yaml:"temperature" json:"temperature"`
	// Nucleus sampling mass. Default 0.95.
	TopP float64 `yaml:"top_p" json:"top_p"`
	// Top-k cut-off; 0 disables. Default 0.
	TopK int `yaml:"top_k" json:"top_k"`
	// Maximum new tokens per response. Default 256.
	MaxTokens int `yaml:"max_tokens" json:"max_tokens"`
}

// JudgeSpec says how responses are compared.
type JudgeSpec struct {
	// Judge kind: llm (an Ollama model), rule (the documented word-count rule; no server), or reward (a reward model trained with `align train --recipe reward`, served by align's own engine; no server).
	Kind string `yaml:"kind" json:"kind"`
	// Reward judge: the reward model's run directory (its output.dir), as `--judge rm:RUN` names it.
	Run string `yaml:"run,omitempty" json:"run,omitempty"`
	// Ollama model name of the LLM judge.
	Model string `yaml:"model,omitempty" json:"model,omitempty"`
	// Judge prompt template of the runtime package: a pairwise one (alpaca_eval_clf, alpaca_eval_clf_cot, arena-hard, mt-bench/...) or a grading one (dno-additive6) for the rubric rule. Default alpaca_eval_clf.
	Template string `yaml:"template,omitempty" json:"template,omitempty"`
	// Rule judge: the target words; a response scores one point per occurrence (case-insensitive, whole words).
	Words []string `yaml:"words,omitempty" json:"words,omitempty"`
	// Rule judge: ties are broken in favour of the response whose length in words is closer to this.
	TargetLength int `yaml:"target_length,omitempty" json:"target_length,omitempty"`
	// LLM judge: sampling temperature, replacing the template's (the published templates mostly judge greedily, at 0). Unset keeps the template's.
	Temperature *float64 `yaml:"temperature,omitempty" json:"temperature,omitempty"`
	// LLM judge with a grading template: side_by_side (default) shows all of a prompt's candidates in one call and asks for a score for each, as DNO's judge does; each grades one candidate per call.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// LLM judge: constrain each answer to the template's verdict with Ollama's structured outputs (a JSON schema sent as `format`: {"winner": ...} for pairwise templates, {"score": ...} for grading ones), so even a tiny judge answers parseably. Default false (free text, the template's own parser).
	Structured bool `yaml:"structured,omitempty" json:"structured,omitempty"`
}

// PairRules builds preference pairs from judged samples.
type PairRules struct {
	// best_vs_worst (APO, iterative DPO, quickstart), tournament (INPO: a knockout finds the best, a losers' knockout the worst, and the pair is kept only if the best wins a final game), rubric (DNO: all qualifying pairs), all_pairs (every two graded samples whose grades differ by min_gap; with the dno objective each pair carries its win rates), or none (HyPO).
	Rule string `yaml:"rule" json:"rule"`
	// Rubric: the lowest score a positive may have (DNO: 5 of 6). With min_gap and student_gap all 0, the rubric rule takes the paper's 5, 2 and 1.
	MinScore float64 `yaml:"min_score,omitempty" json:"min_score,omitempty"`
	// Rubric: the least score gap between positive and negative (DNO: 2).
	MinGap float64 `yaml:"min_gap,omitempty" json:"min_gap,omitempty"`
	// Rubric: the least gap when the positive is a student sample (DNO: 1).
	StudentGap float64 `yaml:"student_gap,omitempty" json:"student_gap,omitempty"`
	// Rubric: judge the dataset's reference response (a prompts file's output or reference column, a pairs file's chosen response) with the samples, as DNO's gold/teacher candidate. Default true.
	Teacher *bool `yaml:"teacher,omitempty" json:"teacher,omitempty"`
	// Rubric: what becomes of a student sample with degenerate repetition (data/curate's test: at least half of its word 4-grams repeated, over at least 8, or the same of its character 16-grams over at least 64): negative (DNO: it gets the lowest grade without asking the judge, so it can only be the rejected side of a pair) or keep (judged like any other). Default negative.
	Repetition string `yaml:"repetition,omitempty" json:"repetition,omitempty"`
	// Rubric: DNO-Restrictive, the paper's worse ablation: drop pairs whose positive is a student sample and whose negative is the teacher's response. Default false (such pairs are kept).
	Restrictive bool `yaml:"restrictive,omitempty" json:"restrictive,omitempty"`
	// Drop pairs whose two responses are equal after trimming. Default true.
	DropTies *bool `yaml:"drop_ties,omitempty" json:"drop_ties,omitempty"`
}

// EvalSpec configures the held-out evaluation run at the end of training.
type EvalSpec struct {
	// Held-out prompts: a prompts file whose first held_out prompts are the held-out set (the dataset is then all training data; HyPO and other pairs datasets need one), or empty to hold out the last held_out prompts of the dataset.
	Prompts string `yaml:"prompts,omitempty" json:"prompts,omitempty"`
	// Number of held-out prompts (0 disables the evaluation).
	HeldOut int `yaml:"held_out,omitempty" json:"held_out,omitempty"`
	// Samples per held-out prompt and model.
	Samples int `yaml:"samples,omitempty" json:"samples,omitempty"`
}

// OutputSpec says where the run goes.
type OutputSpec struct {
	// Run directory: checkpoints, metrics.jsonl, report.html, the resolved recipe. Default runs/<name>.
	Dir string `yaml:"dir" json:"dir"`
	// Export targets written at the end: ollama:NAME, gguf:FILE, adapter:FILE, peft:DIR.
	Export []string `yaml:"export,omitempty" json:"export,omitempty"`
	// Ollama model name the online loop pushes the policy to (default align-<name>).
	OllamaModel string `yaml:"ollama_model,omitempty" json:"ollama_model,omitempty"`
}

// Default returns a recipe holding TRL's DPOConfig defaults and align's own, before any YAML is
// applied.
func Default() Recipe {
	return Recipe{
		Version:                   Version,
		Dataset:                   DatasetSpec{Format: "auto", Split: "all"},
		Objective:                 ObjectiveSpec{Name: "dpo"},
		Beta:                      0.1,
		LossType:                  "sigmoid",
		LearningRate:              5e-6,
		LRSchedulerType:           "linear",
		NumTrainEpochs:            1,
		MaxSteps:                  -1,
		PerDeviceTrainBatchSize:   8,
		GradientAccumulationSteps: 1,
		MaxLength:                 1024,
		MaxPromptLength:           512,
		PrecomputeRefLogProbs:     true,
		Seed:                      42,
		MaxGradNorm:               1.0,
		AdamBeta1:                 0.9,
		AdamBeta2:                 0.999,
		AdamEpsilon:               1e-8,
		LoggingSteps:              10,
		SaveSteps:                 500,
		SaveTotalLimit:            3,
		LoraR:                     16,
		LoraAlpha:                 32,
		LoraDropout:               0.05,
		LoraTargetModules:         []string{"q", "k", "v", "o"},
		Online: OnlineSpec{
			KLSamples: "per_step",
			Sampling:  SamplingSpec{Temperature: 0.7, TopP: 0.95, MaxTokens: 256},
			Judge:     JudgeSpec{Kind: "llm", Template: "alpaca_eval_clf"},
			Pairs:     PairRules{Rule: "best_vs_worst"},
		},
		Eval: EvalSpec{Samples: 1},
	}
}
