package runtime

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

func TestParseHosts(t *testing.T) {
	got, err := ParseHosts([]string{"127.0.0.1:11434, localhost:1", "http://h", "127.0.0.1:11434", "https://x.example/", ":11500"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"http://127.0.0.1:11434", "http://localhost:1", "http://h:80", "https://x.example:443", "http://127.0.0.1:11500"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	t.Setenv("OLLAMA_HOST", "127.0.0.1:9999")
	if got, _ := ParseHosts(nil); !slices.Equal(got, []string{"http://127.0.0.1:9999"}) {
		t.Errorf("OLLAMA_HOST: %v", got)
	}
	if _, err := ParseHosts([]string{"ftp://x"}); err == nil {
		t.Error("ftp scheme accepted")
	}
	if _, err := ParseHosts([]string{"h:99999"}); err == nil {
		t.Error("bad port accepted")
	}
}

func TestPoolDefaults(t *testing.T) {
	t.Setenv("OLLAMA_NUM_PARALLEL", "")
	p, err := NewPool([]string{"a:1,b:2"}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Capacity() != 8 {
		t.Errorf("capacity %d, want 2 hosts × 4", p.Capacity())
	}
	t.Setenv("OLLAMA_NUM_PARALLEL", "3")
	p, _ = NewPool([]string{"a:1"}, PoolOptions{})
	if p.Capacity() != 3 {
		t.Errorf("capacity %d, want OLLAMA_NUM_PARALLEL=3", p.Capacity())
	}
}

func TestBackoffBounds(t *testing.T) {
	p, _ := NewPool([]string{"a:1"}, PoolOptions{BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second})
	for attempt := 1; attempt <= 40; attempt++ {
		d := min(time.Second, 100*time.Millisecond<<min(attempt-1, 20))
		for range 20 {
			got := p.backoff(attempt)
			if got < d/2 || got > d {
				t.Fatalf("attempt %d: backoff %s outside [%s, %s]", attempt, got, d/2, d)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err       error
		retryable bool
	}{
		{api.StatusError{StatusCode: 500}, true},
		{api.StatusError{StatusCode: 503}, true},
		{api.StatusError{StatusCode: 400, ErrorMessage: "bad"}, false},
		{fmt.Errorf("x: %w", api.StatusError{StatusCode: 404}), false},
		{ErrModelNotFound, false},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{ErrTruncated, true},
		{ErrTimeout, true},
	}
	for _, c := range cases {
		if IsRetryable(c.err) != c.retryable {
			t.Errorf("%v: retryable %v, want %v", c.err, !c.retryable, c.retryable)
		}
	}
	err := modelNotFound("ghost", api.StatusError{StatusCode: 404, ErrorMessage: "model 'ghost' not found"})
	if !errors.Is(err, ErrModelNotFound) || !strings.Contains(err.Error(), "align export") || !strings.Contains(err.Error(), "ollama create ghost") {
		t.Errorf("model-not-found message: %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	if _, err := (Options{NumPredict: 0}).normalized(); err == nil || !strings.Contains(err.Error(), "unlimited") {
		t.Errorf("num_predict 0 accepted: %v", err)
	}
	o, err := (Options{NumPredict: 5, Stop: []string{}}).normalized()
	if err != nil || o.TopP != 1 || o.RepeatPenalty != 1 || o.TopK != 0 || o.Stop != nil {
		t.Errorf("normalized %+v %v", o, err)
	}
	m := PolicyOptions().apiMap(7)
	for k, v := range map[string]any{"seed": int64(7), "repeat_penalty": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "temperature": 1.0} {
		if m[k] != v {
			t.Errorf("options map %s = %v (%T), want %v sent explicitly", k, m[k], m[k], v)
		}
	}
}

func TestSampleSeedsDistinct(t *testing.T) {
	s := SampleSeeds(1, "p", 64)
	seen := map[int64]bool{}
	for _, x := range s {
		if x < 1 || x >= 1<<31 || seen[x] {
			t.Fatalf("seed %d out of range or repeated in %v", x, s)
		}
		seen[x] = true
	}
	if !slices.Equal(s[:4], SampleSeeds(1, "p", 4)) {
		t.Error("seeds depend on k beyond their index")
	}
	if slices.Equal(s[:4], SampleSeeds(2, "p", 4)) || slices.Equal(s[:4], SampleSeeds(1, "q", 4)) {
		t.Error("seeds ignore the base seed or the prompt id")
	}
}

func TestCheckIDs(t *testing.T) {
	ids := func(s ...string) func(int) string { return func(i int) string { return s[i] } }
	if err := checkIDs("sample: prompt", 3, ids("a", "b", "c")); err != nil {
		t.Error(err)
	}
	if err := checkIDs("sample: prompt", 3, ids("a", "", "a")); err == nil || err.Error() != "runtime: sample: prompt 1 has no id" {
		t.Errorf("empty id: %v", err)
	}
	if err := checkIDs("judge job: item", 3, ids("a", "b", "a")); err == nil || err.Error() != `runtime: judge job: item id "a" appears twice` {
		t.Errorf("repeated id: %v", err)
	}
}
