package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// Message is one chat turn. It has the same fields as data.Message, so either converts to the
// other with a plain conversion.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Options are the sampling settings sent with every request. All of them are sent explicitly,
// because Ollama's own defaults (repeat_penalty 1.1, top_k 40, top_p 0.9) are not the model's
// distribution: see docs/runtime.md.
type Options struct {
	Temperature float64 `json:"temperature"`
	// TopP is nucleus sampling; 0 is taken as 1 (off).
	TopP float64 `json:"top_p"`
	// TopK is top-k sampling; 0 is off.
	TopK int `json:"top_k"`
	// MinP is min-p sampling; 0 is off.
	MinP float64 `json:"min_p"`
	// RepeatPenalty is Ollama's repetition penalty; 0 is taken as 1 (off).
	RepeatPenalty float64 `json:"repeat_penalty"`
	// NumPredict is the most tokens to generate. It must be ≥ 1: Ollama reads 0 as unlimited.
	NumPredict int `json:"num_predict"`
	// Stop sequences end the generation (done_reason "stop").
	Stop []string `json:"stop,omitempty"`
	// NumCtx, when > 0, sets the context window.
	NumCtx int `json:"num_ctx,omitempty"`
	// NumThread, when > 0, sets the runner's threads (a change reloads the model).
	NumThread int `json:"num_thread,omitempty"`
}

// PolicyOptions samples from the model's own distribution: temperature 1, top_p 1, top_k 0,
// min_p 0, repeat_penalty 1, num_predict 256. On-policy methods need exactly this.
func PolicyOptions() Options {
	return Options{Temperature: 1, TopP: 1, RepeatPenalty: 1, NumPredict: 256}
}

// GreedyOptions is the argmax decoder (temperature 0, no penalties) with num_predict n.
func GreedyOptions(n int) Options {
	return Options{Temperature: 0, TopP: 1, RepeatPenalty: 1, NumPredict: n}
}

// normalized fills the "0 means off" fields and checks the rest.
func (o Options) normalized() (Options, error) {
	if o.TopP == 0 {
		o.TopP = 1
	}
	if o.RepeatPenalty == 0 {
		o.RepeatPenalty = 1
	}
	if len(o.Stop) == 0 {
		o.Stop = nil
	}
	switch {
	case o.NumPredict < 1:
		return o, fmt.Errorf("runtime: num_predict must be ≥ 1 (got %d; Ollama reads 0 as unlimited)", o.NumPredict)
	case o.Temperature < 0:
		return o, fmt.Errorf("runtime: temperature must be ≥ 0 (got %g)", o.Temperature)
	case o.TopP < 0 || o.TopP > 1:
		return o, fmt.Errorf("runtime: top_p must be in (0, 1] (got %g)", o.TopP)
	case o.TopK < 0 || o.MinP < 0 || o.MinP > 1 || o.RepeatPenalty < 0:
		return o, fmt.Errorf("runtime: bad sampling options %+v", o)
	}
	return o, nil
}

func (o Options) apiMap(seed int64) map[string]any {
	m := map[string]any{
		"seed":           seed,
		"temperature":    o.Temperature,
		"top_p":          o.TopP,
		"top_k":          o.TopK,
		"min_p":          o.MinP,
		"repeat_penalty": o.RepeatPenalty,
		"num_predict":    o.NumPredict,
	}
	if len(o.Stop) > 0 {
		m["stop"] = o.Stop
	}
	if o.NumCtx > 0 {
		m["num_ctx"] = o.NumCtx
	}
	if o.NumThread > 0 {
		m["num_thread"] = o.NumThread
	}
	return m
}

// GenerateRequest is one generation. With Messages set it goes to /api/chat (the model's chat
// template applies); otherwise to /api/generate with Prompt, through the model's template
// unless Raw.
type GenerateRequest struct {
	Model    string
	Prompt   string
	System   string
	Messages []Message
	// Raw sends Prompt to the model with no template (raw completion).
	Raw     bool
	Seed    int64
	Options Options
	// Logprobs asks for the log-probability of each generated token, and TopLogprobs (0–20)
	// for that many alternatives at each position.
	Logprobs    bool
	TopLogprobs int
	// Format, when set, is sent as Ollama's `format`: "json" (quoted) or a JSON schema that
	// constrains the answer (structured outputs; grammar-constrained sampling on the llama.cpp
	// runner). See StructuredFormat for judge verdicts.
	Format json.RawMessage
}

// TopLogprob is one alternative token at a position.
type TopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
}

// TokenLogprob is a generated token, its log-probability under the model (before Ollama's
// penalties) and, when asked, the most likely alternatives, most likely first.
type TokenLogprob struct {
	Token   string       `json:"token"`
	Logprob float64      `json:"logprob"`
	Top     []TopLogprob `json:"top_logprobs,omitempty"`
}

// GenerateResult is the answer to one GenerateRequest.
type GenerateResult struct {
	Model      string `json:"model"`
	Text       string `json:"response"`
	DoneReason string `json:"done_reason"`
	// PromptEvalCount is the prompt tokens evaluated (fewer when a cached prefix was reused);
	// EvalCount the tokens generated.
	PromptEvalCount int `json:"prompt_eval_count"`
	EvalCount       int `json:"eval_count"`
	// PromptEvalDuration is the server's time evaluating the prompt (prompt_eval_duration).
	PromptEvalDuration time.Duration `json:"prompt_eval_duration_ns,omitempty"`
	// Context holds the token ids, prompt then output, when the server returns them
	// (/api/generate without raw).
	Context  []int          `json:"context,omitempty"`
	Logprobs []TokenLogprob `json:"logprobs,omitempty"`
	Seed     int64          `json:"seed"`
	Options  Options        `json:"options"`
	// Host answered; Attempts it took; Duration is the server's total_duration.
	Host     string        `json:"host"`
	Attempts int           `json:"attempts"`
	Duration time.Duration `json:"total_duration_ns"`
}

