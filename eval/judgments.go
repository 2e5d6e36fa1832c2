package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/alignkit/align/runtime"
)

// Judgment is one judged pair, one line of judgments.jsonl (EVAL.md, "The judgments file").
// Preference is in [1, 2]: 1 means output_1 is better, 2 means output_2 is better, 1.5 a tie;
// AlpacaEval's legacy 0 also means a tie. NaN (written as JSON null) marks a judge answer that
// could not be parsed: it is kept in the file, counted as invalid, and never silently dropped.
//
// By AlpacaEval's convention output_1/generator_1 is the baseline and output_2/generator_2 the
// evaluated model, and Preference is always expressed in that frame: when the judge was shown
// the outputs in the other order (Swapped), the parsed answer has already been mapped back.
type Judgment struct {
	Instruction string  `json:"instruction"`
	Output1     string  `json:"output_1"`
	Output2     string  `json:"output_2"`
	Generator1  string  `json:"generator_1"`
	Generator2  string  `json:"generator_2"`
	Preference  float64 `json:"-"`
	Judge       string  `json:"judge"`
	Raw         string  `json:"raw"`
	Swapped     bool    `json:"swapped"`
	Dataset     string  `json:"dataset,omitempty"`
	// Template names the judge template (alpaca_eval_clf, mt_bench_pair_v2, arena_hard, ...).
	// Optional; align writes it so that the leaderboard can re-parse Arena-Hard verdicts.
	Template string `json:"template,omitempty"`
	// Style1 and Style2 are the answers' style metadata (length in tokens and markdown counts,
	// Arena-Hard's add_markdown_info.py), for the style-controlled leaderboard. Optional: when
	// absent they are computed from the outputs.
	Style1 *StyleMeta `json:"style_1,omitempty"`
	Style2 *StyleMeta `json:"style_2,omitempty"`
}

type judgmentJSON struct {
	Instruction string     `json:"instruction"`
	Output1     string     `json:"output_1"`
	Output2     string     `json:"output_2"`
	Generator1  string     `json:"generator_1"`
	Generator2  string     `json:"generator_2"`
	Preference  *float64   `json:"preference"`
	Judge       string     `json:"judge"`
	Raw         string     `json:"raw"`
	Swapped     bool       `json:"swapped"`
	Dataset     string     `json:"dataset,omitempty"`
	Template    string     `json:"template,omitempty"`
	Style1      *StyleMeta `json:"style_1,omitempty"`
	Style2      *StyleMeta `json:"style_2,omitempty"`
	// AlpacaEval's annotations.json names the judge "annotator" and its answer
	// "raw_completion" (a string, or an object for logprob judges); read only.
	Annotator     string          `json:"annotator,omitempty"`
	RawCompletion json.RawMessage `json:"raw_completion,omitempty"`
}

