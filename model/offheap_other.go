//go:build !unix

package model

// offHeap is n bytes for a resident weight; without mmap (not unix) they are on the Go heap.
type offHeap struct{ b []byte }

// offHeapWeights: resident weights are on the Go heap here.
const offHeapWeights = false

func newOffHeap(n int) (*offHeap, error) { return &offHeap{b: make([]byte, n)}, nil }

func (h *offHeap) free() {
	if h != nil {
		h.b = nil
	}
}
