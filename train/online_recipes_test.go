package train

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/alignkit/align/recipes"
)

// TestOnlineRecipesAgainstOllama runs one iteration of every online embedded recipe against the
// real server: the policy (stories260K) is pushed to Ollama and sampled there, and the recipes
// that judge ask stories260k on the server as a small judge. stories260k rarely answers in a
// parsable form, so the LLM-judged run checks the protocol (samples from the server, one
// judgment line per comparison, unparsable ones kept with their raw text) and accepts either
// training steps or the "no training pairs" error; each judging recipe then runs again with the
// rule judge, still sampling through Ollama, and must train.
func TestOnlineRecipesAgainstOllama(t *testing.T) {
	host := ollamaHost(t)
	var names []string
	for _, name := range recipes.Names() {
		if r := load(t, name); r.Online.Iterations > 0 && name != "quickstart" {
			names = append(names, name) // quickstart: TestOnlineOllamaSampler
		}
	}
	if len(names) < 4 {
		t.Fatalf("online recipes %v: want at least inpo, dno, apo and hypo", names)
	}
	const prompts, k = 2, 2
	common := []string{"max_steps=1", "per_device_train_batch_size=2", "max_length=48", "max_prompt_length=24",
		"logging_steps=1", "eval.held_out=0", "online.iterations=1", "online.local_sampler=false",
		"dataset.max_samples=" + strconv.Itoa(prompts), "online.samples_per_prompt=" + strconv.Itoa(k), "online.sampling.max_tokens=12"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			judges := load(t, name).Online.Pairs.Rule != "none"
			sets := append([]string{"output.ollama_model=align-test-" + name}, common...)
			if judges {
				sets = append(sets, "online.judge.kind=llm", "online.judge.model=stories260k")
			} else {
				// HyPO's per-step samples are local; its per-iteration mode samples through Ollama.
				sets = append(sets, "online.kl_samples=per_iteration")
			}
			r := load(t, name, sets...)
			base := t.TempDir()
			dir := filepath.Join(base, "llm")
			opt := Options{Recipe: r, RunDir: dir, CacheDir: filepath.Join(base, "cache"), OllamaHosts: []string{host}}
			res, err := Run(context.Background(), opt)
			sd := filepath.Join(dir, "stage-1")
			if !judges {
				// HyPO: no judge; its unlabelled samples come from the server and it trains.
				if err != nil {
					t.Fatal(err)
				}
				checkServerSamples(t, sd, "online-samples.jsonl", prompts, k)
				if res.Steps != 1 || math.IsNaN(res.FinalLoss) {
					t.Errorf("result %+v", res)
				}
				return
			}
			switch {
			case err == nil:
				if res.Steps != 1 || res.Pairs == 0 {
					t.Errorf("the LLM-judged run ended without an error but with %+v", res)
				}
			case strings.Contains(err.Error(), "no training pairs"):
				if ps, _ := readPairFile(filepath.Join(sd, "pairs.jsonl")); len(ps) != 0 {
					t.Errorf("%d pairs in pairs.jsonl, yet the stage had none to train on", len(ps))
				}
			default:
				t.Fatal(err)
			}
			rows := checkServerSamples(t, sd, "samples.jsonl", prompts, k)
			checkJudgments(t, r, filepath.Join(sd, "judgments.jsonl"), rows)

			// The same recipe with a judge that gives verdicts trains after sampling through Ollama.
			rule := load(t, name, append(sets, "online.judge.kind=rule", "online.judge.words=the,and,was,a,he,she,to",
				"online.pairs.min_score=0", "online.pairs.min_gap=1", "online.samples_per_prompt=3", "online.sampling.max_tokens=16")...)
			dir = filepath.Join(base, "rule")
			res, err = Run(context.Background(), Options{Recipe: rule, RunDir: dir, CacheDir: opt.CacheDir, OllamaHosts: []string{host}})
			if err != nil {
				t.Fatal(err)
			}
			checkServerSamples(t, filepath.Join(dir, "stage-1"), "samples.jsonl", prompts, 3)
			if res.Steps != 1 || res.Pairs == 0 || math.IsNaN(res.FinalLoss) {
				t.Errorf("rule-judged run: %+v", res)
			}
		})
	}
}

