package pairs

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/alignkit/align/runtime"
)

//go:embed templates/side_by_side6.txt
var sideBySideText string

// SideBySideAttempts bounds the tries of a side-by-side question whose answer does not parse;
// tries after the first sample at temperature 0.7 when the template's is 0, as runtime's judge
// retries do.
const SideBySideAttempts = 3

// SideBySidePrompt renders the side-by-side question for one prompt's candidates.
func SideBySidePrompt(instruction string, cands []string) string {
	var b strings.Builder
	for i, c := range cands {
		if i > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "<response %d>\n%s\n</response %d>", i+1, c, i+1)
	}
	r := strings.NewReplacer("{n}", strconv.Itoa(len(cands)), "{instruction}", instruction, "{responses}", b.String())
	return strings.TrimSpace(r.Replace(sideBySideText))
}

// sideBySideKeys are the keys of the structured answer, response_1 … response_n.
func sideBySideKeys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("response_%d", i+1)
	}
	return out
}

// SideBySideFormat is the JSON schema of a structured side-by-side answer: an object with one
// integer score 0-6 per response, response_1 … response_n, all required, in that order.
func SideBySideFormat(n int) json.RawMessage {
	var b bytes.Buffer
	b.WriteString(`{"type":"object","properties":{`)
	for i, k := range sideBySideKeys(n) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%q:{"type":"integer","enum":[0,1,2,3,4,5,6]}`, k)
	}
	keys, _ := json.Marshal(sideBySideKeys(n))
	fmt.Fprintf(&b, `},"required":%s,"additionalProperties":false}`, keys)
	return b.Bytes()
}

var sideBySideLine = regexp.MustCompile(`(?i)response\s*#?\s*(\d+)\s*[:\-]?\s*(?:\*\*)?\s*score\s*:\s*(\d+)`)

// ParseSideBySide reads n scores from a side-by-side answer: the structured object, or the
// free-text lines "Response <i>: Score: <points>" (the last line for each response counts). A
// score outside 0-6, a missing response or an unreadable answer makes the whole answer invalid
// (nil): the scores of one answer are only meaningful together.
func ParseSideBySide(text string, n int, structured bool) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	if structured {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(strings.TrimSpace(text)), &obj) != nil {
			return nil
		}
		for i, k := range sideBySideKeys(n) {
			var v int
			if json.Unmarshal(obj[k], &v) != nil {
				return nil
			}
			out[i] = float64(v)
		}
	} else {
		for _, m := range sideBySideLine.FindAllStringSubmatch(text, -1) {
			i, err1 := strconv.Atoi(m[1])
			v, err2 := strconv.Atoi(m[2])
			if err1 == nil && err2 == nil && i >= 1 && i <= n {
				out[i-1] = float64(v)
			}
		}
	}
	for _, v := range out {
		if math.IsNaN(v) || v < 0 || v > 6 {
			return nil
		}
	}
	return out
}

// gradeSideBySide grades all candidates of a prompt in one question (retried while the answer
// does not parse), logged under one key.
func (j *LLMJudge) gradeSideBySide(ctx context.Context, instruction string, cands []string) ([]float64, error) {
	parts := append([]string{"side_by_side", j.Model, j.templateKey(), instruction}, cands...)
	key := contentKey(parts...)
	r, err := j.log.do(ctx, judgeTask{key: key, run: func(ctx context.Context) (JudgeRecord, error) {
		o := j.Template.Options
		if j.Options != nil {
			o = *j.Options
		}
		o.NumPredict = max(o.NumPredict, 96*len(cands))
		req := runtime.GenerateRequest{Model: j.Model, Messages: []runtime.Message{{Role: "user", Content: SideBySidePrompt(instruction, cands)}}, Options: o}
		if j.Structured {
			req.Format = SideBySideFormat(len(cands))
			req.Options.NumPredict = max(runtime.StructuredMinPredict, 16*len(cands))
		}
		rec := JudgeRecord{Key: key, Kind: "side_by_side", Judge: j.Model, Template: "side_by_side6 (" + j.Template.Name + " criteria)"}
		seed := j.questionSeed(key)
		for a := range SideBySideAttempts {
			if a > 0 && req.Options.Temperature == 0 {
				req.Options.Temperature = 0.7
			}
			req.Seed = seed + int64(a)
			res, err := j.Pool.Generate(ctx, req)
			if err != nil {
				return rec, fmt.Errorf("pairs: side-by-side judge %s: %w", j.Model, err)
			}
			rec.Raws, rec.Seed = append(rec.Raws, res.Text), req.Seed
			if s := ParseSideBySide(res.Text, len(cands), j.Structured); s != nil {
				rec.Valid = true
				for _, v := range s {
					rec.Scores = append(rec.Scores, ptr(v))
				}
				break
			}
		}
		return rec, nil
	}}, nil)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(cands))
	for i := range out {
		out[i] = math.NaN()
		if r.Valid && i < len(r.Scores) {
			out[i] = val(r.Scores[i])
		}
	}
	return out, nil
}
