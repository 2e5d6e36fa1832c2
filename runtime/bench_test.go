package runtime

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// BenchmarkRuntimeThroughput sends rounds of N concurrent generations (stories260k,
// num_predict 64, every prompt starting with a fresh number so that no prompt prefix is cached)
// to two private servers it starts on ports 11501 and 11502, in four ways, interleaved within
// each iteration so that they see the same machine load:
//
//	raw:   raw api.Client calls to server A, PerHost goroutines
//	pool:  runtime.Pool.Generate on A alone, Capacity goroutines
//	pool2: runtime.Pool.Generate on A and B
//
// It reports requests per second of each and the ratios pool/raw and pool2/pool.
//
//	go test ./runtime -run '^$' -bench RuntimeThroughput -benchtime 5x
func BenchmarkRuntimeThroughput(b *testing.B) {
	const n, numPredict, perHost = 32, 64, 4
	hostA, _, _ := ownServer(b, 11501)
	hostB, _, _ := ownServer(b, 11502)
	ctx := context.Background()
	opt := PolicyOptions()
	opt.NumPredict = numPredict
	var counter atomic.Int64
	prompt := func() string {
		return fmt.Sprintf("%d. Once upon a time, in a small town, there lived", counter.Add(1))
	}
	one, err := NewPool([]string{hostA}, PoolOptions{PerHost: perHost})
	if err != nil {
		b.Fatal(err)
	}
	two, err := NewPool([]string{hostA, hostB}, PoolOptions{PerHost: perHost})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []*Pool{one, two} { // load the model everywhere first
		for _, h := range p.hosts {
			if _, _, err := p.doOn(ctx, h, "warm", func(ctx context.Context) error {
				_, err := generateOnce(ctx, h, GenerateRequest{Model: testModel, Prompt: prompt(), Raw: true, Options: opt}, opt)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	u, _ := url.Parse("http://" + hostA)
	raw := api.NewClient(u, one.http)
	stream := false

	// round runs n requests on workers goroutines and returns the generated tokens.
	round := func(workers int, gen func() (int, error)) int64 {
		var tokens atomic.Int64
		jobs := make(chan struct{})
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobs {
					t, err := gen()
					if err != nil {
						b.Error(err)
						return
					}
					tokens.Add(int64(t))
				}
			}()
		}
		for range n {
			jobs <- struct{}{}
		}
		close(jobs)
		wg.Wait()
		return tokens.Load()
	}
	viaRaw := func() (int, error) {
		var evals int
		err := raw.Generate(ctx, &api.GenerateRequest{Model: testModel, Prompt: prompt(), Raw: true, Stream: &stream,
			Options: opt.apiMap(1)}, func(r api.GenerateResponse) error { evals = r.EvalCount; return nil })
		return evals, err
	}
	viaPool := func(p *Pool) func() (int, error) {
		return func() (int, error) {
			r, err := p.Generate(ctx, GenerateRequest{Model: testModel, Prompt: prompt(), Raw: true, Seed: 1, Options: opt})
			return r.EvalCount, err
		}
	}
	var dRaw, dOne, dTwo time.Duration
	var rOne, rTwo []float64 // per-iteration ratios: raw time / pool time, pool time / pool2 time
	var tok int64
	b.ResetTimer()
	for i := range b.N {
		// Rotate the order so that no way always runs first or after another.
		var d [3]time.Duration
		for k := range 3 {
			t0 := time.Now()
			switch w := (i + k) % 3; w {
			case 0:
				tok += round(perHost, viaRaw)
				d[w] = time.Since(t0)
			case 1:
				round(one.Capacity(), viaPool(one))
				d[w] = time.Since(t0)
			case 2:
				round(two.Capacity(), viaPool(two))
				d[w] = time.Since(t0)
			}
		}
		dRaw, dOne, dTwo = dRaw+d[0], dOne+d[1], dTwo+d[2]
		rOne = append(rOne, d[0].Seconds()/d[1].Seconds())
		rTwo = append(rTwo, d[1].Seconds()/d[2].Seconds())
	}
	reqs := float64(n * b.N)
	b.ReportMetric(reqs/dRaw.Seconds(), "raw-req/s")
	b.ReportMetric(reqs/dOne.Seconds(), "pool-req/s")
	b.ReportMetric(reqs/dTwo.Seconds(), "pool2-req/s")
	b.ReportMetric(dRaw.Seconds()/dOne.Seconds(), "pool/raw")
	b.ReportMetric(dOne.Seconds()/dTwo.Seconds(), "pool2/pool")
	b.ReportMetric(median(rOne), "median-pool/raw")
	b.ReportMetric(median(rTwo), "median-pool2/pool")
	b.ReportMetric(float64(tok)/float64(b.N*n), "tokens/req")
	b.Logf("served by A and B in the two-host pool: %v", two.Served())
}

// BenchmarkPoolOverhead measures what runtime adds per request, against a fake server that
// answers at once with a canned 64-token response: raw api.Client against Pool.Generate, both
// with 4 concurrent callers.
//
//	go test ./runtime -run '^$' -bench PoolOverhead
func BenchmarkPoolOverhead(b *testing.B) {
	body := []byte(`{"model":"m","response":"` + strings.Repeat("tok ", 64) + `","done":true,"done_reason":"length","eval_count":64,"prompt_eval_count":5}` + "\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Write(body)
	}))
	defer srv.Close()
	opt := PolicyOptions()
	opt.NumPredict = 64
	pool, err := NewPool([]string{srv.URL}, PoolOptions{PerHost: 4})
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	raw := api.NewClient(u, pool.http)
	stream := false
	ctx := context.Background()
	b.Run("raw", func(b *testing.B) {
		defer reportCPU(b)()
		b.SetParallelism(2) // 2 × GOMAXPROCS(2) = 4 callers
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				err := raw.Generate(ctx, &api.GenerateRequest{Model: "m", Prompt: "p", Raw: true, Stream: &stream, Options: opt.apiMap(1)},
					func(api.GenerateResponse) error { return nil })
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("pool", func(b *testing.B) {
		defer reportCPU(b)()
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := pool.Generate(ctx, GenerateRequest{Model: "m", Prompt: "p", Raw: true, Seed: 1, Options: opt}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	return s[len(s)/2]
}

// reportCPU reports the process's CPU time (user + system) per operation: on a loaded machine
// it measures what the client costs far more steadily than wall time. Call as
// defer reportCPU(b)().
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}
