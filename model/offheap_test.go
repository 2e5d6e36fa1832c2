package model

import (
	"runtime"
	"testing"

	"github.com/alignkit/align/kernels"
)

// TestResidentWeightsOffHeap: resident (encoded) weights do not count in the Go heap, so the
// collector's GOGC headroom does not double them; they still compute (the same log-probs
// before and after a collection), and Close unmaps them once even when called twice (a run
// whose reference is its base closes that model twice).
func TestResidentWeightsOffHeap(t *testing.T) {
	cfg := Config{Arch: "llama", Layers: 4, Dim: 512, FFN: 2048, Heads: 8, KVHeads: 4, Vocab: 4096}
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	before := heap()
	m, err := NewRandom(cfg, 1, LoadOptions{LowMemory: true, RandomType: kernels.TypeQ8_0, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	grew := heap() - before
	w := m.WeightBytes()
	if w < 20<<20 {
		t.Fatalf("weights %d bytes: the shape is too small to tell", w)
	}
	if grew > w/4 {
		t.Errorf("the Go heap grew %d bytes for %d bytes of resident weights: they are on the heap", grew, w)
	}
	qs := m.encoded()
	if len(qs) != 4*7+2 { // seven projections a block, the embedding and the (untied) head
		t.Fatalf("%d encoded weights, want %d", len(qs), 4*7+2)
	}
	seq := []Sequence{{Tokens: []int32{1, 7, 300, 4000, 9}, Mask: []bool{false, true, true, true, true}}}
	a, err := m.LogProbs(seq)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	b, err := m.LogProbs(seq)
	if err != nil {
		t.Fatal(err)
	}
	if i := firstDiff(a[0], b[0]); i >= 0 || len(a[0]) != 4 {
		t.Fatalf("log-probs changed after a collection at %d: %v vs %v", i, a[0], b[0])
	}
	m.Close()
	m.Close()
	for _, q := range qs {
		if q.mem == nil || q.mem.b != nil {
			t.Fatal("Close left an encoded weight mapped")
		}
	}
}
