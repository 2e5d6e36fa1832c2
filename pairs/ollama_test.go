package pairs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/runtime"
)

// ollamaPool returns a pool on $OLLAMA_HOST with stories260k. The test fails when the server does
// not answer; it skips, loudly, only with ALIGN_SKIP_OLLAMA=1.
func ollamaPool(t *testing.T) *runtime.Pool {
	t.Helper()
	if os.Getenv("ALIGN_SKIP_OLLAMA") == "1" {
		t.Skip("######## ALIGN_SKIP_OLLAMA=1: SKIPPING " + t.Name() + ", an integration test against a real Ollama server ########")
	}
	pool, err := runtime.NewPool(nil, runtime.PoolOptions{RequestTimeout: 2 * time.Minute, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pool.Require(ctx, "stories260k"); err != nil {
		t.Fatalf("no Ollama server with stories260k at $OLLAMA_HOST (bash scripts/ollama.sh start; ALIGN_SKIP_OLLAMA=1 skips): %v", err)
	}
	return pool
}

// TestOllamaSamplerServer samples stories260k through the real server: every prompt's K
// responses arrive in seed order, each equal to a direct request with that seed and the turns
// joined by newlines; a rerun with a smaller K reads the file and asks for nothing; a plan of
// another seed, a ragged plan and an empty plan are handled as documented.
func TestOllamaSamplerServer(t *testing.T) {
	pool := ollamaPool(t)
	ctx := context.Background()
	opt := runtime.Options{Temperature: 1, TopP: 1, RepeatPenalty: 1, NumPredict: 8}
	prompts := []Prompt{
		{ID: "a", Messages: []data.Message{{Role: "user", Content: "Once upon a time"}}},
		{ID: "b", Messages: []data.Message{{Role: "system", Content: "Lily had a dog."}, {Role: "user", Content: "One day"}}},
	}
	out := filepath.Join(t.TempDir(), "samples.jsonl")
	s := OllamaSampler{Pool: pool, Model: "stories260k", Seed: 7, Options: opt, Raw: true, Out: out}
	collect := func(todo []Planned) ([][]string, error) {
		var mu sync.Mutex
		got := make([][]string, len(todo))
		err := s.Sample(ctx, todo, func(i int, texts []string) error {
			mu.Lock()
			defer mu.Unlock()
			if got[i] != nil {
				t.Errorf("prompt %d delivered twice", i)
			}
			got[i] = append([]string(nil), texts...)
			return nil
		})
		return got, err
	}

	plan3 := Plan(prompts, 3, 7)
	got, err := collect(plan3)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range plan3 {
		if len(got[i]) != 3 {
			t.Fatalf("prompt %s: %d responses, want 3", p.ID, len(got[i]))
		}
		parts := []string{}
		for _, m := range p.Messages {
			parts = append(parts, m.Content)
		}
		for k, seed := range p.Seeds {
			res, err := pool.Generate(ctx, runtime.GenerateRequest{Model: "stories260k", Prompt: strings.Join(parts, "\n"), Raw: true, Seed: seed, Options: opt})
			if err != nil {
				t.Fatal(err)
			}
			if got[i][k] != res.Text {
				t.Errorf("prompt %s sample %d: %q, a direct request with seed %d gives %q", p.ID, k, got[i][k], seed, res.Text)
			}
		}
	}

	// K = 2 on the same file: the first two seeds are K = 3's first two, so the file already
	// holds them; its third samples are beyond K and ignored.
	plan2 := Plan(prompts, 2, 7)
	got2, err := collect(plan2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range plan2 {
		if len(got2[i]) != 2 || got2[i][0] != got[i][0] || got2[i][1] != got[i][1] {
			t.Errorf("rerun with K=2, prompt %d: %q, want the first run's first two %q", i, got2[i], got[i][:2])
		}
	}

	// A plan made with another base seed does not match the file's rows.
	if _, err := collect(Plan(prompts, 2, 8)); err == nil || !strings.Contains(err.Error(), "the plan says") {
		t.Errorf("plan of seed 8 against seed 7's file: error %v, want a seed mismatch", err)
	}
	// A ragged plan is refused before any request.
	ragged := Plan(prompts, 2, 7)
	ragged[1].Seeds = ragged[1].Seeds[:1]
	if _, err := collect(ragged); err == nil || !strings.Contains(err.Error(), "plans 1 samples, others 2") {
		t.Errorf("ragged plan: error %v", err)
	}
	// Nothing to do: no call, no error, no file needed.
	s.Out = filepath.Join(t.TempDir(), "none.jsonl")
	if err := s.Sample(ctx, nil, func(int, []string) error { t.Error("done called for an empty plan"); return nil }); err != nil {
		t.Errorf("empty plan: %v", err)
	}
	if _, err := os.Stat(s.Out); !os.IsNotExist(err) {
		t.Errorf("empty plan wrote %s (%v)", s.Out, err)
	}
	// done's error stops the delivery and comes back.
	s.Out = out
	calls := 0
	err = s.Sample(ctx, plan2, func(int, []string) error { calls++; return os.ErrClosed })
	if err != os.ErrClosed || calls != 1 {
		t.Errorf("done failing: error %v after %d calls, want os.ErrClosed after 1", err, calls)
	}
}
