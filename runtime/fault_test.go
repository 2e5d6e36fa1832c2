package runtime

// Fault tests: an httptest proxy in front of the real server injects refused connections,
// 500s, 400s, slow answers, truncated streams and garbage judge text.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type fault string

const (
	faultNone    fault = ""
	fault500     fault = "500"
	fault400     fault = "400"
	faultSlow    fault = "slow"     // no answer until the client gives up
	faultDelay   fault = "delay"    // the answer, half a second late
	faultCut     fault = "cut"      // half the answer, then the end of the body
	faultNotDone fault = "not-done" // a well-formed line with done:false, then the end
	faultHangup  fault = "hangup"   // the connection closes with no answer
	faultGarbage fault = "garbage"  // the model's text replaced by garbage
)

// faultProxy forwards to the real server, injecting plan(n, path) into the n-th request
// (from 1) of the generation endpoints. Other endpoints pass through.
type faultProxy struct {
	t      testing.TB
	target string
	plan   func(n int, path string) fault
	srv    *httptest.Server

	mu     sync.Mutex
	n      int
	counts map[fault]int
}

func newFaultProxy(t testing.TB, target string, plan func(n int, path string) fault) *faultProxy {
	fp := &faultProxy{t: t, target: target, plan: plan, counts: map[fault]int{}}
	fp.srv = httptest.NewServer(fp)
	t.Cleanup(fp.srv.Close)
	return fp
}

func (fp *faultProxy) count(f fault) int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.counts[f]
}

func (fp *faultProxy) requests() int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.n
}

func (fp *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f := faultNone
	if r.URL.Path == "/api/generate" || r.URL.Path == "/api/chat" {
		fp.mu.Lock()
		fp.n++
		f = fp.plan(fp.n, r.URL.Path)
		fp.counts[f]++
		fp.mu.Unlock()
	}
	switch f {
	case fault500:
		http.Error(w, `{"error":"injected server error"}`, http.StatusInternalServerError)
		return
	case fault400:
		http.Error(w, `{"error":"injected bad request"}`, http.StatusBadRequest)
		return
	case faultHangup:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case faultSlow:
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return
	case faultDelay:
		time.Sleep(500 * time.Millisecond)
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, fp.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	switch f {
	case faultCut:
		data = data[:len(data)/2]
	case faultNotDone, faultGarbage:
		var m map[string]any
		if json.Unmarshal(bytes.TrimSpace(data), &m) == nil {
			if f == faultNotDone {
				m["done"] = false
				delete(m, "done_reason")
			} else {
				if _, ok := m["response"]; ok {
					m["response"] = "lorem ipsum [[D]] dolor"
				}
				if msg, ok := m["message"].(map[string]any); ok {
					msg["content"] = "lorem ipsum [[D]] dolor"
				}
			}
			data, _ = json.Marshal(m)
			data = append(data, '\n')
		}
	}
	for k, v := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(data)
}

// realHost is the server the proxies forward to.
func realHost(t testing.TB) string {
	hosts, err := ParseHosts(nil)
	if err != nil {
		t.Fatal(err)
	}
	return hosts[0]
}

// fastRetry keeps the fault tests short: small backoff and cooldown. The timeout is generous:
// the shared test server may be busy with other work; the timeout fault sets its own.
func fastRetry(attempts int) PoolOptions {
	return PoolOptions{RequestTimeout: time.Minute, MaxAttempts: attempts, BackoffBase: 5 * time.Millisecond,
		BackoffMax: 40 * time.Millisecond, Cooldown: 20 * time.Millisecond}
}

func TestFaultSampleJobNoLossNoDup(t *testing.T) {
	direct := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 2*time.Minute)
	plan := func(n int, _ string) fault {
		switch {
		case n == 9 || n == 30:
			return faultDelay
		case n%5 == 1:
			return fault500
		case n%7 == 2:
			return faultCut
		case n%11 == 3:
			return faultHangup
		case n%13 == 4:
			return faultNotDone
		}
		return faultNone
	}
	fp := newFaultProxy(t, realHost(t), plan)
	p, err := NewPool([]string{fp.srv.URL}, fastRetry(8))
	if err != nil {
		t.Fatal(err)
	}
	opt := PolicyOptions()
	opt.NumPredict = 8
	var prompts []Prompt
	for i := range 20 {
		prompts = append(prompts, Prompt{ID: fmt.Sprint("p", i), Prompt: fmt.Sprintf("%d. Once upon a time", i)})
	}
	dir := t.TempDir()
	job := SampleJob{Model: testModel, Prompts: prompts, K: 2, Seed: 11, Options: opt, Raw: true, Out: filepath.Join(dir, "faulty.jsonl")}
	sum, err := job.Run(ctx, p, nil)
	if err != nil {
		t.Fatalf("job through faults: %v (%+v)", err, sum)
	}
	for _, f := range []fault{fault500, faultCut, faultHangup, faultNotDone, faultDelay} {
		if fp.count(f) == 0 {
			t.Errorf("fault %s never injected; the test proves less than it claims", f)
		}
	}
	rows, err := ReadSamples(job.Out)
	if err != nil || len(rows) != 40 {
		t.Fatalf("%d rows (%v), want 40 exactly once", len(rows), err)
	}
	retried := 0
	for _, r := range rows {
		if r.Attempts > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Error("no row records a retry")
	}
	// The same job without faults gives the same texts: nothing was corrupted on the way.
	clean := job
	clean.Out = filepath.Join(dir, "clean.jsonl")
	if _, err := clean.Run(ctx, direct, nil); err != nil {
		t.Fatal(err)
	}
	want, _ := ReadSamples(clean.Out)
	byKey := map[sampleKey]string{}
	for _, r := range want {
		byKey[sampleKey{r.PromptID, r.Sample}] = r.Response
	}
	for _, r := range rows {
		if byKey[sampleKey{r.PromptID, r.Sample}] != r.Response {
			t.Errorf("%s/%d through faults %q, directly %q", r.PromptID, r.Sample, r.Response, byKey[sampleKey{r.PromptID, r.Sample}])
		}
	}
	t.Logf("%d requests for 40 rows; %d rows retried", fp.requests(), retried)
}

