package train

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/alignkit/align/assets"
	"github.com/alignkit/align/data"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/objectives"
	"github.com/alignkit/align/recipes"
	"github.com/alignkit/align/runtime"
)

// Options configures one training run.
type Options struct {
	// Recipe is the resolved recipe. With Resume it is ignored: the run directory's recipe.yaml
	// is used, so a resumed run is the same run.
	Recipe recipes.Recipe
	// RunDir overrides the recipe's output.dir.
	RunDir string
	// Resume continues the run in RunDir from its newest checkpoint.
	Resume bool
	// Progress receives the progress bar or lines; nil discards them.
	Progress io.Writer
	// CacheDir holds the reference log-prob cache and materialised assets; "" = DefaultCacheDir's parent.
	CacheDir string
	// Threads for the model (0 = all cores; the recipe's model.threads wins when set).
	Threads int
	// OllamaHosts are the servers of the LLM judge (empty = $OLLAMA_HOST or the default).
	OllamaHosts []string
	// MemAvailable is the memory the run may take, in bytes (0: this machine's,
	// model.AvailableMemory). A run whose estimated peak memory exceeds it is refused before
	// the models load, unless Force.
	MemAvailable int64
	// Force starts the run even when its estimated peak memory exceeds MemAvailable (--force).
	Force bool
}

// Result summarises a finished run.
type Result struct {
	RunDir        string  `json:"run_dir"`
	Objective     string  `json:"objective"`
	Steps         int     `json:"steps"`
	FinalLoss     float64 `json:"final_loss"`
	TokensPerSec  float64 `json:"tokens_per_s"`
	TrainSeconds  float64 `json:"train_seconds"`
	WallSeconds   float64 `json:"wall_seconds"`
	WinRateBefore float64 `json:"win_rate_before"`
	WinRateAfter  float64 `json:"win_rate_after"`
	KL            float64 `json:"kl_to_reference"`
	Pairs         int     `json:"pairs"`
	// A reward model's held-out accuracy and mean margin (r_chosen - r_rejected) on
	// HeldOutPairs pairs; NaN (null) for other objectives.
	RewardAccuracy float64 `json:"reward_accuracy"`
	RewardMargin   float64 `json:"reward_margin"`
	HeldOutPairs   int     `json:"held_out_pairs,omitempty"`
	Report         string  `json:"report"`
	Checkpoint     string  `json:"checkpoint"`
}

// loopState is everything besides the weights and the optimizer that a checkpoint must hold for
// a resumed run to continue exactly: the stage, the step counters, the data order and cursor,
// and the RNG.
type loopState struct {
	Stage        int     `json:"stage"`
	StageStep    int     `json:"stage_step"`
	StageTotal   int     `json:"stage_total"`
	Step         int     `json:"step"`
	Epoch        int     `json:"epoch"`
	Cursor       int     `json:"cursor"`
	Perm         []int   `json:"perm"`
	RNG          *RNG    `json:"rng"`
	Tokens       int64   `json:"tokens"`
	TrainSeconds float64 `json:"train_seconds"`
	LastLoss     float64 `json:"last_loss"`
	Done         bool    `json:"done"`
}

// trainer holds one run's models, data and state.
type trainer struct {
	r      recipes.Recipe
	opt    Options
	dir    string
	obj    objectives.Objective
	needs  needs
	policy *model.Model
	base   *model.Model // frozen base weights (the default reference and the evaluation baseline)
	ref    *model.Model // the reference model (base, or reference.path)
	enc    *encoder
	recs   *Records
	// evalPrompts are eval.prompts' held-out prompts (nil: the dataset's last eval.held_out).
	evalPrompts [][]data.Message
	cache       RefCache
	assetDir    string
	st          loopState
	optim       *AdamW
	metrics     *MetricsLog
	prog        Progress
	lastCkpt    string
	pairs       int
	// head is a reward model's scalar head (objective reward), trained with the policy; nil
	// otherwise. heldPairs are the pairs held out for its accuracy (eval.held_out).
	head      *model.RewardHead
	heldPairs []data.Pair
	// rm is the online stages' reward judge's model (online.judge.kind: reward), opened once.
	rm *RewardModel
	// flops are the policy's model FLOPs (model.StepFLOPs) since the last log line, and fmaPeak
	// the FMA peak in GFLOPS measured at the stage's start with the policy's threads: the
	// log's mfu.
	flops   float64
	fmaPeak float64
}

