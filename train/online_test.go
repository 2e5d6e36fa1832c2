package train

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ollamaHost returns the server of the integration tests: it fails when none answers, and
// skips only with ALIGN_SKIP_OLLAMA=1.
func ollamaHost(t *testing.T) string {
	t.Helper()
	if os.Getenv("ALIGN_SKIP_OLLAMA") == "1" {
		t.Skip("ALIGN_SKIP_OLLAMA=1: SKIPPING the online-judge test against a real Ollama server")
	}
	host := os.Getenv("OLLAMA_HOST")
	if host == "" {
		host = "127.0.0.1:11434"
	}
	url := host
	if !strings.HasPrefix(url, "http") {
		url = "http://" + url
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url + "/api/version")
	if err != nil {
		t.Fatalf("Ollama at %s does not answer (%v): start it with `bash scripts/ollama.sh start`, or set ALIGN_SKIP_OLLAMA=1", host, err)
	}
	resp.Body.Close()
	return host
}

// TestOnlineLLMJudge runs one APO iteration with stories260K as the policy (local sampler) and
// as the judge on the real server (structured MT-Bench verdicts), which must train, then redoes the iteration's judging with the server address
// pointing nowhere: every judgment comes from stage-1/judgments.jsonl and the pairs are the same.
func TestOnlineLLMJudge(t *testing.T) {
	host := ollamaHost(t)
	r := load(t, "apo", append(append([]string{}, small...), "max_steps=1", "dataset.max_samples=8",
		"online.iterations=1", "online.samples_per_prompt=3", "online.local_sampler=true",
		"online.judge.model=stories260k", "online.judge.template=mt-bench/pair-v2", "online.judge.structured=true", "online.judge.temperature=1")...)
	base := t.TempDir()
	dir := filepath.Join(base, "run")
	opt := Options{Recipe: r, RunDir: dir, CacheDir: filepath.Join(base, "cache"), OllamaHosts: []string{host}}
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pairs == 0 || res.Steps != 1 {
		t.Fatalf("result %+v", res)
	}
	sd := filepath.Join(dir, "stage-1")
	judged, err := os.ReadFile(filepath.Join(sd, "judgments.jsonl"))
	if err != nil || bytes.Count(judged, []byte("\n")) < 8 {
		t.Fatalf("judgments.jsonl: %v, %d lines; want comparisons for each of 8 prompts", err, bytes.Count(judged, []byte("\n")))
	}
	pairs, _ := os.ReadFile(filepath.Join(sd, "pairs.jsonl"))
	os.RemoveAll(filepath.Join(dir, "checkpoints"))
	os.Remove(filepath.Join(sd, "pairs.jsonl"))
	opt.OllamaHosts = []string{"127.0.0.1:9"} // nothing listens: any new question would fail
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatalf("rerun asked the judge again: %v", err)
	}
	again, _ := os.ReadFile(filepath.Join(sd, "pairs.jsonl"))
	if !bytes.Equal(pairs, again) {
		t.Error("the rerun built other pairs from the same judgments")
	}
	after, _ := os.ReadFile(filepath.Join(sd, "judgments.jsonl"))
	if !bytes.Equal(judged, after) {
		t.Error("the rerun added judgments")
	}
}

// TestOnlineOllamaSampler runs one iterative-DPO iteration whose samples come from Ollama: the
// policy is pushed to the server as a merged GGUF and sampled there, then judged by the rule.
func TestOnlineOllamaSampler(t *testing.T) {
	host := ollamaHost(t)
	r := load(t, "quickstart", "max_steps=1", "dataset.max_samples=8", "eval.held_out=0", "online.local_sampler=false",
		"online.samples_per_prompt=3", "online.sampling.max_tokens=16", "output.ollama_model=align-test-sampler")
	base := t.TempDir()
	dir := filepath.Join(base, "run")
	res, err := Run(context.Background(), Options{Recipe: r, RunDir: dir, CacheDir: filepath.Join(base, "cache"), OllamaHosts: []string{host}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := readSampleFile(filepath.Join(dir, "stage-1", "samples.jsonl"))
	if err != nil || len(rows) != 8 {
		t.Fatalf("samples: %d rows, %v", len(rows), err)
	}
	nonEmpty := 0
	for _, r := range rows {
		for _, s := range r.Samples {
			if strings.TrimSpace(s) != "" {
				nonEmpty++
			}
		}
	}
	if nonEmpty < 12 || res.Steps != 1 {
		t.Errorf("%d non-empty samples of 24, %d steps", nonEmpty, res.Steps)
	}
	// align export --to ollama:NAME creates the trained model on the server.
	var out bytes.Buffer
	if err := Export(context.Background(), dir, "ollama:align-test-export", ExportOptions{Hosts: []string{host}, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ollama run align-test-export") {
		t.Errorf("export output %q lacks the run hint", out.String())
	}
	url := host
	if !strings.HasPrefix(url, "http") {
		url = "http://" + url
	}
	resp, err := http.Get(url + "/api/tags")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tags bytes.Buffer
	tags.ReadFrom(resp.Body)
	if !strings.Contains(tags.String(), "align-test-export") {
		t.Error("the exported model is not on the server")
	}
}
