package eval

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
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

// ReadPrompts reads evaluation prompts from the files the benchmarks ship:
//   - AlpacaEval model_outputs.json / eval set: a JSON array of {instruction, output?,
//     generator?, dataset?};
//   - MT-Bench question.jsonl: {question_id, category, turns: [q1, q2]} (the first turn is
//     the instruction: align's win rate is single-turn);
//   - Arena-Hard question.jsonl: {question_id|uid, category, turns: [{content}]} or {prompt};
//   - XSTest xstest_prompts.csv: id, prompt, type, label;
//   - any JSONL with "instruction" or "prompt", or a text file with one prompt per line.
//
// data.ReadPrompts reads the file first (its formats, Parquet and gzip included); eval's own
// reader is the fallback for what data does not read (Arena-Hard's turns of {content} objects).
func ReadPrompts(path string) ([]PromptItem, error) {
	ps, derr := data.ReadPrompts(path)
	if derr == nil {
		items := make([]PromptItem, 0, len(ps))
		for _, p := range ps {
			it := PromptItem{ID: p.ID, Output: p.Output, HasOutput: p.Output != "" || p.Meta["generator"] != "",
				Dataset: p.Meta["dataset"], Generator: p.Meta["generator"], Label: p.Meta["label"], Type: p.Meta["type"]}
			if it.Dataset == "" {
				it.Dataset = p.Meta["category"]
			}
			for _, m := range p.Messages { // the last user turn is the instruction
				if m.Role == "user" {
					it.Instruction = m.Content
				}
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
	items, err := readPromptsOwn(path)
	if err != nil {
		return nil, derr
	}
	return items, nil
}

func readPromptsOwn(path string) ([]PromptItem, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eval: prompts: %w", err)
	}
	var items []PromptItem
	trimmed := bytes.TrimSpace(b)
	switch {
	case strings.HasSuffix(path, ".csv"):
		items, err = promptsCSV(b)
	case len(trimmed) > 0 && trimmed[0] == '[':
		var rows []map[string]any
		if err = json.Unmarshal(trimmed, &rows); err == nil {
			for i, r := range rows {
				it, ok := promptFromMap(r, i)
				if !ok {
					return nil, fmt.Errorf("eval: %s item %d: no instruction/prompt/turns field", path, i)
				}
				items = append(items, it)
			}
		}
	case len(trimmed) > 0 && trimmed[0] == '{':
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		line := 0
		for sc.Scan() {
			line++
			l := bytes.TrimSpace(sc.Bytes())
			if len(l) == 0 {
				continue
			}
			var r map[string]any
			if err := json.Unmarshal(l, &r); err != nil {
				return nil, fmt.Errorf("eval: %s line %d: %w", path, line, err)
			}
			it, ok := promptFromMap(r, len(items))
			if !ok {
				return nil, fmt.Errorf("eval: %s line %d: no instruction/prompt/turns field", path, line)
			}
			items = append(items, it)
		}
		err = sc.Err()
	default:
		for i, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				items = append(items, PromptItem{ID: strconv.Itoa(i), Instruction: l})
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("eval: prompts %s: %w", path, err)
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

func promptFromMap(r map[string]any, i int) (PromptItem, bool) {
	str := func(k string) string {
		switch v := r[k].(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
	it := PromptItem{ID: str("id"), Dataset: str("dataset"), Generator: str("generator"), Label: str("label"), Type: str("type")}
	if it.ID == "" {
		it.ID = str("question_id")
	}
	if it.ID == "" {
		it.ID = str("uid")
	}
	if it.Dataset == "" {
		it.Dataset = str("category")
	}
	if o, ok := r["output"].(string); ok {
		it.Output, it.HasOutput = o, true
	}
	switch {
	case str("instruction") != "":
		it.Instruction = str("instruction")
	case str("prompt") != "":
		it.Instruction = str("prompt")
	default:
		turns, _ := r["turns"].([]any)
		if len(turns) == 0 {
			return it, false
		}
		switch t := turns[0].(type) {
		case string:
			it.Instruction = t
		case map[string]any:
			it.Instruction, _ = t["content"].(string)
		}
	}
	return it, it.Instruction != ""
}

func promptsCSV(b []byte) ([]PromptItem, error) {
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("no rows")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimSpace(h)] = i
	}
	pi, ok := col["prompt"]
	if !ok {
		if pi, ok = col["instruction"]; !ok {
			return nil, fmt.Errorf("no prompt or instruction column")
		}
	}
	get := func(r []string, k string) string {
		if i, ok := col[k]; ok && i < len(r) {
			return r[i]
		}
		return ""
	}
	var out []PromptItem
	for _, r := range rows[1:] {
		out = append(out, PromptItem{ID: get(r, "id"), Instruction: r[pi], Label: get(r, "label"), Type: get(r, "type")})
	}
	return out, nil
}
