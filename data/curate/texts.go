package curate

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/alignkit/align/data"
)

// ReadTexts reads prompts or evaluation questions from a file with data.ReadPromptFile (every
// format it reads: AlpacaEval JSON, MT-Bench and Arena-Hard JSONL, XSTest CSV, JSON/JSONL/
// Parquet prompt rows, preference files, plain text; gzip too), one Text per prompt: the
// prompt's last user turn. A multi-turn benchmark prompt gives one Text per turn
// ("81/turn1", "81/turn2"). A row without an id is "row N" (0-based), a text file's line
// "line N" (1-based). Label is the label column; Category the category column, else type (for
// CSV: type, else category). The source of every text is the file's base name.
func ReadTexts(path string) ([]Text, error) {
	pf, err := data.ReadPromptFile(path, data.Options{})
	if err != nil {
		return nil, fmt.Errorf("curate: %w", err)
	}
	src := filepath.Base(path)
	var out []Text
	for _, p := range pf.Prompts {
		id := p.ID
		if p.IDColumn == "" {
			if pf.Format == data.PromptsText {
				id = "line " + strconv.Itoa(p.Line)
			} else {
				id = "row " + strconv.Itoa(p.Row-1)
			}
		}
		first, second := "category", "type"
		if pf.Format == data.PromptsCSV {
			first, second = "type", "category"
		}
		t := Text{ID: id, Source: src, Text: p.LastUser(), Label: p.Meta["label"], Category: p.Meta[first]}
		if t.Category == "" {
			t.Category = p.Meta[second]
		}
		if len(p.Turns) == 0 {
			out = append(out, t)
			continue
		}
		for i, turn := range p.Turns {
			x := t
			x.ID, x.Text = fmt.Sprintf("%s/turn%d", id, i+1), turn
			out = append(out, x)
		}
	}
	return out, nil
}
