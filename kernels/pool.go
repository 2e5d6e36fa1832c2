package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel regions run on persistent workers that spin briefly between regions, as OpenMP's
// active wait does. A step of training is thousands of short parallel regions (an SGEMM of
// SmolLM2's shape takes about a millisecond, in two regions: packing A, then the product), and
// starting each on fresh goroutines wakes an idle core through the kernel every time: on this
// project's 2-vCPU virtual machines that wake-up cost 15–25% of the two-thread SGEMM on the small
// products (docs/benchmarks.md). A worker that finishes its part spins for up to workerSpin,
// taking the next region's part at once; then it parks until a region needs it. The pool is
// process-wide infrastructure, like packPool: it holds no results, and a region's parts are
// computed by the same code whichever goroutine runs them, so results do not depend on it.

// workerSpin is how long an idle worker spins for the next region before it parks.
const workerSpin = 200 * time.Microsecond

type poolWorker struct {
	slot atomic.Pointer[poolTask] // the part handed to this worker, taken by it
	park chan struct{}            // a wake-up for a parked worker (buffered: never lost)
	// parked is set while the worker waits on park (or is about to).
	parked atomic.Bool
}

// poolTask is one part of a region: fn(part), then done.Done().
type poolTask struct {
	fn   func(part int)
	part int
	done *regionDone
}

// regionDone counts a region's outstanding parts; the caller spins on it, yielding the
// processor, so that a part handed to a goroutine that is not yet running still gets one.
type regionDone struct{ left atomic.Int32 }

func (d *regionDone) Done() { d.left.Add(-1) }

func (d *regionDone) wait() {
	for d.left.Load() > 0 {
		runtime.Gosched()
	}
}

var workers struct {
	mu   sync.Mutex
	idle []*poolWorker // not running a part: spinning or parked
}

// Parallel runs fn(0..parts-1) concurrently, part 0 on the calling goroutine and the others on
// pool workers (new ones started when none is idle), and returns when all are done. The parts
// must write disjoint memory. SGEMM's regions and package model's use it.
func Parallel(parts int, fn func(part int)) {
	if parts <= 1 {
		if parts == 1 {
			fn(0)
		}
		return
	}
	done := &regionDone{}
	done.left.Store(int32(parts - 1))
	workers.mu.Lock()
	take := min(parts-1, len(workers.idle))
	// A copy: idle's backing array is appended to again once the lock is released.
	got := append([]*poolWorker(nil), workers.idle[len(workers.idle)-take:]...)
	workers.idle = workers.idle[:len(workers.idle)-take]
	workers.mu.Unlock()
	for p := 1; p < parts; p++ {
		t := &poolTask{fn: fn, part: p, done: done}
		if p-1 < len(got) {
			got[p-1].give(t)
			continue
		}
		w := &poolWorker{park: make(chan struct{}, 1)}
		w.slot.Store(t)
		go w.loop()
	}
	fn(0)
	done.wait()
}

// give hands t to w (idle) and wakes it if it parked.
func (w *poolWorker) give(t *poolTask) {
	w.slot.Store(t)
	if w.parked.Load() {
		select {
		case w.park <- struct{}{}:
		default:
		}
	}
}

// loop runs the parts handed to w, returning itself to the idle list after each.
func (w *poolWorker) loop() {
	for {
		t := w.slot.Swap(nil)
		if t == nil {
			t = w.await()
		}
		t.fn(t.part)
		workers.mu.Lock()
		workers.idle = append(workers.idle, w)
		workers.mu.Unlock()
		t.done.Done()
	}
}

// await spins for the next part for up to workerSpin, then parks until one comes.
func (w *poolWorker) await() *poolTask {
	deadline := time.Now().Add(workerSpin)
	for i := 0; ; i++ {
		if t := w.slot.Swap(nil); t != nil {
			return t
		}
		if i%64 == 63 && time.Now().After(deadline) {
			break
		}
		runtime.Gosched()
	}
	for {
		w.parked.Store(true)
		if t := w.slot.Swap(nil); t != nil {
			w.parked.Store(false)
			return t
		}
		<-w.park
		w.parked.Store(false)
		if t := w.slot.Swap(nil); t != nil {
			return t
		}
	}
}
