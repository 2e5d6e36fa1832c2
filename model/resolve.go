package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ollama/ollama/api"
)

// Resolved is a model found by Resolve.
type Resolved struct {
	Path string // the GGUF file
	// Template is the Ollama model's own template (its template layer), to pass as
	// LoadOptions.Template; "" for a GGUF path or a raw ("{{ .Prompt }}") model.
	Template string
}

// Resolve turns a GGUF path or an Ollama model name into a GGUF file. A name is looked up
// through the server at ollamaHost (/api/show: the modelfile's FROM line names the blob), and
// when the server cannot answer, through the manifests under $OLLAMA_MODELS (default
// ~/.ollama/models): manifests/registry.ollama.ai/library/NAME/TAG → the layer of media type
// application/vnd.ollama.image.model → blobs/sha256-HEX.
func Resolve(ctx context.Context, nameOrPath, ollamaHost string) (Resolved, error) {
	if st, err := os.Stat(nameOrPath); err == nil && !st.IsDir() {
		return Resolved{Path: nameOrPath}, nil
	}
	if strings.HasSuffix(nameOrPath, ".gguf") {
		return Resolved{}, fmt.Errorf("model: resolve %s: no such file", nameOrPath)
	}
	var serverErr error
	if ollamaHost != "" {
		r, err := resolveServer(ctx, nameOrPath, ollamaHost)
		if err == nil {
			return r, nil
		}
		serverErr = err
	}
	r, err := resolveManifest(nameOrPath)
	if err != nil {
		if serverErr != nil {
			return Resolved{}, fmt.Errorf("model: resolve %s: not a file; server: %v; manifests: %w", nameOrPath, serverErr, err)
		}
		return Resolved{}, fmt.Errorf("model: resolve %s: not a file; manifests: %w", nameOrPath, err)
	}
	return r, nil
}

func rawTemplate(t string) string {
	if strings.TrimSpace(t) == "{{ .Prompt }}" {
		return ""
	}
	return t
}

func resolveServer(ctx context.Context, name, host string) (Resolved, error) {
	if !strings.Contains(host, "://") {
		host = "http://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return Resolved{}, err
	}
	c := api.NewClient(u, http.DefaultClient)
	resp, err := c.Show(ctx, &api.ShowRequest{Model: name})
	if err != nil {
		return Resolved{}, err
	}
	for _, line := range strings.Split(resp.Modelfile, "\n") {
		if rest, ok := strings.CutPrefix(line, "FROM "); ok {
			p := strings.TrimSpace(rest)
			if _, err := os.Stat(p); err != nil {
				return Resolved{}, fmt.Errorf("the server's blob %s is not readable here: %w", p, err)
			}
			return Resolved{Path: p, Template: rawTemplate(resp.Template)}, nil
		}
	}
	return Resolved{}, errors.New("no FROM line in the server's modelfile")
}

func modelsDir() string {
	if d := os.Getenv("OLLAMA_MODELS"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".ollama", "models")
}

func resolveManifest(name string) (Resolved, error) {
	tag := "latest"
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	parts := strings.Split(name, "/")
	switch len(parts) {
	case 1:
		parts = []string{"registry.ollama.ai", "library", parts[0]}
	case 2:
		parts = append([]string{"registry.ollama.ai"}, parts...)
	}
	dir := modelsDir()
	mpath := filepath.Join(append(append([]string{dir, "manifests"}, parts...), tag)...)
	b, err := os.ReadFile(mpath)
	if err != nil {
		return Resolved{}, err
	}
	var man struct {
		Layers []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(b, &man); err != nil {
		return Resolved{}, fmt.Errorf("%s: %w", mpath, err)
	}
	blob := func(d string) string { return filepath.Join(dir, "blobs", strings.Replace(d, ":", "-", 1)) }
	var r Resolved
	for _, l := range man.Layers {
		switch l.MediaType {
		case "application/vnd.ollama.image.model":
			r.Path = blob(l.Digest)
		case "application/vnd.ollama.image.template":
			t, err := os.ReadFile(blob(l.Digest))
			if err != nil {
				return Resolved{}, err
			}
			r.Template = rawTemplate(string(t))
		}
	}
	if r.Path == "" {
		return Resolved{}, fmt.Errorf("%s: no model layer", mpath)
	}
	return r, nil
}

// Open resolves nameOrPath (see Resolve) and loads it, with the Ollama model's own template
// when it has one.
func Open(ctx context.Context, nameOrPath, ollamaHost string, opt LoadOptions) (*Model, error) {
	r, err := Resolve(ctx, nameOrPath, ollamaHost)
	if err != nil {
		return nil, err
	}
	if opt.Template == "" {
		opt.Template = r.Template
	}
	return Load(r.Path, opt)
}