// Run trains as the recipe says: it prepares each stage (an offline pass, a Curry-DPO stage or
// an online iteration), trains it with checkpoints, then evaluates, writes report.html and
// exports. With Options.Resume it continues from the newest checkpoint and produces the same
// weights as an uninterrupted run.
func Run(ctx context.Context, opt Options) (*Result, error) {
	wallStart := time.Now()
	t := &trainer{opt: opt}
	t.r = opt.Recipe
	t.dir = opt.RunDir
	if t.dir == "" {
		t.dir = t.r.RunDir()
	}
	if opt.Resume {
		r, err := recipes.ParseFile(filepath.Join(t.dir, "recipe.yaml"))
		if err != nil {
			return nil, fmt.Errorf("train: resume %s: %w", t.dir, err)
		}
		t.r = r
	} else if err := t.r.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	cacheRoot := opt.CacheDir
	if cacheRoot == "" {
		cacheRoot = filepath.Dir(DefaultCacheDir())
	}
	t.cache = RefCache{Dir: filepath.Join(cacheRoot, "refcache")}
	t.assetDir = filepath.Join(cacheRoot, "assets")

	var err error
	if t.obj, err = buildObjective(t.r); err != nil {
		return nil, err
	}
	if t.needs, err = needsOf(t.obj); err != nil {
		return nil, err
	}
	if err := t.loadData(); err != nil {
		return nil, err
	}
	if err := t.loadModels(ctx, t.checkMemory); err != nil {
		return nil, err
	}
	defer t.close()
	if err := t.prepareRunDir(); err != nil {
		return nil, err
	}
	defer t.metrics.Close()
	if t.curryFromPrompts() {
		if err := t.rankedFromPrompts(ctx); err != nil {
			return nil, err
		}
	}

	stages := t.stageCount()
	for ; t.st.Stage < stages; t.st.Stage++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if t.st.Done {
			break
		}
		exs, err := t.prepareStage(ctx, t.st.Stage)
		if err != nil {
			return nil, err
		}
		if err := t.trainStage(ctx, exs); err != nil {
			return nil, err
		}
		if t.r.Online.Iterations > 0 {
			if err := t.selectIterate(ctx, t.st.Stage); err != nil {
				return nil, err
			}
		}
		// The next stage starts from scratch: new data order and optimizer.
		t.st.StageStep, t.st.StageTotal, t.st.Epoch, t.st.Cursor, t.st.Perm = 0, 0, 0, 0, nil
	}
	if !t.st.Done {
		t.st.Stage = stages - 1
		t.st.Done = true
		if err := t.checkpoint(); err != nil {
			return nil, err
		}
	}
	t.prog.Finish()
	if err := t.useBestIterate(); err != nil {
		return nil, err
	}

	res := &Result{RunDir: t.dir, Objective: t.r.Objective.Name, Steps: t.st.Step, FinalLoss: t.st.LastLoss,
		TrainSeconds: t.st.TrainSeconds, WinRateBefore: math.NaN(), WinRateAfter: math.NaN(), KL: math.NaN(), Pairs: t.pairs, Checkpoint: t.lastCkpt,
		RewardAccuracy: math.NaN(), RewardMargin: math.NaN()}
	if t.st.TrainSeconds > 0 {
		res.TokensPerSec = float64(t.st.Tokens) / t.st.TrainSeconds
	}
	if err := t.evaluate(ctx, res); err != nil {
		return nil, err
	}
	if err := t.evaluateReward(res); err != nil {
		return nil, err
	}
	res.WallSeconds = time.Since(wallStart).Seconds()
	if err := t.writeReport(res); err != nil {
		return nil, err
	}
	res.Report = filepath.Join(t.dir, "report.html")
	if err := writeJSONFile(filepath.Join(t.dir, "result.json"), res); err != nil {
		return nil, err
	}
	for _, target := range t.r.Output.Export {
		if err := exportModel(ctx, t.policy, t.head, target, t.opt.OllamaHosts, t.prog); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (t *trainer) close() {
	for _, m := range []*model.Model{t.policy, t.base, t.ref} {
		if m != nil {
			m.Close()
		}
	}
	if t.rm != nil {
		t.rm.Close()
	}
}

// errNoCheckpoint: a run directory without a saved checkpoint.
var errNoCheckpoint = errors.New("no checkpoint was saved (has the run finished a step?)")

// openCheckpoint rebuilds a finished or running run for use, not training: its recipe's models
// (no base or reference, no memory refusal) with the newest checkpoint's trained tensors (the
// reward head included) loaded. The caller closes it.
func openCheckpoint(ctx context.Context, runDir string, r recipes.Recipe, opt Options) (*trainer, error) {
	dir, _, ok, err := LatestCheckpoint(runDir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNoCheckpoint
	}
	t := &trainer{r: r, opt: opt, assetDir: DefaultAssetDir()}
	t.r.Eval.HeldOut = 0
	t.needs = needs{}
	if err := t.loadModels(ctx, nil); err != nil {
		t.close()
		return nil, err
	}
	if err := t.loadWeights(filepath.Join(dir, "weights.bin")); err != nil {
		t.close()
		return nil, err
	}
	t.policy.SetTraining(false)
	return t, nil
}

// resolvePath turns a recipe's path field (a file, or asset:NAME) into a file on disk.
func (t *trainer) resolvePath(p, field string) (string, error) {
	path, err := assets.Resolve(p, t.assetDir)
	if err != nil {
		return "", fmt.Errorf("train: %s: %w", field, err)
	}
	return path, nil
}

func (t *trainer) threads() int {
	if t.r.Model.Threads > 0 {
		return t.r.Model.Threads
	}
	return t.opt.Threads
}

// ollamaHost is the server used to locate model.ollama / reference.ollama blobs: the first of
// Options.OllamaHosts, else $OLLAMA_HOST, else the default 127.0.0.1:11434.
func (t *trainer) ollamaHost() string {
	if len(t.opt.OllamaHosts) > 0 && t.opt.OllamaHosts[0] != "" {
		return t.opt.OllamaHosts[0]
	}
	if h := os.Getenv("OLLAMA_HOST"); h != "" {
		return h
	}
	return "127.0.0.1:11434"
}

// locateModel turns a recipe's path (a GGUF file or asset:NAME) or, when the path is empty, its
// Ollama model name into a GGUF file and the Ollama template to load it with ("" = the GGUF's own).
func (t *trainer) locateModel(ctx context.Context, path, ollama, field string) (string, string, error) {
	if path != "" {
		p, err := t.resolvePath(path, field+".path")
		return p, "", err
	}
	pool, err := runtime.NewPool([]string{t.ollamaHost()}, runtime.PoolOptions{})
	if err != nil {
		return "", "", fmt.Errorf("train: %s.ollama: %w", field, err)
	}
	r, err := runtime.Locate(ctx, pool, ollama)
	if err != nil {
		return "", "", fmt.Errorf("train: %s.ollama: %w", field, err)
	}
	return r.Path, r.Template, nil
}

// loadModels loads the policy (with its LoRA adapters, or for full training), a reward model's
// head, and the base and reference models the run needs. check, when not nil, sees the model
// file before anything loads (Run's memory estimate and refusal).
func (t *trainer) loadModels(ctx context.Context, check func(path string) error) error {
	path, tmpl, err := t.locateModel(ctx, t.r.Model.Path, t.r.Model.Ollama, "model")
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(path); err != nil {
			return err
		}
	}
	lo := model.LoadOptions{Threads: t.threads(), Recompute: t.r.Model.Recompute, UnsharedPrompts: t.r.Model.UnsharedPrompts, LowMemory: t.r.Model.LowMemory, Dense: t.r.Model.Dense, Template: tmpl}
	po := lo
	if t.r.LoraR > 0 {
		po.LoRA = &model.LoRAConfig{Rank: t.r.LoraR, Alpha: float32(t.r.LoraAlpha), Dropout: float32(t.r.LoraDropout), Targets: t.r.LoraTargetModules, Seed: t.r.Seed}
	} else {
		po.Full = true
	}
	if t.policy, err = model.Load(path, po); err != nil {
		return fmt.Errorf("train: policy: %w", err)
	}
	if isReward(t.r) {
		t.head = model.NewRewardHead(t.policy.Config().Dim, rewardHeadSeed(t.r.Seed))
	}
	if needsBase(t.r, t.needs) {
		if t.base, err = model.Load(path, lo); err != nil {
			return fmt.Errorf("train: base model: %w", err)
		}
	}
	t.ref = t.base
	if needsOwnReference(t.r, t.needs) {
		rp, rt, err := t.locateModel(ctx, t.r.Reference.Path, t.r.Reference.Ollama, "reference")
		if err != nil {
			return err
		}
		ro := lo
		ro.Template = rt
		if t.ref, err = model.Load(rp, ro); err != nil {
			return fmt.Errorf("train: reference: %w", err)
		}
		if !t.policy.SameTokenizer(t.ref) {
			return fmt.Errorf("train: the reference %s and the policy %s use different tokenizers; their log-probs of the same text are not comparable (use the policy's base model as reference)", rp, path)
		}
	}
	t.enc = &encoder{m: t.policy, maxPrompt: t.r.MaxPromptLength, maxLength: t.r.MaxLength}
	if t.head != nil {
		eos, ok := t.policy.EndOfTurn()
		if !ok {
			return fmt.Errorf("train: a reward model reads its reward at an end token, and %s has no EOS token", path)
		}
		t.enc.endEOS, t.enc.eos = true, eos
	}
	if t.r.Objective.RevisionTemplate != "" {
		tpl, err := template.New("revision").Option("missingkey=error").Parse(t.r.Objective.RevisionTemplate)
		if err != nil {
			return fmt.Errorf("train: objective.revision_template: %w", err)
		}
		t.enc.revision = tpl
	}
	return nil
}