// checkServerSamples checks that a stage's samples file has a row of k samples for each prompt
// and that they are the ones the server returned (stage-1/ollama-samples.jsonl, written by the
// sampling job), mostly non-empty.
func checkServerSamples(t *testing.T, sd, file string, prompts, k int) []sampleRow {
	t.Helper()
	rows, err := readSampleFile(filepath.Join(sd, file))
	if err != nil || len(rows) != prompts {
		t.Fatalf("%s: %d rows, %v; want %d", file, len(rows), err, prompts)
	}
	f, err := os.Open(filepath.Join(sd, "ollama-samples.jsonl"))
	if err != nil {
		t.Fatalf("no record of sampling through Ollama: %v", err)
	}
	defer f.Close()
	server := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var s struct {
			Response string `json:"response"`
		}
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("ollama-samples.jsonl: %v", err)
		}
		server[s.Response] = true
	}
	nonEmpty := 0
	for _, r := range rows {
		if len(r.Samples) != k {
			t.Fatalf("%s: %d samples for a prompt, want %d", file, len(r.Samples), k)
		}
		for _, s := range r.Samples {
			if !server[s] {
				t.Errorf("%s: sample %q is not among the server's responses", file, s)
			}
			if strings.TrimSpace(s) != "" {
				nonEmpty++
			}
		}
	}
	if nonEmpty < prompts*k/2 {
		t.Errorf("%s: only %d of %d samples are non-empty", file, nonEmpty, prompts*k)
	}
	return rows
}

// checkJudgments replays the recipe's pair rule over the samples with the recorded verdicts:
// every comparison the rule makes must have its line in judgments.jsonl, and there is no other
// line; an unparsable verdict (null) keeps the judge's raw text.
func checkJudgments(t *testing.T, r recipes.Recipe, path string, rows []sampleRow) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("judgments: %v", err)
	}
	defer f.Close()
	lines := map[string]judgeLine{}
	n, invalid := 0, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l judgeLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("judgments.jsonl line %d: %v", n+1, err)
		}
		if _, dup := lines[l.Key]; dup {
			t.Errorf("judgments.jsonl: question %s asked twice", l.Key)
		}
		if l.Value == nil {
			invalid++
			if len(l.Raw) == 0 || strings.TrimSpace(strings.Join(l.Raw, "")) == "" {
				t.Errorf("judgments.jsonl: an unparsable verdict without its raw text: %+v", l)
			}
		}
		lines[l.Key] = l
		n++
	}
	j := r.Online.Judge
	asked := map[string]bool{}
	verdict := func(key string) (float64, bool) {
		asked[key] = true
		l, ok := lines[key]
		if !ok {
			t.Errorf("judgments.jsonl lacks the comparison %s", key)
			return math.NaN(), false
		}
		if l.Value == nil {
			return math.NaN(), true
		}
		return *l.Value, true
	}
	for _, row := range rows {
		instr := row.Prompt[len(row.Prompt)-1].Content
		tk := judgeTemplateKey(j.Template, j.Structured, j.Temperature)
		if r.Online.Pairs.Rule == "rubric" {
			for _, s := range row.candidates() {
				verdict(judgeKey("single", j.Model, tk, instr, s))
			}
			continue
		}
		var cmp func(a, b int) int
		cmp = func(a, b int) int {
			sa, sb := row.Samples[a], row.Samples[b]
			if sb < sa {
				return -cmp(b, a)
			}
			p, _ := verdict(judgeKey("pair", j.Model, tk, instr, sa, sb))
			switch {
			case math.IsNaN(p) || p == 1.5:
				return 0
			case p < 1.5:
				return 1
			}
			return -1
		}
		switch r.Online.Pairs.Rule {
		case "best_vs_worst":
			bestVsWorst(len(row.Samples), cmp)
		case "tournament":
			tournament(len(row.Samples), cmp)
		default:
			t.Fatalf("pair rule %q", r.Online.Pairs.Rule)
		}
	}
	if len(asked) == 0 || len(asked) != n {
		t.Errorf("judgments.jsonl has %d lines for %d comparisons", n, len(asked))
	}
	t.Logf("%s: %d judgments, %d unparsable", r.Name, n, invalid)
}
