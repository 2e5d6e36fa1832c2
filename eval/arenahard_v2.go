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
