package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/ollama/ollama/api"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// CreateRequest makes a model on every host of the pool from local GGUF files.
type CreateRequest struct {
	// Name of the new model (replaced when it exists).
	Name string
	// GGUF is a full model file. Either GGUF, or From (a model already on the server) with an
	// optional Adapter (a LoRA adapter GGUF; Ollama takes one per model).
	GGUF    string
	From    string
	Adapter string
	// Template (Go text/template, Ollama's TEMPLATE), System and Parameters (stop, num_ctx,
	// temperature, …) as in a Modelfile. Empty means the GGUF's or From's own.
	Template   string
	System     string
	Parameters map[string]any
	// Quantize, e.g. "q8_0" or "q4_K_M", needs an F16/F32 source with general.file_type set.
	Quantize string
	// Progress, when it is a terminal, shows progress bars for hashing and uploading.
	Progress io.Writer
}

// CreateResult describes the created model (on the first host).
type CreateResult struct {
	Name   string   `json:"name"`
	Digest string   `json:"digest"`
	Size   int64    `json:"size"`
	Hosts  []string `json:"hosts"`
	// Blobs maps each uploaded file to its digest ("sha256:…").
	Blobs map[string]string `json:"blobs"`
}

// Create uploads the GGUF blobs (each hashed with SHA-256 while it is read, and skipped on a
// host that already has it), then calls /api/create on every host of the pool.
func (p *Pool) Create(ctx context.Context, req CreateRequest) (CreateResult, error) {
	res := CreateResult{Name: req.Name, Blobs: map[string]string{}}
	switch {
	case req.Name == "":
		return res, errors.New("runtime: create: no model name given")
	case (req.GGUF == "") == (req.From == ""):
		return res, fmt.Errorf("runtime: create %s: give either a GGUF file or a base model (from), not both or neither", req.Name)
	case req.Adapter != "" && req.From == "":
		return res, fmt.Errorf("runtime: create %s: an adapter needs a base model (from)", req.Name)
	}
	var files []string
	if req.GGUF != "" {
		files = append(files, req.GGUF)
	}
	if req.Adapter != "" {
		files = append(files, req.Adapter)
	}
	for _, f := range files {
		d, err := hashFile(f, req.Progress)
		if err != nil {
			return res, err
		}
		res.Blobs[f] = d
	}
	for _, h := range p.hosts {
		for _, f := range files {
			if err := p.uploadBlob(ctx, h, f, res.Blobs[f], req.Progress); err != nil {
				return res, err
			}
		}
		cr := &api.CreateRequest{
			Model: req.Name, From: req.From, Template: req.Template, System: req.System,
			Parameters: req.Parameters, Quantize: req.Quantize, Stream: &streamOff,
		}
		if req.GGUF != "" {
			cr.Files = map[string]string{filepath.Base(req.GGUF): res.Blobs[req.GGUF]}
		}
		if req.Adapter != "" {
			cr.Adapters = map[string]string{filepath.Base(req.Adapter): res.Blobs[req.Adapter]}
		}
		_, _, err := p.doOn(ctx, h, "runtime: create "+req.Name, func(ctx context.Context) error {
			return h.client.Create(ctx, cr, func(api.ProgressResponse) error { return nil })
		})
		if err != nil {
			if req.From != "" {
				err = modelNotFound(req.From, err)
			}
			return res, err
		}
		res.Hosts = append(res.Hosts, h.url)
	}
	info, err := p.Show(ctx, req.Name)
	if err != nil {
		return res, err
	}
	res.Digest, res.Size = info.Digest, info.Size
	return res, nil
}

// Delete removes model from every host of the pool. A host that lacks it is not an error.
func (p *Pool) Delete(ctx context.Context, model string) error {
	for _, h := range p.hosts {
		_, _, err := p.doOn(ctx, h, "runtime: delete "+model, func(ctx context.Context) error {
			err := h.client.Delete(ctx, &api.DeleteRequest{Model: model})
			var se api.StatusError
			if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// newBar returns a progress bar on w when w is a terminal, else nil.
func newBar(w io.Writer, size int64, what string) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(size, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription(what), progressbar.OptionSetWidth(30),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
}

// hashFile streams path through SHA-256 and returns "sha256:<hex>".
func hashFile(path string, progress io.Writer) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("runtime: create: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("runtime: create: %w", err)
	}
	h := sha256.New()
	var w io.Writer = h
	if bar := newBar(progress, st.Size(), "hashing "+filepath.Base(path)); bar != nil {
		w = io.MultiWriter(h, bar)
		defer bar.Finish()
	}
	if _, err := io.Copy(w, f); err != nil {
		return "", fmt.Errorf("runtime: create: read %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// hasBlob asks h whether it already stores digest (HEAD /api/blobs/:digest).
func (p *Pool) hasBlob(ctx context.Context, h *poolHost, digest string) (bool, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodHead, h.base.JoinPath("/api/blobs", digest).String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := p.http.Do(r)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, api.StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
}

// uploadBlob sends path to h as digest unless h has it. The server checks the digest
// against the bytes it receives.
func (p *Pool) uploadBlob(ctx context.Context, h *poolHost, path, digest string, progress io.Writer) error {
	_, _, err := p.doOn(ctx, h, "runtime: upload "+filepath.Base(path), func(ctx context.Context) error {
		ok, err := p.hasBlob(ctx, h, digest)
		if err != nil || ok {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		var r io.Reader = f
		if bar := newBar(progress, st.Size(), "uploading "+filepath.Base(path)); bar != nil {
			r = io.TeeReader(f, bar)
			defer bar.Finish()
		}
		return h.client.CreateBlob(ctx, digest, r)
	})
	return err
}
