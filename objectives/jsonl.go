package objectives

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
)

// ScoreJSONL scores one example per line of r (a JSON object whose fields are exactly
// obj.Inputs(), named as in docs/objectives.md, "Inputs of align objectives score") and writes one line per example to w:
// {"loss": x, "grads": {"pi_w": g, ...}, "metrics": {...}}. Blank lines are skipped. A line
// with a missing, unknown or mistyped field is an error naming the line and the field.
func ScoreJSONL(obj Objective, r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	enc := json.NewEncoder(w)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		in, err := parseExample(obj, text)
		if err != nil {
			return fmt.Errorf("objectives: %s: line %d: %w", obj.Name(), line, err)
		}
		grad := NewGrad(obj, in)
		res, err := obj.Loss(in, grad)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
			return fmt.Errorf("objectives: %s: line %d: loss is not finite (%v)", obj.Name(), line, res.Loss)
		}
		out := scoreLine{Loss: res.Loss, Grads: map[string]any{}, Metrics: res.Metrics}
		for _, name := range obj.Differentiated() {
			if p := grad.Scalar(name); p != nil {
				out.Grads[name] = (*p)[0]
			} else if p := grad.Array(name); p != nil {
				out.Grads[name] = (*p)[0]
			} else if p := grad.Nested(name); p != nil {
				out.Grads[name] = (*p)[0]
			}
		}
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("objectives: %s: line %d: %w", obj.Name(), line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("objectives: %s: read line %d: %w", obj.Name(), line+1, err)
	}
	return nil
}

type scoreLine struct {
	Loss    float64            `json:"loss"`
	Grads   map[string]any     `json:"grads"`
	Metrics map[string]float64 `json:"metrics"`
}

// parseExample decodes one JSON object into a one-example Batch, checking its fields against
// the objective's inputs.
func parseExample(obj Objective, text []byte) (*Batch, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(text, &fields); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	want := obj.Inputs()
	extra := make([]string, 0)
	for k := range fields {
		found := false
		for _, w := range want {
			if k == w {
				found = true
			}
		}
		if !found {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("unexpected field %q (did you mean %q? %s takes %v)", extra[0], closest(extra[0], want), obj.Name(), want)
	}
	in := &Batch{}
	for _, name := range want {
		raw, ok := fields[name]
		if !ok {
			return nil, fmt.Errorf("missing field %q (%s takes %v)", name, obj.Name(), want)
		}
		switch {
		case in.Scalar(name) != nil:
			var v float64
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("field %q: want a number: %w", name, err)
			}
			*in.Scalar(name) = []float64{v}
		case in.Array(name) != nil:
			var v []float64
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("field %q: want an array of numbers: %w", name, err)
			}
			if v == nil {
				v = []float64{}
			}
			*in.Array(name) = [][]float64{v}
		case in.Nested(name) != nil:
			var v [][]float64
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("field %q: want an array of arrays of numbers: %w", name, err)
			}
			*in.Nested(name) = [][][]float64{v}
		}
	}
	return in, nil
}
