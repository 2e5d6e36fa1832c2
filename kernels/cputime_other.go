//go:build !linux

package kernels

import "time"

// threadCPU is unsupported here: BenchOptions.CPUTime falls back to wall time.
func threadCPU() (time.Duration, bool) { return 0, false }
