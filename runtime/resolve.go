package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LocalModel is a model's GGUF file on this machine, found by Locate.
type LocalModel struct {
	Path string // the GGUF file
	// Template is the Ollama model's own template (its template layer), to load the file with
	// (model.LoadOptions.Template); "" for a GGUF path or a raw ("{{ .Prompt }}") model.
	Template string
}

// Locate turns a GGUF path or an Ollama model name into a GGUF file on this machine, for the
// native engine to read. A name is looked up through the pool's servers, each asked once with
// no retries (/api/show: the modelfile's FROM line names the blob, which must be readable
// here), and, when none answers, through the manifests under $OLLAMA_MODELS (default
// ~/.ollama/models): manifests/registry.ollama.ai/library/NAME/TAG → the layer of media type
// application/vnd.ollama.image.model → blobs/sha256-HEX. A nil pool skips the servers.
func Locate(ctx context.Context, pool *Pool, nameOrPath string) (LocalModel, error) {
	if st, err := os.Stat(nameOrPath); err == nil && !st.IsDir() {
		return LocalModel{Path: nameOrPath}, nil
	}
	if strings.HasSuffix(nameOrPath, ".gguf") {
		return LocalModel{}, fmt.Errorf("runtime: locate %s: no such file", nameOrPath)
	}
	var serverErrs []error
	if pool != nil {
		for _, h := range pool.hosts {
			m, err := locateOn(ctx, pool, h, nameOrPath)
			if err == nil {
				return m, nil
			}
			serverErrs = append(serverErrs, err)
		}
	}
	m, err := manifestModel(nameOrPath)
	if err != nil {
		if len(serverErrs) > 0 {
			return LocalModel{}, fmt.Errorf("runtime: locate %s: not a file; server: %v; manifests: %w", nameOrPath, errors.Join(serverErrs...), err)
		}
		return LocalModel{}, fmt.Errorf("runtime: locate %s: not a file; manifests: %w", nameOrPath, err)
	}
	return m, nil
}

// locateOn asks one host, once, where the model's blob is.
func locateOn(ctx context.Context, p *Pool, h *poolHost, name string) (LocalModel, error) {
	cctx, cancel := context.WithTimeout(ctx, min(p.opt.RequestTimeout, 10*time.Second))
	defer cancel()
	info, err := showOn(cctx, h, name)
	if err != nil {
		return LocalModel{}, fmt.Errorf("%s: %w", h.url, err)
	}
	if info.BlobPath == "" {
		return LocalModel{}, fmt.Errorf("%s: no FROM line in the server's modelfile", h.url)
	}
	if _, err := os.Stat(info.BlobPath); err != nil {
		return LocalModel{}, fmt.Errorf("%s: the server's blob %s is not readable here: %w", h.url, info.BlobPath, err)
	}
	return LocalModel{Path: info.BlobPath, Template: rawTemplate(info.Template)}, nil
}

// rawTemplate maps Ollama's raw template to "" (no template).
func rawTemplate(t string) string {
	if strings.TrimSpace(t) == "{{ .Prompt }}" {
		return ""
	}
	return t
}

// manifestModel finds an Ollama model's GGUF blob and template from its manifest in modelsDir,
// without a server. NAME[:TAG] (default tag latest) with no namespace is in
// registry.ollama.ai/library; NS/NAME in registry.ollama.ai/NS; HOST/NS/NAME as given.
func manifestModel(name string) (LocalModel, error) {
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
	dir := StoreDir()
	mpath := filepath.Join(append(append([]string{dir, "manifests"}, parts...), tag)...)
	info, err := readManifest(dir, mpath)
	if err != nil {
		return LocalModel{}, err
	}
	m := LocalModel{Path: info.BlobPath, Template: rawTemplate(info.Template)}
	if m.Path == "" {
		return LocalModel{}, fmt.Errorf("%s: no model layer", mpath)
	}
	return m, nil
}
