package runtime

// Integration tests against a real Ollama server ($OLLAMA_HOST, started by scripts/ollama.sh
// with the models stories260k and tiny-random). They fail when the server cannot be reached;
// ALIGN_SKIP_OLLAMA=1 skips them, loudly.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/fs/ggml"
)

const testModel = "stories260k"

func skipWithoutOllama(t testing.TB) {
	t.Helper()
	if os.Getenv("ALIGN_SKIP_OLLAMA") == "1" {
		msg := "######## ALIGN_SKIP_OLLAMA=1: SKIPPING " + t.Name() + ", an integration test against a real Ollama server ########"
		fmt.Fprintln(os.Stderr, msg)
		t.Skip(msg)
	}
}

// serverPool returns a pool on $OLLAMA_HOST, failing the test when it does not answer.
func serverPool(t testing.TB, opt PoolOptions) *Pool {
	t.Helper()
	skipWithoutOllama(t)
	p, err := NewPool(nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, st := range p.Check(ctx) {
		if st.Error != "" {
			t.Fatalf("no Ollama server: %s (set ALIGN_SKIP_OLLAMA=1 to skip the integration tests)", st.Error)
		}
	}
	if err := p.Require(ctx, testModel); err != nil {
		t.Fatalf("%v (run `bash scripts/ollama.sh start`, which imports it)", err)
	}
	return p
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestServerGenerateReproducible(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	opt := PolicyOptions()
	opt.NumPredict = 24
	for _, req := range []GenerateRequest{
		{Model: testModel, Prompt: "Once upon a time", Raw: true, Seed: 1234, Options: opt, Logprobs: true},
		{Model: testModel, Messages: []Message{{Role: "user", Content: "Tom had a dog"}}, Seed: 99, Options: opt, Logprobs: true},
	} {
		a, err := p.Generate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := p.Generate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if a.Text == "" || a.Text != b.Text || a.EvalCount != b.EvalCount {
			t.Errorf("seed %d: not reproducible:\n%q\n%q", req.Seed, a.Text, b.Text)
		}
		if len(a.Logprobs) != len(b.Logprobs) {
			t.Fatalf("logprob counts %d, %d", len(a.Logprobs), len(b.Logprobs))
		}
		for i := range a.Logprobs {
			// The second request may reuse the cached prompt prefix; allow float noise.
			if a.Logprobs[i].Token != b.Logprobs[i].Token || math.Abs(a.Logprobs[i].Logprob-b.Logprobs[i].Logprob) > 1e-4 {
				t.Errorf("token %d: %+v vs %+v", i, a.Logprobs[i], b.Logprobs[i])
			}
		}
		if a.Seed != req.Seed || a.Options.RepeatPenalty != 1 || a.Options.TopK != 0 || a.Host == "" || a.Attempts != 1 {
			t.Errorf("result does not record its settings: %+v", a)
		}
	}
}

// TestServerGreedyGolden checks that the explicit options reach the server: greedy decoding
// with repeat_penalty 1 reproduces llama2.c's documented text, and Ollama's own defaults do not.
func TestServerGreedyGolden(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	doc, err := os.ReadFile("../testdata/models/stories260K.llama2c-doc.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(doc), "-t 0.0\nOnce upon a time")
	res, err := p.Generate(ctx, GenerateRequest{Model: testModel, Prompt: "Once upon a time", Raw: true, Options: GreedyOptions(80)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Text) < 100 || !strings.HasPrefix(after, res.Text) {
		t.Errorf("greedy text is not the documented one:\n got %q\nwant %q", res.Text, after[:min(len(after), len(res.Text)+20)])
	}
	if res.DoneReason != "length" || res.EvalCount != 80 {
		t.Errorf("done_reason %q, eval_count %d; want length, 80", res.DoneReason, res.EvalCount)
	}
	// Ollama's defaults (repeat_penalty 1.1, top_k 40, top_p 0.9) at temperature 0 leave it.
	c := api.NewClient(p.hosts[0].base, p.http)
	var def string
	stream := false
	err = c.Generate(ctx, &api.GenerateRequest{Model: testModel, Prompt: "Once upon a time", Raw: true, Stream: &stream,
		Options: map[string]any{"temperature": 0, "num_predict": 80}}, func(r api.GenerateResponse) error { def += r.Response; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if def == res.Text {
		t.Errorf("Ollama's default penalties gave the greedy text too; the golden check proves nothing")
	}
}

func TestServerLogprobs(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	opt := PolicyOptions()
	opt.NumPredict = 16
	res, err := p.Generate(ctx, GenerateRequest{Model: testModel, Prompt: "The cat", Raw: true, Seed: 5, Options: opt, Logprobs: true, TopLogprobs: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Logprobs) != res.EvalCount || res.EvalCount == 0 {
		t.Fatalf("%d logprobs for %d tokens", len(res.Logprobs), res.EvalCount)
	}
	var text string
	for i, lp := range res.Logprobs {
		text += lp.Token
		if lp.Logprob > 0 || math.IsNaN(lp.Logprob) {
			t.Errorf("token %d logprob %v > 0", i, lp.Logprob)
		}
		if len(lp.Top) != 5 {
			t.Errorf("token %d: %d top logprobs, want 5", i, len(lp.Top))
		}
		sum := 0.0
		for k, a := range lp.Top {
			sum += math.Exp(a.Logprob)
			if a.Logprob > 0 || (k > 0 && a.Logprob > lp.Top[k-1].Logprob) {
				t.Errorf("token %d: top logprobs not ≤ 0 and sorted: %+v", i, lp.Top)
			}
		}
		if sum > 1+1e-4 {
			t.Errorf("token %d: top-5 probabilities sum to %v > 1", i, sum)
		}
		// The sampled token may fall outside the top 5 at temperature 1; it can never beat the best.
		if lp.Logprob > lp.Top[0].Logprob+1e-6 {
			t.Errorf("token %d: %q (%v) is more likely than the top alternative %+v", i, lp.Token, lp.Logprob, lp.Top[0])
		}
		for _, a := range lp.Top {
			if a.Token == lp.Token && math.Abs(a.Logprob-lp.Logprob) > 1e-6 {
				t.Errorf("token %d: %q has logprob %v, but %v in its top list", i, lp.Token, lp.Logprob, a.Logprob)
			}
		}
	}
	if text != res.Text {
		t.Errorf("tokens %q do not spell the text %q", text, res.Text)
	}
	// Greedy: the chosen token is the most likely one.
	g, err := p.Generate(ctx, GenerateRequest{Model: testModel, Prompt: "The cat", Raw: true, Options: GreedyOptions(8), Logprobs: true, TopLogprobs: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, lp := range g.Logprobs {
		if lp.Token != lp.Top[0].Token {
			t.Errorf("greedy token %d is %q, but the most likely is %q", i, lp.Token, lp.Top[0].Token)
		}
	}
}

func TestServerSampleJobDistinctAndResume(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 2*time.Minute)
	opt := PolicyOptions()
	opt.NumPredict = 20
	out := filepath.Join(t.TempDir(), "samples.jsonl")
	job := SampleJob{Model: testModel, K: 4, Seed: 7, Options: opt, Raw: true, Out: out, Logprobs: true,
		Prompts: []Prompt{{ID: "a", Prompt: "Once upon a time"}, {ID: "b", Prompt: "Lily saw a"}, {ID: "c", Messages: []Message{{Role: "user", Content: "Tim"}}}}}
	var calls int
	sum, err := job.Run(ctx, p, func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 12 || sum.Existing != 0 || calls != 12 || sum.Total != 12 {
		t.Fatalf("summary %+v, %d progress calls", sum, calls)
	}
	rows, err := ReadSamples(out)
	if err != nil {
		t.Fatal(err)
	}
	byPrompt := map[string]map[string]bool{}
	seeds := map[string]map[int64]bool{}
	orig := map[sampleKey]SampleRow{}
	for _, r := range rows {
		if byPrompt[r.PromptID] == nil {
			byPrompt[r.PromptID], seeds[r.PromptID] = map[string]bool{}, map[int64]bool{}
		}
		byPrompt[r.PromptID][r.Response] = true
		seeds[r.PromptID][r.Seed] = true
		orig[sampleKey{r.PromptID, r.Sample}] = r
		if r.Options.RepeatPenalty != 1 || r.Options.TopP != 1 || r.DoneReason == "" || r.EvalCount == 0 || len(r.Logprobs) != r.EvalCount {
			t.Errorf("row does not record its settings and counts: %+v", r)
		}
		if r.Seed != SampleSeeds(7, r.PromptID, 4)[r.Sample] {
			t.Errorf("row %s/%d seed %d is not its recorded seed", r.PromptID, r.Sample, r.Seed)
		}
	}
	for id, texts := range byPrompt {
		if len(texts) != 4 || len(seeds[id]) != 4 {
			t.Errorf("prompt %s: %d distinct texts and %d distinct seeds among 4 samples", id, len(texts), len(seeds[id]))
		}
	}
	// A crash mid-line: tear the last row, drop another one entirely, and rerun.
	b, _ := os.ReadFile(out)
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	kept := strings.Join(lines[:len(lines)-2], "") + lines[len(lines)-1][:len(lines[len(lines)-1])/2]
	if err := os.WriteFile(out, []byte(kept), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err = job.Run(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Existing != 10 || sum.Written != 2 || sum.TornBytes == 0 {
		t.Errorf("resume summary %+v; want 10 existing, 2 written, a torn line dropped", sum)
	}
	rows, err = ReadSamples(out)
	if err != nil || len(rows) != 12 {
		t.Fatalf("%d rows after resume (%v)", len(rows), err)
	}
	for _, r := range rows {
		if o := orig[sampleKey{r.PromptID, r.Sample}]; o.Response != r.Response {
			t.Errorf("%s/%d: re-asked row differs from the first run with the same seed:\n%q\n%q", r.PromptID, r.Sample, o.Response, r.Response)
		}
	}
	// Nothing left to ask: no request at all.
	sum, err = job.Run(ctx, p, nil)
	if err != nil || sum.Written != 0 || sum.Existing != 12 {
		t.Errorf("complete rerun: %+v %v", sum, err)
	}
	// A job with other options refuses to mix its rows into the file.
	job2 := job
	job2.Options.Temperature = 0.5
	if _, err := job2.Run(ctx, p, nil); err == nil || !strings.Contains(err.Error(), "another output file") {
		t.Errorf("mixing options into one file: %v", err)
	}
}

func TestServerMissingModel(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	_, err := p.Generate(ctx, GenerateRequest{Model: "no-such-model-xyz", Prompt: "x", Options: GreedyOptions(1)})
	if !errors.Is(err, ErrModelNotFound) || !strings.Contains(err.Error(), "align export") {
		t.Errorf("missing model: %v", err)
	}
	_, err = p.Show(ctx, "no-such-model-xyz")
	if !errors.Is(err, ErrModelNotFound) {
		t.Errorf("show missing model: %v", err)
	}
	_, err = SampleJob{Model: "no-such-model-xyz", K: 1, Options: GreedyOptions(1), Out: filepath.Join(t.TempDir(), "s.jsonl"),
		Prompts: []Prompt{{ID: "a", Prompt: "x"}}}.Run(ctx, p, nil)
	if !errors.Is(err, ErrModelNotFound) {
		t.Errorf("sample job with a missing model: %v", err)
	}
}

func TestServerHealth(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	v, err := p.Version(ctx)
	if err != nil || v == "" || v == "0.0.0" {
		t.Errorf("version %q %v", v, err)
	}
	models, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range models {
		found = found || sameModel(m.Name, testModel)
	}
	if !found {
		t.Errorf("%s not in %+v", testModel, models)
	}
	info, err := p.Show(ctx, testModel)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Digest) != 64 || info.Size < 1_000_000 || info.Family != "llama" {
		t.Errorf("show: %+v", info)
	}
	// The server runs on this machine: its blob is the very file we imported.
	src, _ := os.Stat("../testdata/models/stories260K.gguf")
	if st, err := os.Stat(info.BlobPath); err != nil || src == nil || st.Size() != src.Size() {
		t.Errorf("blob path %q: %v", info.BlobPath, err)
	}
}

// writeTestGGUF rewrites stories260K.gguf with a new general.name through fs/ggml.WriteGGUF,
// so that its digest is new to the server.
func writeTestGGUF(t *testing.T, path, name string) {
	t.Helper()
	f, err := os.Open("../testdata/models/stories260K.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	kv := g.KV()
	kv["general.name"] = name
	ts := g.Tensors()
	var out []*ggml.Tensor
	for _, tt := range ts.Items() {
		tt.WriterTo = sectionWriterTo{io.NewSectionReader(f, int64(ts.Offset+tt.Offset), int64(tt.Size()))}
		out = append(out, tt)
	}
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ggml.WriteGGUF(w, kv, out); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

type sectionWriterTo struct{ r *io.SectionReader }

func (s sectionWriterTo) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, s.r) }

func TestServerCreateGenerateDelete(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	name := fmt.Sprintf("align-test-%d", time.Now().UnixNano())
	path := filepath.Join(t.TempDir(), "m.gguf")
	writeTestGGUF(t, path, name)
	res, err := p.Create(ctx, CreateRequest{Name: name, GGUF: path, Template: "{{ .Prompt }}", Parameters: map[string]any{"num_ctx": 256, "num_thread": 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Delete(context.Background(), name) })
	want, err := hashFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs[path] != want || len(res.Digest) != 64 || res.Size < 1_000_000 || res.Name != name {
		t.Errorf("create result %+v (blob digest want %s)", res, want)
	}
	info, err := p.Show(ctx, name)
	if err != nil || !strings.Contains(info.Parameters, "num_ctx") {
		t.Errorf("created model: %+v %v", info, err)
	}
	// The rewritten model generates what the original does (same weights).
	a, err := p.Generate(ctx, GenerateRequest{Model: name, Prompt: "Once upon a time", Raw: true, Options: GreedyOptions(20)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Generate(ctx, GenerateRequest{Model: testModel, Prompt: "Once upon a time", Raw: true, Options: GreedyOptions(20)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Text == "" || a.Text != b.Text {
		t.Errorf("created model says %q, original %q", a.Text, b.Text)
	}
	// From + a missing base: a clear error.
	if _, err := p.Create(ctx, CreateRequest{Name: name + "-x", From: "no-such-base-xyz"}); err == nil {
		t.Errorf("create from a missing base succeeded")
	}
	if err := p.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Show(ctx, name); !errors.Is(err, ErrModelNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if err := p.Delete(ctx, name); err != nil {
		t.Errorf("deleting a missing model: %v", err)
	}
}

// TestServerJudgeRealModel judges with stories260k, which cannot follow a judge prompt: its
// answers must come back as invalid games with their raw text, never as guessed labels.
func TestServerJudgeRealModel(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	opt := GreedyOptions(24)
	for _, name := range []string{"mt-bench/pair-v2", "arena-hard", "alpaca_eval_clf"} {
		tpl, err := Template(name)
		if err != nil {
			t.Fatal(err)
		}
		o := tpl.Options
		if o.NumPredict > 24 {
			o = opt
		}
		j, err := JudgePair(ctx, p, JudgeRequest{Judge: testModel, Template: tpl, Instruction: "Tell a story.",
			Output1: "Once upon a time there was a cat.", Output2: "No.", Attempts: 2, Options: &o, Seed: 3})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(j.Games) != 2 || j.Games[0].Swapped || !j.Games[1].Swapped {
			t.Fatalf("%s: games %+v", name, j.Games)
		}
		for _, g := range j.Games {
			// Whatever the model said, the verdict is what the parser reads in the raw text.
			res := GenerateResult{Text: g.Raws[len(g.Raws)-1]}
			if tpl.Parser != ParserLogprobMM && tpl.Parse(res).Valid != g.Verdict.Valid {
				t.Errorf("%s: verdict %+v disagrees with parsing its raw text", name, g.Verdict)
			}
			if !g.Verdict.Valid {
				if g.Attempts != 2 || len(g.Raws) != 2 || !math.IsNaN(g.Preference) || g.Verdict.Raw != g.Raws[1] {
					t.Errorf("%s: invalid game should keep both raw answers and a NaN preference: %+v", name, g)
				}
			}
			t.Logf("%s swapped=%v valid=%v label=%q raws=%q", name, g.Swapped, g.Verdict.Valid, g.Verdict.Label, g.Raws)
		}
		if j.Valid == math.IsNaN(j.Preference) {
			t.Errorf("%s: judgment valid=%v with preference %v", name, j.Valid, j.Preference)
		}
	}
	// Single-answer templates too.
	tpl, _ := Template("mt-bench/single-v1")
	o := GreedyOptions(16)
	g, err := JudgeSingle(ctx, p, SingleRequest{Judge: testModel, Template: tpl, Instruction: "Tell a story.", Response: "A cat.", Attempts: 2, Options: &o})
	if err != nil {
		t.Fatal(err)
	}
	if g.Verdict.Valid != ParseRating(g.Verdict.Raw).Valid || len(g.Raws) == 0 {
		t.Errorf("single: %+v", g)
	}
	// Identical outputs: 1.5 without asking.
	j, err := JudgePair(ctx, p, JudgeRequest{Judge: "no-such-judge", Template: tpl2(t, "arena-hard"), Output1: "same", Output2: "same"})
	if err != nil || j.Preference != 1.5 || !j.Identical {
		t.Errorf("identical outputs: %+v %v", j, err)
	}
}

func tpl2(t *testing.T, name string) JudgeTemplate {
	tp, err := Template(name)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// TestServerContextSpacePrefix records the SentencePiece pitfall: the llama.cpp runner adds the
// dummy space prefix, so the server's token ids for "Once upon a time" are those of
// " Once upon a time" ([403 407 261 378], RUNTIME.md), not the Go tokenizer's plain encoding
// ([441 416 331 407 261 378] after BOS). Context (prompt + output ids) comes with non-raw
// /api/generate only.
func TestServerContextSpacePrefix(t *testing.T) {
	p := serverPool(t, PoolOptions{})
	ctx := testCtx(t, 3*time.Minute)
	res, err := p.Generate(ctx, GenerateRequest{Model: testModel, Prompt: "Once upon a time", Options: GreedyOptions(5)})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{403, 407, 261, 378}
	if len(res.Context) != len(want)+res.EvalCount || !slices.Equal(res.Context[:len(want)], want) {
		t.Errorf("context %v (eval_count %d), want prompt ids %v then the output's", res.Context, res.EvalCount, want)
	}
	raw, err := p.Generate(ctx, GenerateRequest{Model: testModel, Prompt: "Once upon a time", Raw: true, Options: GreedyOptions(5)})
	if err != nil {
		t.Fatal(err)
	}
	if raw.Text != res.Text || raw.Context != nil {
		t.Errorf("raw: %q with context %v; templated: %q", raw.Text, raw.Context, res.Text)
	}
}