func (t *trainer) loadData() error {
	if t.r.Dataset.Path == "" {
		return errors.New("train: dataset.path: missing")
	}
	path, err := t.resolvePath(t.r.Dataset.Path, "dataset.path")
	if err != nil {
		return err
	}
	recs, err := readDataFile(path, t.r.Dataset.Path, t.r.Dataset.Format, t.r.Dataset.Columns, t.r.Dataset.SkipInvalid)
	if err != nil {
		return err
	}
	if t.r.Dataset.MaxSamples > 0 {
		n := t.r.Dataset.MaxSamples
		recs.Pairs = recs.Pairs[:min(n, len(recs.Pairs))]
		recs.Ranked = recs.Ranked[:min(n, len(recs.Ranked))]
		recs.Prompts = recs.Prompts[:min(n, len(recs.Prompts))]
		recs.Teachers = recs.Teachers[:min(n, len(recs.Teachers))]
	}
	obj, _ := recipes.LookupObjective(t.r.Objective.Name)
	if obj.Name == "reward" {
		if recs.Kind != "pairs" {
			return fmt.Errorf("train: objective reward trains a reward model on preference pairs (prompt, chosen, rejected and an optional margin column), but %s holds %s: it needs a rejected response for each chosen one", t.r.Dataset.Path, recs.Kind)
		}
		if t.r.Online.Iterations > 0 {
			return fmt.Errorf("train: objective reward trains offline on a pairs dataset: set online.iterations: 0")
		}
		if recs.Pairs, t.heldPairs, err = splitRewardPairs(recs.Pairs, t.r.Eval.HeldOut, t.r.Seed); err != nil {
			return err
		}
	}
	online := t.r.Online.Iterations > 0 && t.r.Online.Pairs.Rule != "none"
	switch {
	case obj.Name == "curry_dpo" && recs.Kind == "prompts" && t.r.Online.Iterations > 0:
		// Curry-DPO from prompts: the ranked lists are sampled and judged (rankedFromPrompts).
	case obj.Data == "ranked" && recs.Kind != "ranked":
		return fmt.Errorf("train: objective %s needs ranked data (a prompt with 3 or more scored responses), but %s holds %s", obj.Name, t.r.Dataset.Path, recs.Kind)
	case obj.Data == "pairs" && !online && recs.Kind != "pairs":
		return fmt.Errorf("train: objective %s trains on preference pairs, but %s holds %s (online recipes sample pairs from prompts: set online.iterations)", obj.Name, t.r.Dataset.Path, recs.Kind)
	}
	if obj.Name == "hypo" && t.r.Online.Pairs.Rule != "none" {
		return fmt.Errorf("train: hypo trains on the dataset's pairs plus unlabelled online samples: set online.pairs.rule: none")
	}
	if online && recs.Kind == "pairs" {
		for _, p := range recs.Pairs {
			recs.Prompts = append(recs.Prompts, p.Prompt)
			recs.Teachers = append(recs.Teachers, teacherText(p.Chosen))
		}
	}
	t.recs = recs
	if t.r.Eval.Prompts != "" {
		ep, err := t.resolvePath(t.r.Eval.Prompts, "eval.prompts")
		if err != nil {
			return err
		}
		pf, err := data.ReadPromptFile(ep, data.Options{})
		if err != nil {
			return fmt.Errorf("train: eval.prompts: %w", err)
		}
		for _, p := range pf.Prompts {
			t.evalPrompts = append(t.evalPrompts, p.Messages)
		}
		if len(t.evalPrompts) == 0 {
			return fmt.Errorf("train: eval.prompts: %s holds no prompts", t.r.Eval.Prompts)
		}
	}
	return nil
}

