package eval

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/alignkit/align/data"
)

// PromptItem is one evaluation prompt. Output and Generator are set when the file already holds
// a response (AlpacaEval's model_outputs.json), so the file can serve as reference outputs.
type PromptItem struct {
	ID          string `json:"id"`
	Instruction string `json:"instruction"`
	Dataset     string `json:"dataset,omitempty"`
	// Label is XSTest's safe/unsafe; Type its prompt type.
	Label     string `json:"label,omitempty"`
	Type      string `json:"type,omitempty"`
	Output    string `json:"output,omitempty"`
	Generator string `json:"generator,omitempty"`
	HasOutput bool   `json:"-"`
}

// ReadPrompts reads evaluation prompts with data.ReadPrompts, the one prompt reader (AlpacaEval
// model_outputs.json and eval set, MT-Bench and Arena-Hard question.jsonl, XSTest
// xstest_prompts.csv, any JSON/JSONL/Parquet prompt rows, plain text). The instruction is the
// prompt's last user turn: the first turn for MT-Bench (align's win rate is single-turn), and
// Dataset the dataset column, else category, else the file's name.
func ReadPrompts(path string) ([]PromptItem, error) {
	ps, err := data.ReadPrompts(path)
	if err != nil {
		return nil, fmt.Errorf("eval: prompts: %w", err)
	}
	items := make([]PromptItem, 0, len(ps))
	for _, p := range ps {
		it := PromptItem{ID: p.ID, Output: p.Output, HasOutput: p.Output != "" || p.Meta["generator"] != "",
			Dataset: p.Meta["dataset"], Generator: p.Meta["generator"], Label: p.Meta["label"], Type: p.Meta["type"],
			Instruction: p.LastUser()}
		if it.Dataset == "" {
			it.Dataset = p.Meta["category"]
		}
		if it.Instruction == "" {
			return nil, fmt.Errorf("eval: prompts %s: prompt %s has no user turn", path, p.ID)
		}
		items = append(items, it)
	}
	return finishPrompts(path, items)
}

// finishPrompts gives every prompt a unique ID and a dataset (the file's name by default).
func finishPrompts(path string, items []PromptItem) ([]PromptItem, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("eval: prompts %s: no prompts", path)
	}
	seen := map[string]bool{}
	for i := range items {
		if items[i].ID == "" || seen[items[i].ID] {
			items[i].ID = strconv.Itoa(i)
		}
		seen[items[i].ID] = true
		if items[i].Dataset == "" {
			items[i].Dataset = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		}
	}
	return items, nil
}
