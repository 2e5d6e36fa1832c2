package kernels

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"
)

// BenchResult is one measured (kernel, shape, ISA, threads) point of `align bench kernels`.
// Ratio is the achieved figure over the same-run limit: bandwidth for memory-bound kernels,
// FMA peak (times threads) for SGEMM.
type BenchResult struct {
	Kernel      string  `json:"kernel"`
	Shape       string  `json:"shape"`
	ISA         string  `json:"isa"`
	Threads     int     `json:"threads"`
	NsPerOp     float64 `json:"ns_per_op"`
	GBps        float64 `json:"gbps"`
	GFLOPS      float64 `json:"gflops"`
	LimitGBps   float64 `json:"limit_gbps"`
	LimitGFLOPS float64 `json:"limit_gflops"`
	Ratio       float64 `json:"ratio"`
	// Clock says how the time was taken: "wall", or "cpu" (the thread's CPU time, --cpu-time).
	Clock string `json:"clock"`
	// VsForward is, for token_logprobs+ce_backward, its time over token_logprobs alone (goal ≤ 2).
	VsForward float64 `json:"vs_forward,omitempty"`

	limitKind    string  // "dram", "l2" or "fma": which same-run limit judges this point
	bytes, flops float64 // per call, for the limit rows
}

// BenchOptions selects what RunBench measures.
type BenchOptions struct {
	Quick   bool     // small shapes and short timings (seconds in all), for tests and smoke runs
	ISAs    []string // implementations to measure; empty: every one this CPU runs
	Threads []int    // thread counts for SGEMM and TokenLogProbs; empty: 1 and 2
	Kernels []string // kernel names to run (prefix match); empty: all
	// CPUTime times single-thread points by the thread's CPU time (clock_gettime CLOCK_THREAD_CPUTIME_ID)
	// instead of wall time: on a shared, loaded machine it leaves out the time the thread waited
	// for a core. Multi-thread points keep wall time. Linux only (elsewhere: wall time).
	CPUTime bool
	// Progress, if set, is called after each measured point (results are emitted at the end,
	// once the best limits of the whole run are known).
	Progress func(r BenchResult)
	// MinTime is the least time spent per point (best of several timed batches); 0: 300 ms, or
	// 30 ms with Quick.
	MinTime time.Duration
}

// BenchKernelNames lists the kernels RunBench knows, in order.
var benchKernelNames = []string{"mem_read", "mem_read_l2", "fma_peak", "sgemm", "token_logprobs",
	"token_logprobs+ce_backward", "lse_3pass", "lse_2pass", "softmax", "rmsnorm_fwd", "rmsnorm_bwd",
	"swiglu_fwd", "swiglu_bwd", "rope_fwd", "rope_bwd", "rope_fwd_percall", "adamw", "dot", "dequant_q4_k", "dequant_q8_0", "dequant_f16"}

// BenchKernelNames returns the kernel names RunBench understands.
func BenchKernelNames() []string { return slices.Clone(benchKernelNames) }

