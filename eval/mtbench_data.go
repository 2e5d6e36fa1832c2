package eval

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/alignkit/align/runtime"
)

// MT-Bench's questions and GPT-4 reference answers ship with align (FastChat's
// data/mt_bench/question.jsonl and reference_answer/gpt-4.jsonl, Apache-2.0, unchanged).
//
//go:embed data/mt_bench
var mtBenchFS embed.FS

// QuestionID is a question_id as the file wrote it: a number in MT-Bench (81…160), a string
// in other benchmarks. It writes back in the same form.
type QuestionID struct {
	S      string
	Number bool
}

func (q QuestionID) String() string { return q.S }

// MarshalJSON writes the id as it was read.
func (q QuestionID) MarshalJSON() ([]byte, error) {
	if q.Number {
		return []byte(q.S), nil
	}
	return json.Marshal(q.S)
}

// UnmarshalJSON reads a number or a string.
func (q *QuestionID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		q.Number = false
		return json.Unmarshal(b, &q.S)
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("question_id must be a number or a string, not %s", b)
	}
	q.S, q.Number = n.String(), true
	return nil
}

// MTQuestion is one line of FastChat's question.jsonl.
type MTQuestion struct {
	ID       QuestionID `json:"question_id"`
	Category string     `json:"category"`
	Turns    []string   `json:"turns"`
}

// MTChoice is one completion choice of an answer row: its turns in order.
type MTChoice struct {
	Index int      `json:"index"`
	Turns []string `json:"turns"`
}

// MTAnswer is one line of FastChat's model_answer/<model>.jsonl (gen_model_answer.py): a
// question's answers to every turn. GenerateParams is align's record of how they were made.
type MTAnswer struct {
	QuestionID     QuestionID        `json:"question_id"`
	AnswerID       string            `json:"answer_id"`
	ModelID        string            `json:"model_id"`
	Choices        []MTChoice        `json:"choices"`
	Tstamp         float64           `json:"tstamp"`
	GenerateParams *MTGenerateParams `json:"generate_params,omitempty"`
}

// MTGenerateParams records one answer's generation: the category temperature, the token
// budget, the seed of each turn and the full sampling options sent to Ollama.
type MTGenerateParams struct {
	Temperature float64         `json:"temperature"`
	MaxNewToken int             `json:"max_new_token"`
	Seeds       []int64         `json:"seeds"`
	Options     runtime.Options `json:"options"`
	DoneReasons []string        `json:"done_reasons,omitempty"`
	EvalCounts  []int           `json:"eval_counts,omitempty"`
}

// MTBenchQuestions returns the 80 MT-Bench questions shipped with align.
func MTBenchQuestions() []MTQuestion {
	b, err := mtBenchFS.ReadFile("data/mt_bench/question.jsonl")
	if err != nil {
		panic(err) // embedded at build time
	}
	qs, err := ParseMTQuestions(bytes.NewReader(b), "mt_bench/question.jsonl")
	if err != nil {
		panic(err)
	}
	return qs
}

// MTBenchReferences returns GPT-4's reference answers shipped with align (questions 101–130:
// math, reasoning, coding), by question id.
func MTBenchReferences() map[QuestionID][]string {
	b, err := mtBenchFS.ReadFile("data/mt_bench/reference_answer/gpt-4.jsonl")
	if err != nil {
		panic(err)
	}
	refs, err := ParseMTReferences(bytes.NewReader(b), "mt_bench/reference_answer/gpt-4.jsonl")
	if err != nil {
		panic(err)
	}
	return refs
}

// ReadMTQuestions reads a question file in FastChat's format ({question_id, category,
// turns}); other keys are ignored.
func ReadMTQuestions(path string) ([]MTQuestion, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: questions: %w", err)
	}
	defer f.Close()
	return ParseMTQuestions(f, path)
}

// ParseMTQuestions reads FastChat question lines from r; name names the source in errors,
// which give the line and the field.
func ParseMTQuestions(r io.Reader, name string) ([]MTQuestion, error) {
	var qs []MTQuestion
	seen := map[QuestionID]int{}
	line := 0
	torn, err := runtime.ScanJSONL(r, name, func(b []byte) error {
		line++
		var q MTQuestion
		if err := json.Unmarshal(b, &q); err != nil {
			return fmt.Errorf("not a question {question_id, category, turns}: %w", err)
		}
		switch {
		case q.ID.S == "":
			return fmt.Errorf("column question_id: missing")
		case len(q.Turns) == 0:
			return fmt.Errorf("question %s: column turns: no turns", q.ID)
		}
		for i, t := range q.Turns {
			if t == "" {
				return fmt.Errorf("question %s: column turns[%d]: empty", q.ID, i)
			}
		}
		if prev, ok := seen[q.ID]; ok {
			return fmt.Errorf("question %s: column question_id: repeats question %d", q.ID, prev)
		}
		seen[q.ID] = line
		qs = append(qs, q)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: questions: %w", err)
	}
	if torn > 0 {
		return nil, fmt.Errorf("eval: questions %s: the last line is not complete JSON", name)
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("eval: questions %s: no questions", name)
	}
	return qs, nil
}

// ReadMTReferences reads reference answers in FastChat's model-answer format (the first
// choice's turns, by question id).
func ReadMTReferences(path string) (map[QuestionID][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: reference answers: %w", err)
	}
	defer f.Close()
	return ParseMTReferences(f, path)
}

// ParseMTReferences reads model-answer lines from r as reference answers.
func ParseMTReferences(r io.Reader, name string) (map[QuestionID][]string, error) {
	refs := map[QuestionID][]string{}
	_, err := runtime.ScanJSONL(r, name, func(b []byte) error {
		var a MTAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			return fmt.Errorf("not a model answer {question_id, choices}: %w", err)
		}
		if len(a.Choices) == 0 || len(a.Choices[0].Turns) == 0 {
			return fmt.Errorf("question %s: column choices[0].turns: missing", a.QuestionID)
		}
		refs[a.QuestionID] = a.Choices[0].Turns
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: reference answers: %w", err)
	}
	return refs, nil
}

// mtTemperature is FastChat's temperature_config (common.py); other categories get 0.7.
func mtTemperature(category string) float64 {
	switch category {
	case "writing", "roleplay":
		return 0.7
	case "extraction", "math", "coding", "reasoning":
		return 0
	case "stem", "humanities":
		return 0.1
	}
	return 0.7
}

// mtNeedsReference is FastChat's NEED_REF_CATS.
func mtNeedsReference(category string) bool {
	return category == "math" || category == "reasoning" || category == "coding"
}