func (t *trainer) prepareRunDir() error {
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	keep := -1
	if t.opt.Resume {
		dir, _, ok, err := LatestCheckpoint(t.dir)
		if err != nil {
			return err
		}
		if ok {
			if err := t.restore(dir); err != nil {
				return err
			}
			keep = t.st.Step
		} else {
			// Killed before its first checkpoint: start over, with the recorded recipe.
			keep = 0
			t.st = loopState{RNG: NewRNG(t.r.Seed, 0)}
		}
	} else {
		if _, _, ok, _ := LatestCheckpoint(t.dir); ok {
			return fmt.Errorf("train: %s already holds a run; continue it with --resume %s, or choose another output.dir", t.dir, t.dir)
		}
		b, err := t.r.Marshal()
		if err != nil {
			return err
		}
		if err := WriteFileAtomic(filepath.Join(t.dir, "recipe.yaml"), func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		t.st = loopState{RNG: NewRNG(t.r.Seed, 0)}
	}
	var err error
	if t.metrics, err = OpenMetricsLog(filepath.Join(t.dir, "metrics.jsonl"), keep); err != nil {
		return err
	}
	t.prog = NewProgress(progressWriter(t.opt.Progress), 0, t.r.Name, t.opt.Progress == nil)
	return nil
}

func progressWriter(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// stageCount is the number of training stages: Curry-DPO's curriculum stages (when
// iterative), the online iterations, or one.
func (t *trainer) stageCount() int {
	if t.r.Objective.Name == "curry_dpo" && t.iterativeCurry() {
		n := 0
		for _, rk := range t.recs.Ranked {
			ps, _ := curryPairs(rk, t.curryScheme(), t.curryOrder(), t.r.Seed) // the objective validated scheme and order
			n = max(n, len(ps))
		}
		return max(n, 1)
	}
	if t.r.Online.Iterations > 0 {
		return t.r.Online.Iterations
	}
	return 1
}

func (t *trainer) iterativeCurry() bool {
	return t.r.Objective.Iterative == nil || *t.r.Objective.Iterative
}

func (t *trainer) curryScheme() string {
	if s, ok := t.r.Objective.Params["scheme"].(string); ok {
		return s
	}
	return "best_vs_rest"
}

func (t *trainer) curryOrder() string {
	if s, ok := t.r.Objective.Params["order"].(string); ok {
		return s
	}
	return "score_gap"
}

// curryFromPrompts reports whether Curry-DPO makes its ranked lists from a prompts dataset.
func (t *trainer) curryFromPrompts() bool {
	return t.r.Objective.Name == "curry_dpo" && t.recs.Kind == "prompts" && t.r.Online.Iterations > 0
}

// curryPairs builds one ranked record's pairs, easiest first, with objectives.CurryPairs (the
// one implementation of Curry-DPO's pair and curriculum rules: Pattnaik et al. 2024, arXiv
// 2403.07230; docs/objectives.md, "curry_dpo"). The random order is seeded per record by the
// run seed and the record's id.
func curryPairs(rk data.Ranked, scheme, order string, seed uint64) ([]data.Pair, error) {
	scores := make([]float64, len(rk.Responses))
	for i, r := range rk.Responses {
		scores[i] = r.Score
	}
	idx, err := objectives.CurryPairs(scores, scheme, order, seed^hashString(rk.ID))
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	out := make([]data.Pair, len(idx))
	for i, c := range idx {
		sw, sl := rk.Responses[c.W].Score, rk.Responses[c.L].Score
		out[i] = data.Pair{ID: fmt.Sprintf("%s pair %d", rk.ID, i+1), Prompt: rk.Prompt, Chosen: rk.Responses[c.W].Messages, Rejected: rk.Responses[c.L].Messages, ScoreChosen: &sw, ScoreRejected: &sl}
	}
	return out, nil
}

func hashString(s string) uint64 {
	h := sha256.Sum256([]byte(s))
	return binary.LittleEndian.Uint64(h[:8])
}

// seedFor derives a sampling seed from the run seed and a position, independent of the RNG
// stream, so samples do not depend on how many draws came before.
func seedFor(seed uint64, parts ...int) uint64 {
	h := sha256.New()
	binary.Write(h, binary.LittleEndian, seed)
	for _, p := range parts {
		binary.Write(h, binary.LittleEndian, int64(p))
	}
	return binary.LittleEndian.Uint64(h.Sum(nil)[:8])
}

// stageDir holds what a stage computed before training (samples, pairs, frozen log-probs of
// pi_t and pi_{t-1}, and the weights it started from), so a resumed stage reuses them.
func (t *trainer) stageDir(stage int) string {
	return filepath.Join(t.dir, fmt.Sprintf("stage-%d", stage+1))
}

// prepareStage builds a stage's examples and fills their reference-side log-probs.
func (t *trainer) prepareStage(ctx context.Context, stage int) ([]*example, error) {
	sd := t.stageDir(stage)
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	kinds := append([]string(nil), t.needs.all...)
	sort.Strings(kinds)
	var pairs []data.Pair
	var online [][][]data.Message // per pair: HyPO's online samples
	switch {
	case t.r.Objective.Name == "curry_dpo":
		for _, rk := range t.recs.Ranked {
			ps, err := curryPairs(rk, t.curryScheme(), t.curryOrder(), t.r.Seed)
			if err != nil {
				return nil, err
			}
			if t.iterativeCurry() {
				if stage < len(ps) {
					pairs = append(pairs, ps[stage])
				}
			} else {
				pairs = append(pairs, ps...)
			}
		}
		if !t.iterativeCurry() {
			// One run over all stages in order: keep the curriculum order by stage rank (and
			// dataOrder does not shuffle it); curriculum.jsonl records it.
			sort.SliceStable(pairs, func(i, j int) bool { return pairRank(pairs[i]) < pairRank(pairs[j]) })
			if err := writeCurriculum(filepath.Join(sd, "curriculum.jsonl"), pairs); err != nil {
				return nil, err
			}
		}
	case t.r.Online.Iterations > 0 && t.r.Online.Pairs.Rule != "none":
		var err error
		if pairs, err = t.onlinePairs(ctx, stage); err != nil {
			return nil, err
		}
	default:
		pairs = t.recs.Pairs
	}
	if t.r.Online.Iterations > 0 && t.r.Online.Pairs.Rule == "none" && !t.perStepKL() {
		// HyPO, per iteration: unlabelled online samples for each pair's prompt feed the KL term.
		var err error
		if online, err = t.onlineSamples(ctx, stage, pairs); err != nil {
			return nil, err
		}
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("train: stage %d has no training pairs (the judge found no preferred response; sample more, or check the judge)", stage+1)
	}
	t.pairs += len(pairs)
	exs := make([]*example, len(pairs))
	for i, p := range pairs {
		var on [][]data.Message
		if online != nil {
			on = online[i]
		}
		ex, err := t.enc.pairExample(p, kinds, on)
		if err != nil {
			return nil, err
		}
		ex.ref, ex.prev, ex.prevm = map[string][][]float32{}, map[string][][]float32{}, map[string][][]float32{}
		ex.idx = i
		exs[i] = ex
	}
	// Weights this stage starts from (pi_t): kept for APO's pi_{t-1} in the next stage.
	startW := filepath.Join(sd, "start-weights.bin")
	if _, err := os.Stat(startW); err != nil {
		if err := WriteFileAtomic(startW, func(w io.Writer) error { return saveParams(w, t.trainable()) }); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	if err := t.fillReference(exs, stage); err != nil {
		return nil, err
	}
	if len(t.needs.prev) > 0 {
		if err := t.frozenLogProbs(exs, t.needs.prev, filepath.Join(sd, "prev.bin"), nil, func(e *example) map[string][][]float32 { return e.prev }); err != nil {
			return nil, err
		}
	}
	if len(t.needs.prevm) > 0 {
		prevStart := filepath.Join(t.stageDir(max(stage-1, 0)), "start-weights.bin")
		if err := t.frozenLogProbs(exs, t.needs.prevm, filepath.Join(sd, "prevm.bin"), &prevStart, func(e *example) map[string][][]float32 { return e.prevm }); err != nil {
			return nil, err
		}
	}
	return exs, nil
}

func pairRank(p data.Pair) int {
	var n int
	fmt.Sscanf(p.ID[strings.LastIndex(p.ID, "pair ")+5:], "%d", &n)
	return n
}

// fillReference sets the reference log-probs: zeros when reference-free; for an iterative
// Curry-DPO stage after the first, the policy at the end of the previous stage (stored in the
// stage directory); otherwise the frozen reference model, through the on-disk cache.
func (t *trainer) fillReference(exs []*example, stage int) error {
	if len(t.needs.ref) == 0 {
		return nil
	}
	if t.r.Reference.Free {
		for _, ex := range exs {
			for _, k := range t.needs.ref {
				for _, s := range ex.seqs[k] {
					ex.ref[k] = append(ex.ref[k], make([]float32, countMask(s)))
				}
			}
		}
		return nil
	}
	get := func(e *example) map[string][][]float32 { return e.ref }
	if t.r.Objective.Name == "curry_dpo" && t.iterativeCurry() && stage > 0 {
		return t.frozenLogProbs(exs, t.needs.ref, filepath.Join(t.stageDir(stage), "ref.bin"), nil, get)
	}
	if !t.r.PrecomputeRefLogProbs {
		t.prog.Log("reference log-probs: computed per micro-batch during training (precompute_ref_log_probs: false; no cache)")
		return nil
	}
	seqs := flatten(exs, t.needs.ref)
	key := RefCacheKey(hashSequences(seqs), t.ref.Digest(), t.ref.TemplateName(), t.r.MaxLength, t.r.MaxPromptLength, strings.Join(t.needs.ref, ","))
	if lps, ok := t.cache.Load(key); ok && len(lps) == len(seqs) {
		t.prog.Log("reference log-probs: %d sequences from the cache", len(seqs))
		scatter(exs, t.needs.ref, lps, get)
		return nil
	}
	start := time.Now()
	lps, err := logProbsBatched(t.ref, seqs, 64)
	if err != nil {
		return fmt.Errorf("train: reference log-probs: %w", err)
	}
	t.prog.Log("reference log-probs: %d sequences in %.1fs (cached)", len(seqs), time.Since(start).Seconds())
	if err := t.cache.Save(key, lps); err != nil {
		return err
	}
	scatter(exs, t.needs.ref, lps, get)
	return nil
}

// frozenLogProbs computes (once; then reads back from file) the policy's log-probs of the given
// kinds as they are now, or with the weights in *weights loaded temporarily.
func (t *trainer) frozenLogProbs(exs []*example, kinds []string, file string, weights *string, dst func(*example) map[string][][]float32) error {
	seqs := flatten(exs, kinds)
	if f, err := os.Open(file); err == nil {
		lps, rerr := readRef(f)
		f.Close()
		if rerr == nil && len(lps) == len(seqs) {
			scatter(exs, kinds, lps, dst)
			return nil
		}
	}
	if weights != nil {
		saved := cloneParams(t.policy.Params())
		f, err := os.Open(*weights)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		err = loadParams(f, t.policy.Params())
		f.Close()
		if err != nil {
			return err
		}
		defer restoreParams(t.policy.Params(), saved)
	}
	t.policy.SetTraining(false)
	lps, err := logProbsBatched(t.policy, seqs, 64)
	if err != nil {
		return fmt.Errorf("train: log-probs of the previous iterate: %w", err)
	}
	c := RefCache{Dir: filepath.Dir(file)}
	if err := c.Save(strings.TrimSuffix(filepath.Base(file), ".bin"), lps); err != nil {
		return err
	}
	scatter(exs, kinds, lps, dst)
	return nil
}

func logProbsBatched(m *model.Model, seqs []model.Sequence, batch int) ([][]float32, error) {
	out := make([][]float32, 0, len(seqs))
	for i := 0; i < len(seqs); i += batch {
		lps, err := m.LogProbs(seqs[i:min(i+batch, len(seqs))])
		if err != nil {
			return nil, err
		}
		out = append(out, lps...)
	}
	return out, nil
}

func hashSequences(seqs []model.Sequence) string {
	h := sha256.New()
	for _, s := range seqs {
		binary.Write(h, binary.LittleEndian, int64(len(s.Tokens)))
		binary.Write(h, binary.LittleEndian, s.Tokens)
		for _, m := range s.Mask {
			if m {
				h.Write([]byte{1})
			} else {
				h.Write([]byte{0})
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err })
}

// MarshalJSON writes unmeasured figures (NaN) as null.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	b, err := json.Marshal(struct {
		plain
		WinRateBefore  *float64 `json:"win_rate_before"`
		WinRateAfter   *float64 `json:"win_rate_after"`
		KL             *float64 `json:"kl_to_reference"`
		RewardAccuracy *float64 `json:"reward_accuracy"`
		RewardMargin   *float64 `json:"reward_margin"`
	}{plain(r), finite(r.WinRateBefore), finite(r.WinRateAfter), finite(r.KL), finite(r.RewardAccuracy), finite(r.RewardMargin)})
	return b, err
}

func finite(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// writeCurriculum lists a non-iterative Curry-DPO run's pairs in training order: id, chosen
// and rejected scores.
func writeCurriculum(path string, ps []data.Pair) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, p := range ps {
			row := map[string]any{"id": p.ID}
			if p.ScoreChosen != nil && p.ScoreRejected != nil {
				row["score_chosen"], row["score_rejected"] = *p.ScoreChosen, *p.ScoreRejected
			}
			if err := enc.Encode(row); err != nil {
				return err
			}
		}
		return nil
	})
}