// RunBench measures the machine's limits (single-core DRAM and L2 read bandwidth, FMA peak per
// ISA), then each kernel, and calls emit once per point at the end, with every ratio taken
// against the best limits measured during the whole run.
func RunBench(ctx context.Context, opts BenchOptions, emit func(BenchResult)) error {
	_, cpuOK := threadCPU()
	var results []BenchResult
	collect := func(r BenchResult) {
		r.Clock = "wall"
		if opts.CPUTime && cpuOK && r.Threads == 1 {
			r.Clock = "cpu"
		}
		results = append(results, r)
		if opts.Progress != nil {
			opts.Progress(r)
		}
	}
	b := &bencher{ctx: ctx, opts: opts, emit: collect, rng: rand.New(rand.NewPCG(42, 42))}
	defer func() {
		// Judge every point against the best limits of the whole run: a limit caught in a bad
		// moment of a shared machine must not flatter the points measured before a better one.
		for _, r := range results {
			th := float64(r.Threads)
			switch r.limitKind {
			case "dram":
				r.LimitGBps = b.dramGBps * th
			case "l2":
				r.LimitGBps = b.l2GBps * th
			case "fma":
				r.LimitGFLOPS = b.peak[r.ISA] * th
			}
			switch r.Kernel {
			case "mem_read", "mem_read_l2":
				r.GBps = r.LimitGBps
				r.NsPerOp = r.bytes / r.GBps
			case "fma_peak":
				r.GFLOPS = r.LimitGFLOPS
				r.NsPerOp = r.flops / r.GFLOPS
			}
			if r.LimitGFLOPS > 0 {
				r.Ratio = r.GFLOPS / r.LimitGFLOPS
			} else if r.LimitGBps > 0 {
				r.Ratio = r.GBps / r.LimitGBps
			}
			emit(r)
		}
	}()
	if b.opts.MinTime == 0 {
		b.opts.MinTime = 300 * time.Millisecond
		if opts.Quick {
			b.opts.MinTime = 30 * time.Millisecond
		}
	}
	if len(b.opts.Threads) == 0 {
		b.opts.Threads = []int{1, 2}
	}
	if len(opts.ISAs) == 0 {
		b.impls = availableImpls()
	} else {
		for _, name := range opts.ISAs {
			im := implByName(name)
			if im == nil {
				return fmt.Errorf("kernels: bench: ISA %q is not available on this CPU (have %v)", name, ISAs())
			}
			b.impls = append(b.impls, im)
		}
	}
	for _, k := range opts.Kernels {
		ok := false
		for _, n := range benchKernelNames {
			if len(n) >= len(k) && n[:len(k)] == k {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("kernels: bench: unknown kernel %q (have %v)", k, benchKernelNames)
		}
	}
	return b.run()
}

type bencher struct {
	ctx   context.Context
	opts  BenchOptions
	emit  func(BenchResult)
	rng   *rand.Rand
	impls []*impl

	dramGBps, l2GBps float64
	peak             map[string]float64 // GFLOPS per ISA, one thread
	best             *impl
	dramBuf, l2Buf   []float32
}

const fmaPeakIters = 1 << 20

// refreshMem measures the read bandwidths again (for about minTime) and keeps the best seen.
func (b *bencher) refreshMem(minTime time.Duration) error {
	d, err := b.measureFor(minTime, func() { b.best.sum(b.dramBuf) })
	if err != nil {
		return err
	}
	b.dramGBps = max(b.dramGBps, float64(len(b.dramBuf)*4)/float64(d.Nanoseconds()))
	d, err = b.measureFor(minTime, func() { b.best.sum(b.l2Buf) })
	if err != nil {
		return err
	}
	b.l2GBps = max(b.l2GBps, float64(len(b.l2Buf)*4)/float64(d.Nanoseconds()))
	return nil
}

// refreshPeak measures im's FMA peak again and keeps the best seen.
func (b *bencher) refreshPeak(im *impl, minTime time.Duration) error {
	d, err := b.measureFor(minTime, func() { im.fmaPeak(fmaPeakIters) })
	if err != nil {
		return err
	}
	b.peak[im.name] = max(b.peak[im.name], float64(fmaPeakIters*im.fmaFlops)/float64(d.Nanoseconds()))
	return nil
}

func (b *bencher) want(kernel string) bool {
	if len(b.opts.Kernels) == 0 {
		return true
	}
	for _, k := range b.opts.Kernels {
		if len(kernel) >= len(k) && kernel[:len(k)] == k {
			return true
		}
	}
	return false
}

// measure returns the best time per call of f, over batches of at least ~MinTime/5 each, for a
// total of about MinTime (and at least 3 batches of 1 call for slow kernels).
func (b *bencher) measure(f func()) (time.Duration, error) { return b.measureFor(b.opts.MinTime, f) }

// measureWall is measure with wall time whatever CPUTime says (multi-thread points).
func (b *bencher) measureWall(f func()) (time.Duration, error) {
	saved := b.opts.CPUTime
	b.opts.CPUTime = false
	defer func() { b.opts.CPUTime = saved }()
	return b.measureFor(b.opts.MinTime, f)
}

// clock returns the clock the measurements read: wall time, or with --cpu-time the calling
// thread's CPU time (the goroutine is locked to its thread until unlock is called).
func (b *bencher) clock() (clock func() time.Duration, unlock func()) {
	if b.opts.CPUTime {
		if _, ok := threadCPU(); ok {
			runtime.LockOSThread()
			return func() time.Duration { d, _ := threadCPU(); return d }, runtime.UnlockOSThread
		}
	}
	return func() time.Duration { return time.Duration(time.Now().UnixNano()) }, func() {}
}

func (b *bencher) measureFor(minTime time.Duration, f func()) (time.Duration, error) {
	clock, unlock := b.clock()
	defer unlock()
	f() // warm caches, page in buffers
	n := 1
	for {
		t0 := clock()
		for i := 0; i < n; i++ {
			f()
		}
		el := clock() - t0
		if el >= minTime/5 || n >= 1<<20 {
			break
		}
		n *= 2
	}
	best := time.Duration(math.MaxInt64)
	deadline := time.Now().Add(minTime)
	for rep := 0; rep < 3 || time.Now().Before(deadline); rep++ {
		if err := b.ctx.Err(); err != nil {
			return 0, err
		}
		t0 := clock()
		for i := 0; i < n; i++ {
			f()
		}
		if el := (clock() - t0) / time.Duration(n); el > 0 && el < best {
			best = el
		}
		if rep >= 20 {
			break
		}
	}
	return best, nil
}

func (b *bencher) randVec(n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(b.rng.NormFloat64() * scale)
	}
	return x
}

