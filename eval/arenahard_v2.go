package eval

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/alignkit/align/runtime"
)

// Arena-Hard-Auto v2's data layout, read as is:
//
//	DIR/question.jsonl                      {uid, category, subcategory, prompt}
//	DIR/model_answer/<model>.jsonl          {uid, ans_id, model, messages, tstamp, metadata}
//	DIR/model_judgment/<judge>/<model>.jsonl {uid, category, judge, model, baseline, games}
//
// metadata is add_markdown_info.py's {token_len, header_count, list_count, bold_count}; games
// are two {score, judgment, prompt}: game 1 with the baseline as A, game 2 swapped.

// ArenaHardV2Baselines is utils/judge_utils.py's JUDGE_SETTINGS baseline per category.
var ArenaHardV2Baselines = map[string]string{
	"hard_prompt":      "o3-mini-2025-01-31",
	"coding":           "o3-mini-2025-01-31",
	"math":             "o3-mini-2025-01-31",
	"creative_writing": "gemini-2.0-flash-001",
	"arena-hard-v0.1":  "gpt-4-0314",
}

// IsArenaHardV2Dir says whether dir has Arena-Hard v2's model_judgment/ and model_answer/.
func IsArenaHardV2Dir(dir string) bool {
	for _, sub := range []string{"model_judgment", "model_answer"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err != nil || !st.IsDir() {
			return false
		}
	}
	return true
}

type arenaV2Answer struct {
	UID      string `json:"uid"`
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Metadata *StyleMeta `json:"metadata"`
}

// answer is the last message's content.answer (or a plain string content).
func (a arenaV2Answer) answer() string {
	if len(a.Messages) == 0 {
		return ""
	}
	c := a.Messages[len(a.Messages)-1].Content
	var obj struct {
		Answer string `json:"answer"`
	}
	if json.Unmarshal(c, &obj) == nil && obj.Answer != "" {
		return obj.Answer
	}
	var s string
	json.Unmarshal(c, &s)
	return s
}

type arenaV2Judgment struct {
	UID      string `json:"uid"`
	Category string `json:"category"`
	Judge    string `json:"judge"`
	Model    string `json:"model"`
	Baseline string `json:"baseline"`
	Games    []*struct {
		Score *string `json:"score"`
	} `json:"games"`
}

