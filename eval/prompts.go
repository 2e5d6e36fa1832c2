package eval

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/alignkit/align/data"
	"github.com/alignkit/align/runtime"
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
	// Messages is set for a multi-turn prompt (a message list whose earlier turns include
	// assistant or system messages): the conversation the model answers, through its chat
	// template; Instruction then holds its transcript (see Transcript) for the judge.
	Messages []runtime.Message `json:"messages,omitempty"`
}

// Transcript renders a conversation for a judge's {instruction} in the layout of FastChat's
// multi-turn judge prompts: "### User:\n…\n\n### Assistant:\n…", a system message first as
// "### System:". The model's answer to the last user turn is what is judged.
func Transcript(msgs []runtime.Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		role := strings.ToUpper(m.Role[:1]) + m.Role[1:]
		fmt.Fprintf(&b, "### %s:\n%s", role, m.Content)
	}
	return b.String()
}

// multiTurn says whether msgs is more than one user turn.
func multiTurn(msgs []data.Message) bool {
	return len(msgs) > 1
}

// ReadPrompts reads evaluation prompts with data.ReadPrompts, the one prompt reader (AlpacaEval
// model_outputs.json and eval set, MT-Bench and Arena-Hard question.jsonl, XSTest
// xstest_prompts.csv, any JSON/JSONL/Parquet prompt rows, plain text). The instruction is the
// prompt's last user turn: the first turn for MT-Bench (align's win rate is single-turn), and
// Dataset the dataset column, else category, else the file's name. A multi-turn message list
// keeps its conversation in Messages, and Instruction is then its transcript.
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
		if multiTurn(p.Messages) {
			if last := p.Messages[len(p.Messages)-1]; last.Role != "user" {
				return nil, fmt.Errorf("eval: prompts %s: prompt %s: column messages: the conversation ends with a %s turn; a prompt ends with the user turn to answer", path, p.ID, last.Role)
			}
			for _, m := range p.Messages {
				it.Messages = append(it.Messages, runtime.Message(m))
			}
			it.Instruction = Transcript(it.Messages)
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