func TestFaultRetriesBounded(t *testing.T) {
	serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	req := GenerateRequest{Model: testModel, Prompt: "Hi", Raw: true, Options: GreedyOptions(2)}
	for _, c := range []struct {
		f        fault
		attempts int // requests the proxy must see
		is       error
		msg      string
	}{
		{fault500, 3, ErrGaveUp, "injected server error"},
		{faultCut, 3, ErrGaveUp, "3 attempts"},
		{faultNotDone, 3, ErrTruncated, "before done"},
		{faultHangup, 3, ErrGaveUp, "EOF"},
		{faultSlow, 3, ErrTimeout, "timed out"},
		{fault400, 1, nil, "injected bad request"},
	} {
		fp := newFaultProxy(t, realHost(t), func(int, string) fault { return c.f })
		opt := fastRetry(3)
		if c.f == faultSlow {
			opt.RequestTimeout = 200 * time.Millisecond
		}
		p, _ := NewPool([]string{fp.srv.URL}, opt)
		start := time.Now()
		_, err := p.Generate(ctx, req)
		el := time.Since(start)
		if err == nil {
			t.Errorf("%s: no error", c.f)
			continue
		}
		if fp.requests() != c.attempts {
			t.Errorf("%s: %d requests, want %d", c.f, fp.requests(), c.attempts)
		}
		if (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), fp.srv.URL) {
			t.Errorf("%s: error %q should wrap %v and name %q and the host", c.f, err, c.is, c.msg)
		}
		if el > 5*time.Second {
			t.Errorf("%s: took %s", c.f, el)
		}
	}
}

func TestFaultRefusedHostTakenOut(t *testing.T) {
	serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	var mu sync.Mutex
	var logs []string
	opt := fastRetry(4)
	opt.Cooldown = time.Minute // once out, it stays out for this test
	opt.RequestTimeout = 20 * time.Second
	opt.Logf = func(f string, a ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); mu.Unlock() }
	p, _ := NewPool([]string{dead, realHost(t)}, opt)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Generate(ctx, GenerateRequest{Model: testModel, Prompt: fmt.Sprint(i, " Hi"), Raw: true, Options: GreedyOptions(4)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("with one live host: %v", err)
		}
	}
	served := p.Served()
	if served[0] != 0 || served[1] != 16 {
		t.Errorf("served %v, want [0 16]", served)
	}
	if !strings.Contains(strings.Join(logs, "\n"), "taken out") {
		t.Errorf("no host taken out; logs: %v", logs)
	}
	// With only the dead host a job stops soon, with a clear error, and writes nothing.
	p2, _ := NewPool([]string{dead}, fastRetry(2))
	out := filepath.Join(t.TempDir(), "s.jsonl")
	start := time.Now()
	sum, err := SampleJob{Model: testModel, K: 4, Options: GreedyOptions(2), Out: out,
		Prompts: []Prompt{{ID: "a", Prompt: "x"}, {ID: "b", Prompt: "y"}}}.Run(ctx, p2, nil)
	if err == nil || !strings.Contains(err.Error(), dead) || sum.Written != 0 || time.Since(start) > 10*time.Second {
		t.Errorf("dead pool: %+v %v (%s)", sum, err, time.Since(start))
	}
}

