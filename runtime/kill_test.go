package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ownServer starts a private Ollama with scripts/ollama.sh on port (never the shared 11434)
// and returns its address and a stop function. The test stops it at cleanup too.
func ownServer(t testing.TB, port int) (host string, stop, start func()) {
	t.Helper()
	skipWithoutOllama(t)
	script, err := filepath.Abs("../scripts/ollama.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(verb string) {
		cmd := exec.Command("bash", script, verb)
		cmd.Env = append(os.Environ(), fmt.Sprint("ALIGN_OLLAMA_PORT=", port), "OLLAMA_NUM_PARALLEL=4")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scripts/ollama.sh %s on port %d: %v\n%s", verb, port, err, out)
		}
	}
	start = func() { run("start") }
	stop = func() { run("stop") }
	start()
	t.Cleanup(stop)
	return fmt.Sprint("127.0.0.1:", port), stop, start
}

// TestServerKillRestart kills a private server in the middle of a 200-request sampling job,
// restarts it and reruns the job: every row must appear exactly once.
func TestServerKillRestart(t *testing.T) {
	host, stop, start := ownServer(t, 11500)
	p, err := NewPool([]string{host}, PoolOptions{PerHost: 4, RequestTimeout: 20 * time.Second, MaxAttempts: 3,
		BackoffBase: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond, Cooldown: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	opt := PolicyOptions()
	opt.NumPredict = 8
	var prompts []Prompt
	for i := range 100 {
		prompts = append(prompts, Prompt{ID: fmt.Sprint(i), Prompt: fmt.Sprintf("Story %d. Once upon a time", i)})
	}
	out := filepath.Join(t.TempDir(), "samples.jsonl")
	job := SampleJob{Model: testModel, Prompts: prompts, K: 2, Seed: 3, Options: opt, Raw: true, Out: out}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	killed := make(chan struct{})
	sum, err := job.Run(ctx, p, func(done, total int) {
		if done == 60 {
			go func() { stop(); close(killed) }()
		}
	})
	<-killed
	if err == nil {
		t.Fatalf("the job finished although its server was killed: %+v", sum)
	}
	if !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "rerun") {
		t.Errorf("error should name the host and say to rerun: %v", err)
	}
	first, rerr := ReadSamples(out)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if len(first) < 60 || len(first) >= 200 || len(first) != sum.Written {
		t.Errorf("%d rows after the kill, summary %+v", len(first), sum)
	}
	t.Logf("killed after %d rows: %v", len(first), err)

	start()
	sum, err = job.Run(ctx, p, nil)
	if err != nil {
		t.Fatalf("rerun after restart: %v", err)
	}
	rows, err := ReadSamples(out) // fails on a duplicated (prompt_id, sample)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 200 || sum.Existing != len(first) || sum.Existing+sum.Written != 200 {
		t.Fatalf("%d rows, summary %+v; want 200 rows exactly once", len(rows), sum)
	}
	seen := map[sampleKey]bool{}
	for _, r := range rows {
		seen[sampleKey{r.PromptID, r.Sample}] = true
	}
	for _, pr := range prompts {
		for k := range 2 {
			if !seen[sampleKey{pr.ID, k}] {
				t.Errorf("row %s/%d missing", pr.ID, k)
			}
		}
	}
}
