package train

import (
	"context"
	"fmt"
	"os"

	"github.com/alignkit/align/model"
	"github.com/alignkit/align/recipes"
	"github.com/alignkit/align/runtime"
)

// ModelsOptions selects where ListModels looks and what recipe its estimates are for.
type ModelsOptions struct {
	// Store is an Ollama store directory to read through its manifests, without a server.
	Store string
	// Pool is the server to ask (/api/tags, /api/show) when Store is empty. When it does not
	// answer, the local store (runtime.StoreDir) is read instead, and Source says so.
	Pool *runtime.Pool
	// Recipe is the run the memory estimates are for (align models uses the dpo recipe).
	Recipe recipes.Recipe
}

// ModelEntry is one model of the store, as `align models` lists it.
type ModelEntry struct {
	Name string `json:"name"`
	// Blob is the GGUF file; "" when the server's blob is not readable on this machine.
	Blob          string `json:"blob,omitempty"`
	Architecture  string `json:"architecture"`
	Parameters    int64  `json:"parameters,omitempty"`     // counted in the GGUF's tensors
	ParameterSize string `json:"parameter_size,omitempty"` // as Ollama reports it (server only)
	FileType      string `json:"file_type"`
	ContextLength int    `json:"context_length,omitempty"`
	Trainable     bool   `json:"trainable"`
	// Reason says exactly why align cannot train the model: the loader's own error.
	Reason string `json:"reason,omitempty"`
	// Memory and MemoryLowMemory are the estimated peak memory of a LoRA run of the recipe,
	// as it is and with model.low_memory (nil when not trainable).
	Memory          *model.MemoryEstimate `json:"memory,omitempty"`
	MemoryLowMemory *model.MemoryEstimate `json:"memory_low_memory,omitempty"`
}

// ModelList is ListModels' answer.
type ModelList struct {
	Source string       `json:"source"` // the store directory or the server's URL
	Note   string       `json:"note,omitempty"`
	Models []ModelEntry `json:"models"`
}

// ListModels lists the models of an Ollama store and, for each, whether align can train it —
// decided by the loader's own checks on the GGUF header (model.Inspect) — and the estimated
// peak memory of opt.Recipe's LoRA run on it, normal and with --low-memory.
func ListModels(ctx context.Context, opt ModelsOptions) (*ModelList, error) {
	list := &ModelList{}
	var infos []runtime.ModelInfo
	var err error
	switch {
	case opt.Store != "":
		list.Source = opt.Store
		infos, err = runtime.ListStore(opt.Store)
	case opt.Pool != nil:
		list.Source = opt.Pool.Hosts()[0]
		infos, err = opt.Pool.ListDetailed(ctx)
		if err != nil && runtime.IsRetryable(err) {
			list.Note = fmt.Sprintf("%s does not answer (%v); read the local store instead", list.Source, err)
			list.Source = runtime.StoreDir()
			infos, err = runtime.ListStore("")
		}
	default:
		list.Source = runtime.StoreDir()
		infos, err = runtime.ListStore("")
	}
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	plan, err := MemoryPlan(opt.Recipe)
	if err != nil {
		return nil, fmt.Errorf("models: recipe %s: %w", opt.Recipe.Name, err)
	}
	if plan.LoRARank == 0 {
		return nil, fmt.Errorf("models: recipe %s trains all weights; the listing estimates LoRA runs", opt.Recipe.Name)
	}
	for _, mi := range infos {
		list.Models = append(list.Models, describe(mi, plan))
	}
	return list, nil
}

// describe inspects one model's GGUF and estimates its runs.
func describe(mi runtime.ModelInfo, plan model.MemoryPlan) ModelEntry {
	e := ModelEntry{Name: mi.Name, ParameterSize: mi.ParameterSize, FileType: mi.QuantizationLevel, Architecture: mi.Family}
	if mi.BlobPath == "" {
		e.Reason = "no GGUF model layer (the server reports no blob for it)"
		return e
	}
	if _, err := os.Stat(mi.BlobPath); err != nil {
		e.Reason = fmt.Sprintf("its GGUF %s is not readable here: %v", mi.BlobPath, err)
		return e
	}
	e.Blob = mi.BlobPath
	info, err := model.Inspect(mi.BlobPath)
	if err != nil {
		e.Reason = err.Error()
		return e
	}
	e.Architecture, e.Parameters, e.FileType, e.ContextLength = info.Arch, info.Params, info.FileType, info.ContextLen
	if !info.Trainable() {
		e.Reason = info.Reason
		return e
	}
	e.Trainable = true
	if m, err := info.EstimateMemory(plan); err == nil {
		e.Memory = &m
	}
	lm := plan
	lm.LowMemory = true
	if m, err := info.EstimateMemory(lm); err == nil {
		e.MemoryLowMemory = &m
	}
	return e
}
