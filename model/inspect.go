package model

import (
	"fmt"
	"os"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/alignkit/align/kernels"
)

// Info describes a GGUF file without loading its weights: what `align models` lists, and what
// the memory estimate (memory.go) is computed from.
type Info struct {
	Path       string `json:"path"`
	Arch       string `json:"architecture"`
	FileType   string `json:"file_type"`  // general.file_type as ggml names it: Q4_K_M, F16, ...
	Params     int64  `json:"parameters"` // elements of every tensor in the file
	ContextLen int    `json:"context_length"`
	// Reason says why align cannot train the file: the error the loader gives (unsupported
	// architecture, a tensor of an unsupported type named with its type, a missing tensor, a
	// wrong shape, a tokenizer or template it cannot build). "" = Load accepts it.
	Reason string `json:"reason,omitempty"`
	Config Config `json:"-"` // the model's shape; zero when Reason != ""

	sizes weightSizes
}

// Trainable reports whether Load accepts the file.
func (i *Info) Trainable() bool { return i.Reason == "" }

// weightSizes is what the loaded weights occupy: proj* for the seven block projections (which
// LowMemory keeps encoded), other for every other bound tensor (always float32).
type weightSizes struct {
	projElems, projBytes, otherElems int64
	// tableElems and tableBytes are token_embd's and output's when encoded (included in
	// otherElems): a resident run keeps them in their encoding too (head.go); an F32 file's
	// stay float32 and are not counted here.
	tableElems, tableBytes int64
	trainable              []loraShape // every projection's (target, in, out)
}

type loraShape struct {
	target  string
	in, out int
}

// Inspect reads the header of the GGUF at path: its metadata, and whether Load accepts it,
// decided by the loader's own checks (load with headerOnly: the same architecture, tensor type
// and shape checks, reading no weights). The error is non-nil only when the file cannot be read
// at all; a file align cannot train has Reason set.
func Inspect(path string) (*Info, error) {
	info := &Info{Path: path}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: inspect %s: %w", path, err)
	}
	err = checkGGUFLengths(f)
	var g *ggml.GGML
	if err == nil {
		g, err = ggml.Decode(f, 1024) // metadata only: the vocabulary arrays are skipped
	}
	f.Close()
	if err != nil {
		info.Reason = fmt.Sprintf("truncated or corrupt GGUF: %v", err)
		return info, nil
	}
	kv := g.KV()
	info.Arch = kv.Architecture()
	info.FileType = kv.FileType().String()
	info.ContextLen = int(kv.ContextLength())
	byKind := map[uint32]uint64{}
	for _, t := range g.Tensors().Items() {
		info.Params += int64(t.Elements())
		if len(t.Shape) == 2 {
			byKind[t.Kind] += t.Elements()
		}
	}
	if _, ok := kv["general.file_type"]; !ok || info.FileType == "unknown" {
		// No usable general.file_type (llama2.c conversions): the type most matrix elements have.
		var most uint64
		for k, n := range byKind {
			if n > most {
				most, info.FileType = n, ggml.TensorType(k).String()
			}
		}
	}
	m, err := load(path, LoadOptions{}, true)
	if err != nil {
		info.Reason = err.Error()
		return info, nil
	}
	info.Config = m.cfg
	kinds := map[string]uint32{}
	for _, t := range m.tensors {
		kinds[t.name] = t.kind
	}
	for _, b := range m.bindings() {
		p := *b.slot
		if p == nil {
			continue
		}
		n := int64(p.Shape[0])
		if len(p.Shape) == 2 {
			n *= int64(p.Shape[1])
		}
		// Fused parts (phi3's attn_qkv, ffn_up) are split at load into float32, never resident.
		el, by := kernels.BlockSize(ggmlType(kinds[b.name]))
		if tableName(b.name) && ggmlType(kinds[b.name]) != kernels.TypeF32 { // F32 tables stay float32
			info.sizes.tableElems += n
			info.sizes.tableBytes += n / int64(el) * int64(by)
		}
		if !lowMemoryName(b.name) || b.fusedRows > 0 {
			info.sizes.otherElems += n
			continue
		}
		info.sizes.projElems += n
		info.sizes.projBytes += n / int64(el) * int64(by)
	}
	for i := range m.blocks {
		for _, l := range m.blocks[i].linears() {
			info.sizes.trainable = append(info.sizes.trainable, loraShape{l.target, l.in, l.out})
		}
	}
	return info, nil
}
