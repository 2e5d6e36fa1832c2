package model

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// MemoryPlan is what a training run's peak memory depends on besides the model's shape: how
// many tokens one forward packs, what is trained, and how the weights are held.
type MemoryPlan struct {
	// Tokens is the tokens of one policy forward: micro-batch × sequences per example (2 for a
	// pair) × max_length, the most a step can pack.
	Tokens int
	// Reference: a second, frozen copy of the weights computes the reference log-probs (the
	// base model as DPO's reference).
	Reference bool
	LoRARank  int      // 0 = full fine-tuning
	Targets   []string // LoRA targets (short or PEFT names); empty = all seven
	Dropout   bool     // LoRA dropout > 0: a mask per adapted input is kept
	LowMemory bool     // the block projections stay in their GGUF encoding, even in an F32 file
	// Dense decodes quantized projections to float32 at load (--dense). Without it a LoRA run
	// keeps them resident in their encoding, as Load does (residentEncoded); full fine-tuning
	// always decodes them.
	Dense     bool
	Recompute bool // only each block's input is kept; its activations are rebuilt in Backward
}

// MemoryEstimate is the estimated peak resident memory of a training run, in bytes, by part.
type MemoryEstimate struct {
	Weights     int64 `json:"weights_bytes"`     // the policy's weights in their resident encoding
	Reference   int64 `json:"reference_bytes"`   // the reference copy of the weights (0 without)
	Activations int64 `json:"activations_bytes"` // what Forward keeps for Backward, plus Backward's working set
	Optimizer   int64 `json:"optimizer_bytes"`   // trainable values, gradients and AdamW's two moments
	Runtime     int64 `json:"runtime_bytes"`     // the process itself and the garbage collector's headroom (GOGC)
	Total       int64 `json:"total_bytes"`
}

// runtimeBase is align's resident size besides the model and the step (binary, Go runtime,
// recipe, data, tokenizer), measured (docs/model.md, "Memory estimate").
const runtimeBase = 50 << 20

// gcGrowth is how far the Go collector lets the heap grow past the live heap before it
// collects: GOGC/100 (GOGC=100 by default), so a step's freed buffers stay resident until then
// and a long run's peak approaches (1 + GOGC/100) × the live heap. GOGC=off counts as 0 (and
// should not be used for training).
func gcGrowth() float64 {
	switch v := strings.TrimSpace(os.Getenv("GOGC")); v {
	case "":
		return 1
	case "off":
		return 0
	default:
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return float64(n) / 100
		}
		return 1
	}
}

