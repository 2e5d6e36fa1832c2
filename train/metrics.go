package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
)

// Metrics is one logged line of metrics.jsonl: the optimizer step, the epoch (fractional), and
// named values with TRL's names (loss, learning_rate, grad_norm, rewards/chosen,
// rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected) plus
// tokens/s and elapsed (seconds).
type Metrics struct {
	Step   int                `json:"step"`
	Epoch  float64            `json:"epoch"`
	Values map[string]float64 `json:"-"`
}

// MarshalJSON flattens Values next to step and epoch, keys sorted; non-finite values become
// null (JSON has no NaN).
func (m Metrics) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(m.Values))
	for k := range m.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, `{"step":%d,"epoch":%s`, m.Step, num(m.Epoch))
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		fmt.Fprintf(&b, `,%s:%s`, kb, num(m.Values[k]))
	}
	b.WriteString("}")
	return []byte(b.String()), nil
}

// UnmarshalJSON reads a line written by MarshalJSON.
func (m *Metrics) UnmarshalJSON(data []byte) error {
	var raw map[string]*float64
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	m.Values = map[string]float64{}
	for k, v := range raw {
		f := math.NaN()
		if v != nil {
			f = *v
		}
		switch k {
		case "step":
			m.Step = int(f)
		case "epoch":
			m.Epoch = f
		default:
			m.Values[k] = f
		}
	}
	return nil
}

func num(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "null"
	}
	b, _ := json.Marshal(f)
	return string(b)
}

// MetricsLog appends lines to a metrics.jsonl file.
type MetricsLog struct {
	f *os.File
}

// OpenMetricsLog opens path for appending. When keepThrough >= 0, lines with a step above it
// are dropped first: a resumed run rewinds the log to its checkpoint so no step appears twice.
func OpenMetricsLog(path string, keepThrough int) (*MetricsLog, error) {
	if keepThrough >= 0 {
		old, err := ReadMetrics(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("train: metrics: %w", err)
		}
		l := &MetricsLog{f: f}
		for _, m := range old {
			if m.Step <= keepThrough {
				if err := l.Write(m); err != nil {
					return nil, err
				}
			}
		}
		return l, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("train: metrics: %w", err)
	}
	return &MetricsLog{f: f}, nil
}

// Write appends one line and flushes it to the OS.
func (l *MetricsLog) Write(m Metrics) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *MetricsLog) Close() error { return l.f.Close() }

// ReadMetrics reads a metrics.jsonl file.
func ReadMetrics(path string) ([]Metrics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readMetrics(f)
}

func readMetrics(r io.Reader) ([]Metrics, error) {
	var out []Metrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var m Metrics
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			// A line cut by a kill is the only way to get here; later lines do not exist.
			break
		}
		out = append(out, m)
	}
	return out, sc.Err()
}
