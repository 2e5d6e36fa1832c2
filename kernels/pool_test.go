package kernels

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallel: every part of a region runs exactly once and the region returns only after all
// of them, for regions started concurrently from several goroutines, nested inside parts, and
// after the workers have parked (a pause longer than workerSpin). Run under -race too.
func TestParallel(t *testing.T) {
	check := func(parts int, nested bool) {
		hits := make([]atomic.Int32, parts)
		var inner atomic.Int32
		Parallel(parts, func(p int) {
			hits[p].Add(1)
			if nested {
				Parallel(3, func(int) { inner.Add(1) })
			}
		})
		for p := range hits {
			if n := hits[p].Load(); n != 1 {
				t.Fatalf("parts %d: part %d ran %d times", parts, p, n)
			}
		}
		if nested && inner.Load() != int32(3*parts) {
			t.Fatalf("parts %d: %d nested parts ran, want %d", parts, inner.Load(), 3*parts)
		}
	}
	for _, parts := range []int{0, 1, 2, 3, 7} {
		check(parts, false)
		check(parts, true)
	}
	time.Sleep(3 * workerSpin) // the workers park
	check(2, false)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 200; i++ {
				check(1+(g+i)%4, i%3 == 0)
			}
		})
	}
	wg.Wait()
}