// EstimateMemory is the documented formula of a run's peak memory (docs/model.md): weights in
// their resident encoding (+ the reference's copy) + the policy forward's kept activations and
// the backward's working set at plan.Tokens tokens + 16 bytes per trainable value (value,
// gradient, two AdamW moments; 12 more per weight for full training) = the live memory; plus the
// process's base and the collector's headroom, GOGC/100 of the live Go heap (capped by
// GOMEMLIMIT), which leaves out the resident weights (they are mapped outside it). The reference pass runs before the policy's forward and keeps nothing, so its
// activations (a subset of the policy's) do not add to the peak.
func (i *Info) EstimateMemory(p MemoryPlan) (MemoryEstimate, error) {
	if !i.Trainable() {
		return MemoryEstimate{}, fmt.Errorf("model: %s: %s", i.Path, i.Reason)
	}
	if p.Tokens <= 0 {
		return MemoryEstimate{}, fmt.Errorf("model: memory estimate: %d tokens per forward", p.Tokens)
	}
	if p.LowMemory && p.LoRARank == 0 {
		return MemoryEstimate{}, fmt.Errorf("model: memory estimate: LowMemory keeps the base frozen; it needs LoRA")
	}
	targets := map[string]bool{}
	for _, t := range p.Targets {
		n, err := normalizeTarget(t)
		if err != nil {
			return MemoryEstimate{}, err
		}
		targets[n] = true
	}
	if len(targets) == 0 {
		for _, t := range targetNames() {
			targets[t] = true
		}
	}
	c, s := i.Config, i.sizes
	var e MemoryEstimate
	e.Weights = 4 * (s.otherElems + s.projElems)
	var offHeap int64 // resident weights, outside the Go heap (offheap_unix.go)
	if p.LowMemory || (!p.Dense && p.LoRARank > 0) {
		// Resident: the projections', the token embedding's and the LM head's encoded bytes (4
		// per value in an F32 file). SgemmQ decodes into its packed panels, so there is no
		// float32 tile to add.
		e.Weights = 4*(s.otherElems-s.tableElems) + s.tableBytes + s.projBytes
		offHeap = s.tableBytes + s.projBytes
	}
	if p.Reference {
		e.Reference = e.Weights
		offHeap *= 2
	}

	T, L := int64(p.Tokens), int64(c.Layers)
	D, F := int64(c.Dim), int64(c.FFN)
	Q, K := int64(c.Heads*c.HeadDim), int64(c.KVHeads*c.HeadDim)
	r := int64(p.LoRARank)
	block := T * (2 + 2*Q + 2*K + D + 2*F) // blockActs: 2 rstd, q, k, v, ao, xm, gate, up
	var extraWork int64
	if c.PostNorms { // the attention and FFN outputs before their norms, two more 1/rms
		block += T * (2*D + 2)
		extraWork += T * D
	}
	if c.QKNorm { // q and k before their per-head norms, and each head's 1/rms
		block += T*(Q+K) + T*int64(c.Heads+c.KVHeads)
	}
	var adapters, trainable int64
	for _, l := range s.trainable[:min(len(s.trainable), 7)] { // one block's projections
		if p.LoRARank > 0 && targets[l.target] {
			adapters += r * T // u, [rank, T]
			if p.Dropout {
				adapters += T * int64(l.in)
			}
		}
	}
	for _, l := range s.trainable {
		if p.LoRARank > 0 && targets[l.target] {
			trainable += r * int64(l.in+l.out)
		}
	}
	kept := L * T * D // each block's input
	if p.Recompute {
		kept += block + adapters // one block rebuilt at a time
	} else {
		kept += L * (block + adapters)
	}
	// Backward's working set: the fwd/bwd work buffers, dx, dy, dxn and the final norm's
	// output, a linear's input-gradient temporaries, and the LM head's row block of logits.
	work := T*(D+F) + T*(5*D+2*Q+2*K+3*F) + 4*T*D + 2*T*max(D, F) + headRows*(int64(c.Vocab)+3*D) + extraWork
	e.Activations = 4 * (kept + work)
	if !p.Recompute && c.FinalSoftcap == 0 { // the logits a training pass keeps (keepLogits), at most
		e.Activations += min(4*T*int64(c.Vocab), headKeepBytes)
	}
	if p.LoRARank > 0 {
		e.Optimizer = 16 * trainable
	} else {
		e.Optimizer = 12 * (s.otherElems + s.projElems)
	}
	live := e.Weights + e.Reference + e.Activations + e.Optimizer
	if !offHeapWeights {
		offHeap = 0
	}
	heap := live - offHeap // what the collector grows GOGC% past
	e.Runtime = runtimeBase + int64(gcGrowth()*float64(heap))
	// A soft memory limit (GOMEMLIMIT) makes the collector run sooner, down to the live heap.
	// debug.SetMemoryLimit with a negative value only reads it.
	if lim := debug.SetMemoryLimit(-1); lim < math.MaxInt64 {
		e.Runtime = min(e.Runtime, max(runtimeBase, lim-heap))
	}
	e.Total = live + e.Runtime
	return e, nil
}

// String is the estimate on one line, in MB (10⁶ bytes).
func (e MemoryEstimate) String() string {
	mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }
	var parts []string
	parts = append(parts, "weights "+mb(e.Weights))
	if e.Reference > 0 {
		parts = append(parts, "reference "+mb(e.Reference))
	}
	parts = append(parts, "activations "+mb(e.Activations), "optimizer "+mb(e.Optimizer), "runtime "+mb(e.Runtime))
	return fmt.Sprintf("%s (%s)", mb(e.Total), strings.Join(parts, ", "))
}

// AvailableMemory is the memory a new run can take on this machine, in bytes: the kernel's
// MemAvailable estimate (/proc/meminfo); 0 when it cannot be read. A cgroup's memory.max is not
// read (docs/model.md).
func AvailableMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