// Generate runs one generation on the pool, with retries. The options are validated first
// (num_predict ≥ 1). A model the server lacks gives an error wrapping ErrModelNotFound.
func (p *Pool) Generate(ctx context.Context, req GenerateRequest) (GenerateResult, error) {
	opt, err := req.Options.normalized()
	if err != nil {
		return GenerateResult{}, err
	}
	if req.Model == "" {
		return GenerateResult{}, fmt.Errorf("runtime: generate: no model given")
	}
	if req.TopLogprobs < 0 || req.TopLogprobs > 20 {
		return GenerateResult{}, fmt.Errorf("runtime: top_logprobs must be in [0, 20] (got %d)", req.TopLogprobs)
	}
	res := GenerateResult{Model: req.Model, Seed: req.Seed, Options: opt}
	what := fmt.Sprintf("runtime: generate %s", req.Model)
	if len(req.Messages) > 0 {
		what = fmt.Sprintf("runtime: chat %s", req.Model)
	}
	host, attempts, err := p.do(ctx, what, func(ctx context.Context, h *poolHost) error {
		r, err := generateOnce(ctx, h, req, opt)
		if err != nil {
			return modelNotFound(req.Model, err)
		}
		r.Model, r.Seed, r.Options = req.Model, req.Seed, opt
		res = r
		return nil
	})
	res.Host, res.Attempts = host, attempts
	return res, err
}

var streamOff = false

// generateOnce is one attempt on one server. It posts a non-streaming request with the api
// package's types itself rather than through api.Client.Generate/Chat, which allocate an 8 MB
// line buffer per call (about 2 ms of CPU each: see BenchmarkPoolOverhead); the error
// semantics are the client's (api.StatusError with the server's message).
func generateOnce(ctx context.Context, h *poolHost, req GenerateRequest, opt Options) (GenerateResult, error) {
	var res GenerateResult
	if len(req.Messages) > 0 {
		msgs := make([]api.Message, 0, len(req.Messages)+1)
		if req.System != "" {
			msgs = append(msgs, api.Message{Role: "system", Content: req.System})
		}
		for _, m := range req.Messages {
			msgs = append(msgs, api.Message{Role: m.Role, Content: m.Content})
		}
		var r api.ChatResponse
		err := h.post(ctx, "/api/chat", &api.ChatRequest{
			Model: req.Model, Messages: msgs, Stream: &streamOff, Options: opt.apiMap(req.Seed),
			Logprobs: req.Logprobs, TopLogprobs: req.TopLogprobs, Format: req.Format,
		}, &r)
		if err != nil {
			return res, err
		}
		if !r.Done {
			return res, ErrTruncated
		}
		res.Text, res.DoneReason, res.Logprobs = r.Message.Content, r.DoneReason, appendLogprobs(nil, r.Logprobs)
		res.PromptEvalCount, res.EvalCount, res.Duration = r.PromptEvalCount, r.EvalCount, r.TotalDuration
		res.PromptEvalDuration = r.PromptEvalDuration
		return res, nil
	}
	var r api.GenerateResponse
	err := h.post(ctx, "/api/generate", &api.GenerateRequest{
		Model: req.Model, Prompt: req.Prompt, System: req.System, Raw: req.Raw, Stream: &streamOff,
		Options: opt.apiMap(req.Seed), Logprobs: req.Logprobs, TopLogprobs: req.TopLogprobs, Format: req.Format,
	}, &r)
	if err != nil {
		return res, err
	}
	if !r.Done {
		return res, ErrTruncated
	}
	res.Text, res.DoneReason, res.Context, res.Logprobs = r.Response, r.DoneReason, r.Context, appendLogprobs(nil, r.Logprobs)
	res.PromptEvalCount, res.EvalCount, res.Duration = r.PromptEvalCount, r.EvalCount, r.TotalDuration
	res.PromptEvalDuration = r.PromptEvalDuration
	return res, nil
}

// post sends body as JSON to h's path and decodes the one JSON answer into out. A status of
// 400 or more gives an api.StatusError carrying the server's "error" message.
func (h *poolHost) post(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base.JoinPath(path).String(), bytes.NewReader(b))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	resp, err := h.http.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= http.StatusBadRequest {
		se := api.StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			se.ErrorMessage = e.Error
		} else {
			se.ErrorMessage = strings.TrimSpace(string(data))
		}
		return se
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: bad answer (%v): %.200q", ErrTruncated, err, data)
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return fmt.Errorf("runtime: server error: %s", e.Error)
	}
	return nil
}

func appendLogprobs(dst []TokenLogprob, src []api.Logprob) []TokenLogprob {
	for _, lp := range src {
		t := TokenLogprob{Token: lp.Token, Logprob: lp.Logprob}
		for _, a := range lp.TopLogprobs {
			t.Top = append(t.Top, TopLogprob{Token: a.Token, Logprob: a.Logprob})
		}
		dst = append(dst, t)
	}
	return dst
}