// memPoint emits a bandwidth-bound point: bytes moved per call, judged against the DRAM or L2
// read bandwidth depending on whether the working set fits in L2 (2 MiB per core here).
// Working sets between L2 and DRAM sizes sit in L3, for which no limit is measured: the shapes
// avoid that range.
func (b *bencher) memPoint(kernel, shape, isa string, threads int, bytes, working float64, ns float64) BenchResult {
	_ = b.refreshMem(b.opts.MinTime / 4)
	limit := b.dramGBps
	if working <= 2<<20 { // this CPU's L2 per core
		limit = b.l2GBps
	}
	limit *= float64(threads)
	gbps := bytes / ns
	r := BenchResult{Kernel: kernel, Shape: shape, ISA: isa, Threads: threads, NsPerOp: ns,
		GBps: gbps, LimitGBps: limit, Ratio: gbps / limit, limitKind: "dram"}
	if working <= 2<<20 {
		r.limitKind = "l2"
	}
	b.emit(r)
	return r
}

func (b *bencher) run() error {
	best := availableImpls()[len(availableImpls())-1]
	// Limits first: single-core STREAM-like read over >= 256 MiB, an L2-resident read, FMA peaks.
	// They are measured again after every kernel point (refresh*), and every point is judged
	// against the best limits of the whole run (RunBench): on a shared, loaded machine a limit
	// measured once in a bad moment would flatter the ratios.
	mib := 256
	if b.opts.Quick {
		mib = 32 // a smoke test, not a DRAM figure: 32 MiB may partly sit in L3
	}
	b.dramBuf = make([]float32, mib<<20/4)
	for i := range b.dramBuf {
		b.dramBuf[i] = 1
	}
	b.l2Buf = make([]float32, 1<<20/4)
	for i := range b.l2Buf {
		b.l2Buf[i] = 1
	}
	b.best = best
	b.peak = map[string]float64{}
	if err := b.refreshMem(b.opts.MinTime); err != nil {
		return err
	}
	if b.want("mem_read") {
		b.emit(BenchResult{Kernel: "mem_read", Shape: fmt.Sprintf("%dMiB", mib), ISA: best.name, Threads: 1,
			NsPerOp: float64(len(b.dramBuf)*4) / b.dramGBps, GBps: b.dramGBps, LimitGBps: b.dramGBps, Ratio: 1,
			limitKind: "dram", bytes: float64(len(b.dramBuf) * 4)})
	}
	if b.want("mem_read_l2") {
		b.emit(BenchResult{Kernel: "mem_read_l2", Shape: "1MiB", ISA: best.name, Threads: 1,
			NsPerOp: float64(len(b.l2Buf)*4) / b.l2GBps, GBps: b.l2GBps, LimitGBps: b.l2GBps, Ratio: 1,
			limitKind: "l2", bytes: float64(len(b.l2Buf) * 4)})
	}
	for _, im := range b.impls {
		if err := b.refreshPeak(im, b.opts.MinTime); err != nil {
			return err
		}
		if b.want("fma_peak") {
			g := b.peak[im.name]
			b.emit(BenchResult{Kernel: "fma_peak", Shape: fmt.Sprintf("%d chains", im.fmaFlops/2), ISA: im.name, Threads: 1,
				NsPerOp: float64(fmaPeakIters*im.fmaFlops) / g, GFLOPS: g, LimitGFLOPS: g, Ratio: 1,
				limitKind: "fma", flops: float64(fmaPeakIters * im.fmaFlops)})
		}
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"sgemm", b.sgemm},
		{"token_logprobs", b.tokenLogProbs},
		{"lse_", b.lse},
		{"softmax", b.softmax},
		{"rmsnorm", b.rmsnorm},
		{"swiglu", b.swiglu},
		{"rope_", b.rope},
		{"adamw", b.adamw},
		{"dot", b.dot},
		{"dequant", b.dequant},
	}
	for _, s := range steps {
		if !b.wantPrefix(s.name) {
			continue
		}
		if err := s.fn(); err != nil {
			return err
		}
		runtime.GC()
	}
	return nil
}