func TestFaultGarbageJudge(t *testing.T) {
	serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	fp := newFaultProxy(t, realHost(t), func(n int, _ string) fault { return faultGarbage })
	p, _ := NewPool([]string{fp.srv.URL}, fastRetry(3))
	tpl := tpl2(t, "mt-bench/pair-v2")
	o := GreedyOptions(4)
	j, err := JudgePair(ctx, p, JudgeRequest{Judge: testModel, Template: tpl, Instruction: "q", Output1: "a", Output2: "b", Attempts: 3, Options: &o})
	if err != nil {
		t.Fatal(err)
	}
	if j.Valid || len(j.Games) != 2 || fp.requests() != 6 {
		t.Fatalf("garbage judge: %+v after %d requests (want 2 invalid games, 3 tries each)", j, fp.requests())
	}
	for _, g := range j.Games {
		if g.Verdict.Valid || g.Verdict.Raw != "lorem ipsum [[D]] dolor" || len(g.Raws) != 3 || g.Verdict.Label != "" {
			t.Errorf("invalid game %+v should keep the raw text and guess nothing", g)
		}
	}
	// A judge job over a proxy that garbles every third answer: every game once, invalid ones counted.
	fp2 := newFaultProxy(t, realHost(t), func(n int, _ string) fault {
		if n%3 == 0 {
			return faultGarbage
		}
		if n%4 == 0 {
			return fault500
		}
		return faultNone
	})
	p2, _ := NewPool([]string{fp2.srv.URL}, fastRetry(5))
	var items []JudgeItem
	for i := range 6 {
		items = append(items, JudgeItem{ID: fmt.Sprint(i), Instruction: "Tell a story.", Output1: fmt.Sprint("Tom ran ", i), Output2: "Sue sat.", Generator1: "m", Generator2: "base"})
	}
	items = append(items, JudgeItem{ID: "same", Instruction: "x", Output1: "y", Output2: "y"})
	out := filepath.Join(t.TempDir(), "judgments.jsonl")
	job := JudgeJob{Judge: testModel, Template: tpl, Items: items, Attempts: 1, Options: &o, Out: out}
	sum, err := job.Run(ctx, p2, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadJudgments(out)
	if err != nil || len(rows) != 14 || sum.Written != 14 {
		t.Fatalf("%d rows, summary %+v, %v", len(rows), sum, err)
	}
	seen := map[gameKey]bool{}
	invalid := 0
	for _, r := range rows {
		k := gameKey{r.ID, r.Swapped}
		if seen[k] {
			t.Errorf("duplicate %v", k)
		}
		seen[k] = true
		if !r.Valid {
			invalid++
			if r.Preference != nil || r.Raw == "" {
				t.Errorf("invalid row %+v needs a null preference and its raw text", r)
			}
		}
		if r.ID == "same" && (r.Preference == nil || *r.Preference != 1.5) {
			t.Errorf("identical outputs: %+v", r)
		}
	}
	if invalid != sum.Invalid || invalid == 0 {
		t.Errorf("%d invalid rows, summary says %d", invalid, sum.Invalid)
	}
	// Rerun: nothing to ask.
	n := fp2.requests()
	sum, err = job.Run(ctx, p2, nil)
	if err != nil || sum.Written != 0 || sum.Existing != 14 || fp2.requests() != n || sum.Invalid != invalid {
		t.Errorf("rerun: %+v %v, %d new requests", sum, err, fp2.requests()-n)
	}
}

func TestFaultCancel(t *testing.T) {
	serverPool(t, PoolOptions{})
	fp := newFaultProxy(t, realHost(t), func(int, string) fault { return faultSlow })
	p, _ := NewPool([]string{fp.srv.URL}, PoolOptions{RequestTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Generate(ctx, GenerateRequest{Model: testModel, Prompt: "x", Options: GreedyOptions(1)})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second || fp.requests() != 1 {
		t.Errorf("cancelled request: %v after %s and %d requests", err, time.Since(start), fp.requests())
	}
}
