package train

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/alignkit/align/kernels"
	"github.com/alignkit/align/model"
	"github.com/alignkit/align/recipes"
	"github.com/alignkit/align/runtime"
)

// The model package's writers, looked up at run time so that export degrades to a clear
// error in a build whose model package does not offer one of them.
type mergedWriter interface {
	WriteMergedGGUF(w io.Writer, typ kernels.GGMLType) error
}
type adapterWriter interface {
	WriteAdapterGGUF(w io.Writer) error
}
type peftWriter interface {
	WritePEFT(dir string) error
}

// ExportOptions configures Export.
type ExportOptions struct {
	// Hosts are the Ollama servers for ollama: targets (empty = $OLLAMA_HOST or the default).
	Hosts []string
	// Out receives progress and the "ollama run NAME" hint.
	Out io.Writer
}

// Export loads a run's newest checkpoint into its policy and writes it to target:
// ollama:NAME (a merged F16 GGUF pushed with the base model's template and parameters),
// gguf:FILE (merged F32/F16 by extension .f32.gguf, else F16), adapter:FILE (a llama.cpp LoRA
// adapter GGUF) or peft:DIR (adapter_model.safetensors + adapter_config.json).
func Export(ctx context.Context, runDir, target string, opt ExportOptions) error {
	r, err := recipes.ParseFile(filepath.Join(runDir, "recipe.yaml"))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	t, err := openCheckpoint(ctx, runDir, r, Options{OllamaHosts: opt.Hosts})
	if err != nil {
		return fmt.Errorf("export: %s: %w", runDir, err)
	}
	defer t.close()
	out := opt.Out
	if out == nil {
		out = io.Discard
	}
	return exportTo(ctx, t.policy, t.head, target, opt.Hosts, out)
}

func exportModel(ctx context.Context, m *model.Model, head *model.RewardHead, target string, hosts []string, prog Progress) error {
	var w io.Writer = io.Discard
	if lp, ok := prog.(*lineProgress); ok {
		w = lp.w
	}
	return exportTo(ctx, m, head, target, hosts, w)
}

// exportReward writes a reward model (docs/training.md, "Reward models"): gguf:FILE is the merged
// model with the head tensor score.weight and the align.reward.head key, peft:DIR a PEFT
// SEQ_CLS adapter with base_model.model.score.weight. Ollama serves no reward heads, and an
// adapter GGUF has no place for one, so ollama: and adapter: targets are errors.
func exportReward(m *model.Model, head *model.RewardHead, target, kind, dest string, out io.Writer) error {
	switch kind {
	case "gguf":
		typ := kernels.TypeF16
		if strings.HasSuffix(dest, ".f32.gguf") {
			typ = kernels.TypeF32
		}
		if err := WriteFileAtomic(dest, func(w io.Writer) error { return m.WriteRewardGGUF(w, typ, head) }); err != nil {
			return fmt.Errorf("export %s: %w", target, err)
		}
		fmt.Fprintf(out, "wrote %s (merged %s GGUF with the reward head %s, key %s)\n", dest, typ, model.RewardHeadTensor, model.RewardHeadKey)
		return nil
	case "peft":
		if err := m.WriteRewardPEFT(dest, head); err != nil {
			return fmt.Errorf("export %s: %w", target, err)
		}
		fmt.Fprintf(out, "wrote %s (PEFT SEQ_CLS adapter with score.weight)\n", dest)
		return nil
	}
	return fmt.Errorf("export %s: a reward model exports as gguf:FILE (merged, with the head) or peft:DIR (adapter with score.weight); Ollama does not serve reward heads, so ollama: and adapter: targets do not apply", target)
}

func exportTo(ctx context.Context, m *model.Model, head *model.RewardHead, target string, hosts []string, out io.Writer) error {
	kind, dest, err := recipes.ParseExportTarget(target)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if head != nil {
		return exportReward(m, head, target, kind, dest, out)
	}
	var mm any = m
	switch kind {
	case "gguf", "ollama":
		mw, ok := mm.(mergedWriter)
		if !ok {
			return fmt.Errorf("export %s: this build's model package has no merged-GGUF writer yet", target)
		}
		typ := kernels.TypeF16
		if filepath.Ext(dest) == ".gguf" && len(dest) > 9 && dest[len(dest)-9:] == ".f32.gguf" {
			typ = kernels.TypeF32
		}
		file := dest
		if kind == "ollama" {
			tmp, err := os.CreateTemp("", "align-export-*.gguf")
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			file = tmp.Name()
			tmp.Close()
			defer os.Remove(file)
		}
		if err := WriteFileAtomic(file, func(w io.Writer) error { return mw.WriteMergedGGUF(w, typ) }); err != nil {
			return fmt.Errorf("export %s: %w", target, err)
		}
		if kind == "gguf" {
			fmt.Fprintf(out, "wrote %s (merged %s GGUF)\n", dest, typ)
			return nil
		}
		hs, err := runtime.ParseHosts(hosts)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		pool, err := runtime.NewPool(hs, runtime.PoolOptions{})
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		// The GGUF keeps the base model's metadata, so Ollama derives the same template.
		if _, err := pool.Create(ctx, runtime.CreateRequest{Name: dest, GGUF: file, Progress: out}); err != nil {
			return fmt.Errorf("export %s: %w", target, err)
		}
		fmt.Fprintf(out, "created Ollama model %s; try it: ollama run %s\n", dest, dest)
		return nil
	case "adapter":
		aw, ok := mm.(adapterWriter)
		if !ok {
			return fmt.Errorf("export %s: this build's model package has no adapter-GGUF writer yet", target)
		}
		if err := WriteFileAtomic(dest, aw.WriteAdapterGGUF); err != nil {
			return fmt.Errorf("export %s: %w", target, err)
		}
		fmt.Fprintf(out, "wrote %s (LoRA adapter GGUF; use it with the base model: ollama create NAME with FROM base and ADAPTER %s)\n", dest, dest)
		return nil
	case "peft":
		pw, ok := mm.(peftWriter)
		if !ok {
			return fmt.Errorf("export %s: this build's model package has no PEFT writer yet", target)
		}
		if err := pw.WritePEFT(dest); err != nil {
			return fmt.Errorf("export %s: %w", target, err)
		}
		fmt.Fprintf(out, "wrote %s (PEFT adapter)\n", dest)
		return nil
	}
	return fmt.Errorf("export: unknown target %q", target)
}