// wantPrefix reports whether any selected kernel starts with p (or p starts with a selection).
func (b *bencher) wantPrefix(p string) bool {
	if len(b.opts.Kernels) == 0 {
		return true
	}
	for _, n := range benchKernelNames {
		if len(n) >= len(p) && n[:len(p)] == p && b.want(n) {
			return true
		}
	}
	return false
}

func (b *bencher) sgemm() error {
	type shape struct{ m, k, n int }
	shapes := []shape{{512, 576, 576}, {512, 576, 1536}, {512, 1536, 576}, {512, 896, 4864}, {512, 576, 49152}}
	if b.opts.Quick {
		shapes = []shape{{128, 192, 192}, {64, 256, 512}}
	}
	for _, im := range b.impls {
		for si, s := range shapes {
			if im.name == "generic" && si >= 3 {
				continue // pure Go would take minutes on the two largest shapes
			}
			a := b.randVec(s.m*s.k, 1)
			bm := b.randVec(s.k*s.n, 1)
			c := make([]float32, s.m*s.n)
			for _, tr := range []string{"NN", "NT", "TN"} {
				ta, tb := tr[0] == 'T', tr[1] == 'T'
				lda, ldb := s.k, s.n
				if ta {
					lda = s.m
				}
				if tb {
					ldb = s.k
				}
				for _, th := range b.opts.Threads {
					measure := b.measure
					if th > 1 {
						measure = b.measureWall
					}
					d, err := measure(func() {
						sgemmWith(im, th, ta, tb, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
					})
					if err != nil {
						return err
					}
					ns := float64(d.Nanoseconds())
					g := 2 * float64(s.m) * float64(s.n) * float64(s.k) / ns
					if err := b.refreshPeak(im, b.opts.MinTime/4); err != nil {
						return err
					}
					lim := b.peak[im.name] * float64(th)
					b.emit(BenchResult{Kernel: "sgemm", Shape: fmt.Sprintf("%s M=%d K=%d N=%d", tr, s.m, s.k, s.n),
						ISA: im.name, Threads: th, NsPerOp: ns, GFLOPS: g, LimitGFLOPS: lim, Ratio: g / lim,
						limitKind: "fma"})
				}
			}
		}
	}
	return nil
}

func (b *bencher) tokenLogProbs() error {
	T := 512
	vs := []int{32000, 128256, 151936}
	if b.opts.Quick {
		T, vs = 64, []int{32000}
	}
	logits := b.randVec(T*slices.Max(vs), 3)
	backup := slices.Clone(logits[:T*vs[0]])
	targets := make([]int32, T)
	out, lse, g := make([]float32, T), make([]float32, T), make([]float32, T)
	for i := range g {
		g[i] = 1 / float32(T)
	}
	for _, im := range b.impls {
		for _, V := range vs {
			for i := range targets {
				targets[i] = int32(b.rng.IntN(V))
			}
			x := logits[:T*V]
			shape := fmt.Sprintf("T=%d V=%d", T, V)
			bytes := float64(4 * T * V)
			for _, th := range b.opts.Threads {
				measure := b.measure
				if th > 1 {
					measure = b.measureWall
				}
				var fwd float64
				fwdOnly := func() { tokenLogProbsWith(im, th, out, lse, x, targets, T, V) }
				// In place: the second call sees gradients as logits, which costs the same.
				both := func() {
					tokenLogProbsWith(im, th, out, lse, x, targets, T, V)
					ceBackwardWith(im, th, x, x, lse, g, targets, T, V)
				}
				if b.want("token_logprobs+ce_backward") {
					// Both timed in alternation, so that the ratio compares like with like on a
					// noisy machine.
					saved := b.opts.CPUTime
					b.opts.CPUTime = saved && th == 1
					df, db, err := b.measurePair(fwdOnly, both)
					b.opts.CPUTime = saved
					if err != nil {
						return err
					}
					fwd = float64(df.Nanoseconds())
					if b.want("token_logprobs") {
						b.memPoint("token_logprobs", shape, im.name, th, bytes, bytes, fwd)
					}
					ns := float64(db.Nanoseconds())
					_ = b.refreshMem(b.opts.MinTime / 4)
					r := BenchResult{Kernel: "token_logprobs+ce_backward", Shape: shape, ISA: im.name, Threads: th,
						NsPerOp: ns, GBps: 3 * bytes / ns, LimitGBps: b.dramGBps * float64(th), limitKind: "dram"}
					r.Ratio = r.GBps / r.LimitGBps
					if fwd > 0 {
						r.VsForward = ns / fwd
					}
					b.emit(r)
					copy(x, backup[:min(len(backup), len(x))])
				} else if b.want("token_logprobs") {
					d, err := measure(fwdOnly)
					if err != nil {
						return err
					}
					b.memPoint("token_logprobs", shape, im.name, th, bytes, bytes, float64(d.Nanoseconds()))
				}
			}
		}
	}
	return nil
}

// measurePair times f and g in alternating batches for about twice MinTime and returns the
// best time per call of each (wall or thread CPU time as measureFor).
func (b *bencher) measurePair(f, g func()) (time.Duration, time.Duration, error) {
	clock, unlock := b.clock()
	defer unlock()
	batch := func(fn func()) int {
		fn()
		n := 1
		for {
			t0 := clock()
			for i := 0; i < n; i++ {
				fn()
			}
			if clock()-t0 >= b.opts.MinTime/5 || n >= 1<<20 {
				return n
			}
			n *= 2
		}
	}
	nf, ng := batch(f), batch(g)
	bf, bg := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	deadline := time.Now().Add(2 * b.opts.MinTime)
	for rep := 0; rep < 3 || time.Now().Before(deadline); rep++ {
		if err := b.ctx.Err(); err != nil {
			return 0, 0, err
		}
		for _, x := range []struct {
			fn   func()
			n    int
			best *time.Duration
		}{{f, nf, &bf}, {g, ng, &bg}} {
			t0 := clock()
			for i := 0; i < x.n; i++ {
				x.fn()
			}
			if el := (clock() - t0) / time.Duration(x.n); el > 0 && el < *x.best {
				*x.best = el
			}
		}
		if rep >= 20 {
			break
		}
	}
	return bf, bg, nil
}

func (b *bencher) lse() error {
	type shape struct{ T, V int }
	shapes := []shape{{4, 32000}, {512, 32000}, {256, 128256}, {1024, 1024}, {16384, 1024}}
	if b.opts.Quick {
		shapes = []shape{{4, 32000}, {64, 32000}}
	}
	for _, im := range b.impls {
		for _, s := range shapes {
			x := b.randVec(s.T*s.V, 3)
			bytes := float64(4 * s.T * s.V)
			for _, alg := range []string{"lse_3pass", "lse_2pass"} {
				if !b.want(alg) {
					continue
				}
				f := im.lse3
				if alg == "lse_2pass" {
					f = im.lse2
				}
				d, err := b.measure(func() {
					for r := 0; r < s.T; r++ {
						f(x[r*s.V : (r+1)*s.V])
					}
				})
				if err != nil {
					return err
				}
				b.memPoint(alg, fmt.Sprintf("T=%d V=%d", s.T, s.V), im.name, 1, bytes, bytes, float64(d.Nanoseconds()))
			}
		}
	}
	return nil
}

func (b *bencher) softmax() error {
	T := 512 // causal attention rows of a 512-token sequence: row t has t+1 entries
	x := b.randVec(T*T, 2)
	var bytes float64
	for t := 0; t < T; t++ {
		bytes += 8 * float64(t+1) // read and write
	}
	for _, im := range b.impls {
		d, err := b.measure(func() {
			for t := 0; t < T; t++ {
				row := x[t*T : t*T+t+1]
				softmaxWith(im, row, row)
			}
		})
		if err != nil {
			return err
		}
		b.memPoint("softmax", "causal T=512", im.name, 1, bytes, float64(4*T*T/2), float64(d.Nanoseconds()))
	}
	return nil
}

// rmsnorm measures RMSNorm at two shapes: an L2-resident one (256 rows of 576, working set
// 1.2 MB), judged against the L2 read bandwidth, and the SmolLM2-135M training shape (512 rows
// of 576, 2.4 MB with its output), judged against DRAM read bandwidth by memPoint's rule. (A
// working set between L2 and DRAM size sits in this CPU's large L3, for which no limit is
// measured, so the DRAM ratio of the training shape can exceed 1.)
func (b *bencher) rmsnorm() error {
	for _, rows := range []int{256, 512} {
		dim := 576
		x, w := b.randVec(rows*dim, 1), b.randVec(dim, 1)
		out, dx, dw, dout := make([]float32, rows*dim), make([]float32, rows*dim), make([]float32, dim), b.randVec(rows*dim, 1)
		rstd := make([]float32, rows)
		shape := fmt.Sprintf("rows=%d dim=%d", rows, dim)
		for _, im := range b.impls {
			if b.want("rmsnorm_fwd") {
				d, err := b.measure(func() { rmsNormForwardWith(im, out, rstd, x, w, rows, dim, 1e-5) })
				if err != nil {
					return err
				}
				bytes := float64(4 * (2*rows*dim + dim)) // x read twice (sum of squares, scale) counts once from cache
				b.memPoint("rmsnorm_fwd", shape, im.name, 1, bytes, bytes, float64(d.Nanoseconds()))
			}
			if b.want("rmsnorm_bwd") {
				d, err := b.measure(func() { rmsNormBackwardWith(im, dx, dw, dout, x, w, rstd, rows, dim) })
				if err != nil {
					return err
				}
				bytes := float64(4 * (3*rows*dim + 2*dim))
				b.memPoint("rmsnorm_bwd", shape, im.name, 1, bytes, bytes, float64(d.Nanoseconds()))
			}
		}
	}
	return nil
}

// swiglu measures SwiGLU at an L2-resident shape (64 rows of 1536: gate, up and out are 1.2 MB
// together) and at the SmolLM2-135M training shape (512 rows of 1536, 9.4 MB), judged as
// rmsnorm's are.
func (b *bencher) swiglu() error {
	for _, rows := range []int{64, 512} {
		n := rows * 1536
		g, u, dout := b.randVec(n, 2), b.randVec(n, 1), b.randVec(n, 1)
		out, dg, du := make([]float32, n), make([]float32, n), make([]float32, n)
		shape := fmt.Sprintf("%dx1536", rows)
		for _, im := range b.impls {
			if b.want("swiglu_fwd") {
				d, err := b.measure(func() { im.swigluF(out, g, u) })
				if err != nil {
					return err
				}
				bytes := float64(12 * n)
				b.memPoint("swiglu_fwd", shape, im.name, 1, bytes, bytes, float64(d.Nanoseconds()))
			}
			if b.want("swiglu_bwd") {
				d, err := b.measure(func() { im.swigluB(dg, du, dout, g, u) })
				if err != nil {
					return err
				}
				bytes := float64(20 * n)
				b.memPoint("swiglu_bwd", shape, im.name, 1, bytes, bytes, float64(d.Nanoseconds()))
			}
		}
	}
	return nil
}

// rope measures RoPE at the SmolLM2-135M query shape (T=512, 9 heads of 64), L2-resident
// (x is 1.2 MB, the table 128 KB): the table API forward and backward (adjacent pairs), and the
// per-call API that computes its cos/sin every call. Bytes: x read and written, plus the table
// rows read.
func (b *bencher) rope() error {
	T, H, D := 512, 9, 64
	x := b.randVec(T*H*D, 1)
	pos := make([]int32, T)
	for i := range pos {
		pos[i] = int32(i)
	}
	tb := NewRoPETable(T, D, 10000)
	shape := fmt.Sprintf("T=%d heads=%d headDim=%d", T, H, D)
	bytes := float64(8*T*H*D + 4*T*D)
	working := float64(4*T*H*D + 4*T*D)
	for _, im := range b.impls {
		for _, k := range []struct {
			name string
			fn   func()
		}{
			{"rope_fwd", func() { tb.apply(im, x, pos, T, H, D, false, false) }},
			{"rope_bwd", func() { tb.apply(im, x, pos, T, H, D, false, true) }},
			{"rope_fwd_percall", func() { ropeWith(im, x, pos, T, H, D, D, 10000, false, false) }},
		} {
			if !b.want(k.name) {
				continue
			}
			d, err := b.measure(k.fn)
			if err != nil {
				return err
			}
			b.memPoint(k.name, shape, im.name, 1, bytes, working, float64(d.Nanoseconds()))
		}
	}
	return nil
}

func (b *bencher) adamw() error {
	n := 1 << 16 // L2-resident: p, g, m, v are 1 MiB together
	p, g := b.randVec(n, 1), b.randVec(n, 1)
	m, v := make([]float32, n), make([]float32, n)
	for _, im := range b.impls {
		step := 1
		d, err := b.measure(func() { im.adamw(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, step); step++ })
		if err != nil {
			return err
		}
		bytes := float64(28 * n)
		b.memPoint("adamw", fmt.Sprintf("n=%d", n), im.name, 1, bytes, float64(16*n), float64(d.Nanoseconds()))
	}
	return nil
}

func (b *bencher) dot() error {
	n := 1 << 17 // L2-resident: 1 MiB
	x, y := b.randVec(n, 1), b.randVec(n, 1)
	for _, im := range b.impls {
		d, err := b.measure(func() { im.dot(x, y) })
		if err != nil {
			return err
		}
		bytes := float64(8 * n)
		b.memPoint("dot", fmt.Sprintf("n=%d", n), im.name, 1, bytes, bytes, float64(d.Nanoseconds()))
	}
	return nil
}

func (b *bencher) dequant() error {
	n := 1 << 20
	src := b.randVec(n, 1)
	dst := make([]float32, n)
	for _, t := range []struct {
		kernel string
		typ    GGMLType
	}{{"dequant_q4_k", TypeQ4_K}, {"dequant_q8_0", TypeQ8_0}, {"dequant_f16", TypeF16}} {
		if !b.want(t.kernel) {
			continue
		}
		_, bs := BlockSize(t.typ)
		el, _ := BlockSize(t.typ)
		raw := make([]byte, n/el*bs)
		for i := range raw {
			raw[i] = byte(b.rng.IntN(256))
		}
		if t.typ == TypeF16 {
			QuantizeF16(raw, src)
		} else if t.typ == TypeQ8_0 {
			if err := QuantizeQ8_0(raw, src); err != nil {
				return err
			}
		} else {
			for blk := 0; blk < len(raw); blk += bs { // keep the F16 scales finite
				raw[blk+1] &= 0x3B
				raw[blk+3] &= 0x3B
			}
		}
		for _, im := range b.impls {
			var derr error
			d, err := b.measure(func() { derr = dequantizeWith(im, t.typ, dst, raw) })
			if err != nil {
				return err
			}
			if derr != nil {
				return derr
			}
			bytes := float64(len(raw) + 4*n)
			b.memPoint(t.kernel, fmt.Sprintf("n=%d", n), im.name, 1, bytes, bytes, float64(d.Nanoseconds()))
		}
	}
	return nil
}

// FMAPeak measures the active implementation's FMA peak in GFLOPS with threads goroutines
// running the independent multiply-add chains of the fma_peak kernel at once (each locked to its
// OS thread), best of repeated batches over about minTime. It is the denominator of model FLOPs
// utilisation: measure it in the same run, at the same thread count, as the figure it judges (on
// a shared machine the cores' share moves with the load).
func FMAPeak(threads int, minTime time.Duration) float64 {
	threads = max(threads, 1)
	im := active
	const iters = fmaPeakIters / 4
	batch := func() time.Duration {
		var wg sync.WaitGroup
		t0 := time.Now()
		for range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				im.fmaPeak(iters)
			}()
		}
		wg.Wait()
		return time.Since(t0)
	}
	batch() // warm up (clocks, thread creation)
	best := time.Duration(math.MaxInt64)
	deadline := time.Now().Add(minTime)
	for rep := 0; rep < 3 || time.Now().Before(deadline); rep++ {
		best = min(best, batch())
	}
	return float64(threads) * float64(iters*im.fmaFlops) / float64(best.Nanoseconds())
}
