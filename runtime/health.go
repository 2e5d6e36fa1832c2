package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
)

// HostStatus is one host's answer to Check.
type HostStatus struct {
	Host    string `json:"host"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ModelInfo describes a model on a server.
type ModelInfo struct {
	Name              string    `json:"name"`
	Digest            string    `json:"digest,omitempty"`
	Size              int64     `json:"size,omitempty"`
	ModifiedAt        time.Time `json:"modified_at,omitzero"`
	Family            string    `json:"family,omitempty"`
	Format            string    `json:"format,omitempty"`
	ParameterSize     string    `json:"parameter_size,omitempty"`
	QuantizationLevel string    `json:"quantization_level,omitempty"`
	// The fields below are filled by Show only.
	Template     string   `json:"template,omitempty"`
	System       string   `json:"system,omitempty"`
	Parameters   string   `json:"parameters,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
	// BlobPath is the GGUF file the server loads (the Modelfile's FROM line), when the server
	// runs on this machine and reports it.
	BlobPath string `json:"blob_path,omitempty"`
	Host     string `json:"host,omitempty"`
}

// Check asks every host for its version, in parallel, once each (no retries), and reports them
// in Hosts order.
func (p *Pool) Check(ctx context.Context) []HostStatus {
	out := make([]HostStatus, len(p.hosts))
	var wg sync.WaitGroup
	for i, h := range p.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, min(p.opt.RequestTimeout, 10*time.Second))
			defer cancel()
			out[i].Host = h.url
			v, err := h.client.Version(cctx)
			if err != nil {
				out[i].Error = fmt.Sprintf("runtime: %s does not answer: %v (start one with `bash scripts/ollama.sh start`, or set OLLAMA_HOST / --ollama)", h.url, err)
				return
			}
			out[i].Version = v
		}()
	}
	wg.Wait()
	return out
}

// Version returns the server version of the first host that answers, with retries.
func (p *Pool) Version(ctx context.Context) (string, error) {
	var v string
	_, _, err := p.do(ctx, "runtime: version", func(ctx context.Context, h *poolHost) error {
		var err error
		v, err = h.client.Version(ctx)
		return err
	})
	return v, err
}

// List returns the models on one host of the pool.
func (p *Pool) List(ctx context.Context) ([]ModelInfo, error) {
	var out []ModelInfo
	_, _, err := p.do(ctx, "runtime: list models", func(ctx context.Context, h *poolHost) error {
		lr, err := h.client.List(ctx)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, m := range lr.Models {
			out = append(out, listInfo(m, h.url))
		}
		return nil
	})
	return out, err
}

func listInfo(m api.ListModelResponse, host string) ModelInfo {
	return ModelInfo{
		Name: m.Name, Digest: m.Digest, Size: m.Size, ModifiedAt: m.ModifiedAt,
		Family: m.Details.Family, Format: m.Details.Format, ParameterSize: m.Details.ParameterSize,
		QuantizationLevel: m.Details.QuantizationLevel, Host: host,
	}
}

// sameModel compares model names the way Ollama does: "x" is "x:latest".
func sameModel(a, b string) bool {
	norm := func(s string) string {
		if !strings.Contains(s[strings.LastIndex(s, "/")+1:], ":") {
			s += ":latest"
		}
		return s
	}
	return norm(a) == norm(b)
}

// Show describes model on one host of the pool: template, parameters, digest, size, blob path.
// A missing model gives an error wrapping ErrModelNotFound that says how to create it.
func (p *Pool) Show(ctx context.Context, model string) (ModelInfo, error) {
	var info ModelInfo
	_, _, err := p.do(ctx, "runtime: show "+model, func(ctx context.Context, h *poolHost) error {
		i, err := showOn(ctx, h, model)
		if err != nil {
			return err
		}
		info = i
		return nil
	})
	return info, err
}

func showOn(ctx context.Context, h *poolHost, model string) (ModelInfo, error) {
	sr, err := h.client.Show(ctx, &api.ShowRequest{Model: model})
	if err != nil {
		return ModelInfo{}, modelNotFound(model, err)
	}
	info := ModelInfo{Name: model, Host: h.url}
	lr, err := h.client.List(ctx)
	if err != nil {
		return ModelInfo{}, err
	}
	for _, m := range lr.Models {
		if sameModel(m.Name, model) {
			info = listInfo(m, h.url)
			break
		}
	}
	info.Template, info.System, info.Parameters = sr.Template, sr.System, sr.Parameters
	info.Family, info.Format = sr.Details.Family, sr.Details.Format
	info.ParameterSize, info.QuantizationLevel = sr.Details.ParameterSize, sr.Details.QuantizationLevel
	for _, c := range sr.Capabilities {
		info.Capabilities = append(info.Capabilities, string(c))
	}
	for _, line := range strings.Split(sr.Modelfile, "\n") {
		if rest, ok := strings.CutPrefix(line, "FROM "); ok {
			info.BlobPath = strings.TrimSpace(rest)
			break
		}
	}
	return info, nil
}

// Require checks that model exists on every host of the pool that answers, so that a job
// fails at once, with instructions, rather than after its first request. A host that does not
// answer is skipped (the pool routes around it); none answering is an error.
func (p *Pool) Require(ctx context.Context, model string) error {
	var down []error
	for _, h := range p.hosts {
		hh := h
		_, _, err := p.doOn(ctx, hh, "runtime: show "+model, func(ctx context.Context) error {
			_, err := showOn(ctx, hh, model)
			return err
		})
		switch {
		case err == nil:
		case ctx.Err() != nil || classify(err) == permanent:
			return err
		default:
			down = append(down, err)
		}
	}
	if len(down) == len(p.hosts) {
		return errors.Join(down...)
	}
	return nil
}

// doOn runs fn against one given host (for per-host operations: Require, Create, Delete),
// retrying transient failures with backoff but ignoring the pool's slots and cooldowns.
func (p *Pool) doOn(ctx context.Context, h *poolHost, what string, fn func(ctx context.Context) error) (string, int, error) {
	var last error
	for attempt := 1; attempt <= p.opt.MaxAttempts; attempt++ {
		actx, cancel := context.WithTimeout(ctx, p.opt.RequestTimeout)
		err := fn(actx)
		cancel()
		if err == nil {
			return h.url, attempt, nil
		}
		err = fmt.Errorf("%s on %s: %w", what, h.url, err)
		if ctx.Err() != nil || classify(err) == permanent {
			return h.url, attempt, err
		}
		last = err
		if attempt == p.opt.MaxAttempts {
			break
		}
		t := time.NewTimer(p.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return h.url, attempt, fmt.Errorf("%s: %w (after: %v)", what, ctx.Err(), last)
		case <-t.C:
		}
	}
	return h.url, p.opt.MaxAttempts, fmt.Errorf("%w: %d attempts: %w", ErrGaveUp, p.opt.MaxAttempts, last)
}
