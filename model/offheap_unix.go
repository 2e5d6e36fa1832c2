//go:build unix

package model

import (
	"fmt"
	"syscall"
)

// offHeap is n bytes outside the Go heap: an anonymous private mapping, zeroed. A resident
// weight's encoded bytes live in one, so the collector neither scans them nor counts them in
// the live heap it lets grow GOGC% before collecting: on the Go heap, a run's peak RSS holds
// about twice the weights (docs/model.md, "Memory estimate"). Model.Close unmaps it; a Model
// that is never closed keeps it until the process exits. There is no finalizer: a weight's
// bytes are read by kernels that hold no reference to the offHeap, so the collector could not
// tell when they are last used.
type offHeap struct{ b []byte }

// offHeapWeights: resident weights are mapped outside the Go heap here.
const offHeapWeights = true

func newOffHeap(n int) (*offHeap, error) {
	if n == 0 {
		return &offHeap{}, nil
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("map %d bytes: %w", n, err)
	}
	return &offHeap{b: b}, nil
}

// free unmaps h; a second call does nothing.
func (h *offHeap) free() {
	if h == nil || h.b == nil {
		return
	}
	_ = syscall.Munmap(h.b)
	h.b = nil
}