// ReadArenaHardV2 reads an Arena-Hard v2 data directory into style battles: the judgments of
// the given judges (every judge under model_judgment/ when none), each row's two games turned
// into scores as load_judgments does (weight 3 for strong verdicts; a row with a null game
// or score is dropped and counted), and the answers' style metadata (computed by StyleOf
// when an answer file has none). The baseline is the row's own, else JUDGE_SETTINGS'.
func ReadArenaHardV2(dir string, judges []string, weight int) (battles []StyleBattle, dropped int, err error) {
	if weight <= 0 {
		weight = 3
	}
	answers := map[string]map[string]StyleMeta{}
	files, _ := filepath.Glob(filepath.Join(dir, "model_answer", "*.jsonl"))
	sort.Strings(files)
	for _, f := range files {
		_, err := runtime.ScanAppendLog(f, func(b []byte) error {
			var a arenaV2Answer
			if err := json.Unmarshal(b, &a); err != nil {
				return fmt.Errorf("not an Arena-Hard answer {uid, model, messages, metadata}: %w", err)
			}
			if a.UID == "" || a.Model == "" {
				return fmt.Errorf("column uid or model: missing")
			}
			m := StyleOf(a.answer())
			if a.Metadata != nil {
				m = *a.Metadata
			}
			if answers[a.Model] == nil {
				answers[a.Model] = map[string]StyleMeta{}
			}
			answers[a.Model][a.UID] = m
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("eval: arena-hard answers: %w", err)
		}
	}
	if len(judges) == 0 {
		ents, err := os.ReadDir(filepath.Join(dir, "model_judgment"))
		if err != nil {
			return nil, 0, fmt.Errorf("eval: arena-hard judgments: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() {
				judges = append(judges, e.Name())
			}
		}
	}
	for _, judge := range judges {
		jf, _ := filepath.Glob(filepath.Join(dir, "model_judgment", judge, "*.jsonl"))
		if len(jf) == 0 {
			return nil, 0, fmt.Errorf("eval: arena-hard: no judgments in %s", filepath.Join(dir, "model_judgment", judge))
		}
		sort.Strings(jf)
		for _, f := range jf {
			_, err := runtime.ScanAppendLog(f, func(b []byte) error {
				var r arenaV2Judgment
				if err := json.Unmarshal(b, &r); err != nil {
					return fmt.Errorf("not an Arena-Hard judgment {uid, category, model, games}: %w", err)
				}
				if len(r.Games) < 2 || r.Games[0] == nil || r.Games[1] == nil || r.Games[0].Score == nil || r.Games[1].Score == nil {
					dropped++
					return nil
				}
				g1, ok1 := arenaV2Scores(*r.Games[0].Score, weight)
				g2, ok2 := arenaV2Scores(*r.Games[1].Score, weight)
				if !ok1 || !ok2 {
					return fmt.Errorf("question %s, model %s: column games[].score: unknown verdict %q / %q", r.UID, r.Model, *r.Games[0].Score, *r.Games[1].Score)
				}
				base := r.Baseline
				if base == "" {
					base = ArenaHardV2Baselines[r.Category]
				}
				if base == "" {
					return fmt.Errorf("question %s: column baseline: missing, and category %q has no default baseline", r.UID, r.Category)
				}
				model := r.Model[strings.LastIndex(r.Model, "/")+1:] // show_result.py drops a model path
				mm, ok := answers[r.Model][r.UID]
				if !ok {
					mm, ok = answers[model][r.UID]
				}
				bm, okb := answers[base][r.UID]
				if !ok || !okb {
					return fmt.Errorf("question %s: no answer metadata of %s or of the baseline %s under model_answer/", r.UID, r.Model, base)
				}
				// label_to_score(game 2) + [1 − s for s in label_to_score(game 1)]
				scores := append([]float64(nil), g2...)
				for _, s := range g1 {
					scores = append(scores, 1-s)
				}
				for _, s := range scores {
					battles = append(battles, StyleBattle{Category: r.Category, UID: r.UID, Model: model, Baseline: base, Score: s, ModelMeta: mm, BaseMeta: bm})
				}
				return nil
			})
			if err != nil {
				return nil, 0, fmt.Errorf("eval: arena-hard judgments: %w", err)
			}
		}
	}
	if len(battles) == 0 {
		return nil, dropped, fmt.Errorf("eval: arena-hard %s: no battles (%d judgments dropped)", dir, dropped)
	}
	return battles, dropped, nil
}

// V2Row is one model of Arena-Hard v2's plain leaderboard (show_result.py without
// --control-features).
type V2Row struct {
	Model string `json:"model"`
	// Score is the mean of the bootstrap means of the model's battle scores against the
	// baseline, Lower and Upper their 5% and 95% quantiles, in percent (print_leaderboard).
	Score float64 `json:"score"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// Mean is the plain mean of the model's battle scores (percent), without resampling.
	Mean    float64 `json:"mean"`
	Battles int     `json:"battles"`
	// AvgTokens is the mean token_len of the model's answers.
	AvgTokens float64 `json:"avg_tokens"`
}

// V2Leaderboard is Arena-Hard v2's plain (not style-controlled) leaderboard of one category.
type V2Leaderboard struct {
	Category string  `json:"category"`
	Baseline string  `json:"baseline"`
	Rows     []V2Row `json:"rows"`
	Battles  int     `json:"battles"`
	Rounds   int     `json:"bootstrap_rounds"`
}

// ArenaHardV2Plain is show_result.py's print_leaderboard per category: each model's battle
// scores (1, 0.5, 0, strong verdicts weighted) are resampled with replacement within the model
// (groupby("model").sample(frac=1, replace=True)) Rounds times (default 100); the score is the
// mean of the bootstrap means, the interval their 5% and 95% quantiles, and the baseline is
// listed at 50. The resampling draws from NumPy's legacy generator seeded with opt.Seed
// (default 42; Arena-Hard leaves pandas' sampling unseeded), the models in sorted order, each
// model's n draws in turn. Battles of the baseline against itself are left out, as in
// StyleControl.
func ArenaHardV2Plain(battles []StyleBattle, opt StyleOptions) ([]*V2Leaderboard, error) {
	if opt.Rounds == 0 {
		opt.Rounds = 100
	}
	if opt.Seed == 0 {
		opt.Seed = 42
	}
	byCat, cats := battlesByCategory(battles)
	if len(cats) == 0 {
		return nil, fmt.Errorf("eval: arena-hard v2 leaderboard: no battles")
	}
	var out []*V2Leaderboard
	for _, c := range cats {
		bs := byCat[c]
		baseline := opt.Baseline
		scores := map[string][]float64{}
		var models []string
		for _, b := range bs {
			if baseline == "" {
				baseline = b.Baseline
			}
			if b.Baseline != baseline {
				return nil, fmt.Errorf("eval: arena-hard v2 leaderboard: category %q has battles against %s and %s; Arena-Hard scores one baseline per category", c, baseline, b.Baseline)
			}
			if _, ok := scores[b.Model]; !ok {
				models = append(models, b.Model)
			}
			scores[b.Model] = append(scores[b.Model], b.Score)
		}
		sort.Strings(models)
		rng := newMT19937(opt.Seed)
		boots := make([][]float64, len(models))
		for r := 0; r < opt.Rounds; r++ {
			for m, name := range models {
				s := scores[name]
				sum := 0.0
				for range s {
					sum += s[rng.boundedMasked(len(s))]
				}
				boots[m] = append(boots[m], sum/float64(len(s)))
			}
		}
		toks := map[string][]float64{}
		seen := map[string]bool{}
		for _, b := range bs {
			for _, mm := range []struct {
				m    string
				meta StyleMeta
			}{{b.Model, b.ModelMeta}, {b.Baseline, b.BaseMeta}} {
				if key := mm.m + "\x00" + b.UID; !seen[key] {
					seen[key] = true
					toks[mm.m] = append(toks[mm.m], float64(mm.meta.TokenLen))
				}
			}
		}
		lb := &V2Leaderboard{Category: c, Baseline: baseline, Battles: len(bs), Rounds: opt.Rounds}
		for m, name := range models {
			lb.Rows = append(lb.Rows, V2Row{Model: name, Score: 100 * mean(boots[m]), Lower: 100 * percentile(boots[m], 5),
				Upper: 100 * percentile(boots[m], 95), Mean: 100 * mean(scores[name]), Battles: len(scores[name]), AvgTokens: mean(toks[name])})
		}
		base := V2Row{Model: baseline, Score: 50, Lower: 50, Upper: 50, Mean: 50, Battles: len(bs)}
		if t := toks[baseline]; len(t) > 0 {
			base.AvgTokens = mean(t)
		}
		lb.Rows = append(lb.Rows, base)
		sort.SliceStable(lb.Rows, func(a, b int) bool {
			if lb.Rows[a].Score != lb.Rows[b].Score {
				return lb.Rows[a].Score > lb.Rows[b].Score
			}
			return lb.Rows[a].Model < lb.Rows[b].Model
		})
		out = append(out, lb)
	}
	return out, nil
}
