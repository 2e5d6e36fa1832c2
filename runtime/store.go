package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Ollama's media types of a manifest's layers (server/images.go).
const (
	mediaModel    = "application/vnd.ollama.image.model"
	mediaTemplate = "application/vnd.ollama.image.template"
)

// StoreDir is the local Ollama store: $OLLAMA_MODELS, else ~/.ollama/models (as Ollama's
// envconfig.Models).
func StoreDir() string {
	if d := os.Getenv("OLLAMA_MODELS"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".ollama", "models")
	}
	return filepath.Join(home, ".ollama", "models")
}

// ListStore lists the models of the Ollama store at dir ("" = StoreDir) from its manifests
// (manifests/HOST/NAMESPACE/MODEL/TAG, each naming its layers by digest under blobs/), without
// a server: name (shortened as `ollama list` shows it), size (config and layers, as `ollama list`)
// and time of the manifest,
// BlobPath (the GGUF) and the template layer. A manifest that cannot be parsed is an error
// naming it; one without a model layer is listed with an empty BlobPath.
func ListStore(dir string) ([]ModelInfo, error) {
	if dir == "" {
		dir = StoreDir()
	}
	root := filepath.Join(dir, "manifests")
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("runtime: %s is not an Ollama store (no manifests directory; set OLLAMA_MODELS)", dir)
	}
	var out []ModelInfo
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 4 { // host/namespace/model/tag
			return nil
		}
		info, err := readManifest(dir, path)
		if err != nil {
			return err
		}
		info.Name = displayName(parts)
		out = append(out, info)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("runtime: list store %s: %w", dir, err)
	}
	slices.SortFunc(out, func(a, b ModelInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// readManifest reads one manifest of the store at dir.
func readManifest(dir, path string) (ModelInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ModelInfo{}, err
	}
	var man struct {
		Config struct {
			Size int64 `json:"size"`
		} `json:"config"`
		Layers []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
			Size      int64  `json:"size"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(b, &man); err != nil {
		return ModelInfo{}, fmt.Errorf("manifest %s: %w", path, err)
	}
	sum := sha256.Sum256(b)
	info := ModelInfo{Size: man.Config.Size, Digest: hex.EncodeToString(sum[:])} // as `ollama list`: the manifest's digest
	if st, err := os.Stat(path); err == nil {
		info.ModifiedAt = st.ModTime()
	}
	for _, l := range man.Layers {
		info.Size += l.Size // as `ollama list`: the config and every layer
		blob := filepath.Join(dir, "blobs", strings.Replace(l.Digest, ":", "-", 1))
		switch l.MediaType {
		case mediaModel:
			info.BlobPath = blob
		case mediaTemplate:
			if t, err := os.ReadFile(blob); err == nil {
				info.Template = string(t)
			}
		}
	}
	if info.Template == "" {
		info.Template = "{{ .Prompt }}" // Ollama's template for a model without a template layer
	}
	return info, nil
}

// displayName is a manifest path's model name as Ollama displays it: registry.ollama.ai/library
// models by name:tag, other namespaces of the default registry as namespace/name:tag, other
// registries in full.
func displayName(parts []string) string {
	host, ns, name, tag := parts[0], parts[1], parts[2], parts[3]
	switch {
	case host == "registry.ollama.ai" && ns == "library":
		return name + ":" + tag
	case host == "registry.ollama.ai":
		return ns + "/" + name + ":" + tag
	}
	return host + "/" + ns + "/" + name + ":" + tag
}

// ListDetailed lists the models of the pool's first answering host (/api/tags) and describes
// each (/api/show): template, blob path when the server reports one, and the list's details.
func (p *Pool) ListDetailed(ctx context.Context) ([]ModelInfo, error) {
	ms, err := p.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ModelInfo, 0, len(ms))
	for _, m := range ms {
		info, err := p.Show(ctx, m.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b ModelInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