// MarshalJSON writes NaN preferences as null (JSON has no NaN).
func (j Judgment) MarshalJSON() ([]byte, error) {
	v := judgmentJSON{Instruction: j.Instruction, Output1: j.Output1, Output2: j.Output2, Generator1: j.Generator1,
		Generator2: j.Generator2, Judge: j.Judge, Raw: j.Raw, Swapped: j.Swapped, Dataset: j.Dataset, Template: j.Template,
		Style1: j.Style1, Style2: j.Style2}
	if !math.IsNaN(j.Preference) && !math.IsInf(j.Preference, 0) {
		p := j.Preference
		v.Preference = &p
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads null or a missing preference as NaN. AlpacaEval's own annotation files
// name the field "preference" too, so they read directly.
func (j *Judgment) UnmarshalJSON(b []byte) error {
	var v judgmentJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*j = Judgment{v.Instruction, v.Output1, v.Output2, v.Generator1, v.Generator2, math.NaN(),
		v.Judge, v.Raw, v.Swapped, v.Dataset, v.Template, v.Style1, v.Style2}
	if v.Preference != nil {
		j.Preference = *v.Preference
	}
	if j.Judge == "" {
		j.Judge = v.Annotator
	}
	if j.Raw == "" && len(v.RawCompletion) > 0 && string(v.RawCompletion) != "null" {
		var str string
		if json.Unmarshal(v.RawCompletion, &str) == nil {
			j.Raw = str
		} else {
			j.Raw = string(v.RawCompletion)
		}
	}
	return nil
}

// Key identifies a judging task: a rerun skips every task whose key is already in the file.
func (j Judgment) Key() string {
	return strings.Join([]string{j.Generator1, j.Generator2, j.Judge, j.Template,
		fmt.Sprint(j.Swapped), j.Instruction, j.Output1, j.Output2}, "\x00")
}

// ReadJudgments reads a judgments.jsonl file, or a JSON array (AlpacaEval's annotations.json).
// A torn last line (a run killed mid-write) is ignored and reported through torn; a malformed
// line anywhere else is an error. Unlike a reopened JudgmentLog, which cuts it, a last line
// without its newline that parses as a judgment is read: files written by other tools may end
// that way.
func ReadJudgments(path string) (js []Judgment, torn bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("eval: read judgments: %w", err)
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &js); err != nil {
			return nil, false, fmt.Errorf("eval: %s: %w", path, err)
		}
		return js, false, nil
	}
	cut, err := runtime.ScanJSONL(bytes.NewReader(b), path, func(line []byte) error {
		var j Judgment
		if err := json.Unmarshal(line, &j); err != nil {
			return err
		}
		js = append(js, j)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("eval: read judgments: %w", err)
	}
	if cut > 0 {
		var j Judgment
		if json.Unmarshal(b[len(b)-int(cut):], &j) == nil {
			return append(js, j), false, nil
		}
		return js, true, nil
	}
	return js, false, nil
}

// ReadJudgmentsDir reads a judgments file, or every judgments file under a directory (in
// name order): files whose name contains "judgments" or "annotations" (.jsonl or .json), so
// that a directory of `align eval win-rate` runs works without picking up their
// outputs/*.jsonl; when there are none, every *.jsonl file. Every record must name both
// generators.
func ReadJudgmentsDir(dir string) ([]Judgment, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("eval: judgments: %w", err)
	}
	var files []string
	if !st.IsDir() {
		files = []string{dir}
	} else {
		var named, any []string
		err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			base := strings.ToLower(filepath.Base(p))
			isJSON := strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".json")
			if isJSON && (strings.Contains(base, "judgments") || strings.Contains(base, "annotations")) {
				named = append(named, p)
			} else if strings.HasSuffix(base, ".jsonl") {
				any = append(any, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("eval: judgments dir %s: %w", dir, err)
		}
		files = named
		if len(files) == 0 {
			files = any
		}
		sort.Strings(files)
	}
	var all []Judgment
	for _, f := range files {
		js, _, err := ReadJudgments(f)
		if err != nil {
			return nil, err
		}
		for i, j := range js {
			if j.Generator1 == "" || j.Generator2 == "" {
				return nil, fmt.Errorf("eval: %s record %d: no generator_1/generator_2: not a judgments file", f, i+1)
			}
		}
		all = append(all, js...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("eval: no judgments in %s (want judgments*.jsonl files)", dir)
	}
	return all, nil
}

// JudgmentLog appends judgments to a file, one JSON line each, and knows which tasks the file
// already holds. It is a runtime.AppendLog: each Append is a single write of a whole line
// followed by fsync, so a killed run leaves at most one torn line, which Open cuts away.
type JudgmentLog struct {
	log  *runtime.AppendLog
	seen map[string]bool
	// Existing holds the judgments that were in the file when it was opened.
	Existing []Judgment
}

// OpenJudgmentLog opens (creating if needed) path for appending.
func OpenJudgmentLog(path string) (*JudgmentLog, error) {
	l := &JudgmentLog{seen: map[string]bool{}}
	log, _, err := runtime.OpenAppendLog(path, func(line []byte) error {
		var j Judgment
		if err := json.Unmarshal(line, &j); err != nil {
			return err
		}
		l.Existing = append(l.Existing, j)
		l.seen[j.Key()] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: judgments: %w", err)
	}
	l.log = log
	return l, nil
}

// Has reports whether the task of j is already judged.
func (l *JudgmentLog) Has(j Judgment) bool { return l.seen[j.Key()] }

// Append writes j as one line.
func (l *JudgmentLog) Append(j Judgment) error {
	if err := l.log.Append(j); err != nil {
		return fmt.Errorf("eval: judgments: %w", err)
	}
	l.seen[j.Key()] = true
	return nil
}

// Close closes the file.
func (l *JudgmentLog) Close() error { return l.log.Close() }

// WriteJudgments writes js to w as JSON lines.
func WriteJudgments(w io.Writer, js []Judgment) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, j := range js {
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return bw.Flush()
}
