package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

//go:embed stories260K.gguf *.jsonl *.jsonl.gz LICENSE.llama2c README.md
var files embed.FS

// Names lists the embedded files.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// Read returns an embedded file's bytes.
func Read(name string) ([]byte, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("assets: no embedded file %q (have %v)", name, Names())
	}
	return b, nil
}

// Path writes an embedded file to cacheDir (once, under a directory named by its content hash,
// keeping its own file name for messages) and returns the path, for APIs that read files, such
// as model.Load.
func Path(name, cacheDir string) (string, error) {
	b, err := Read(name)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	dir := filepath.Join(cacheDir, hex.EncodeToString(sum[:8]))
	p := filepath.Join(dir, name)
	if st, err := os.Stat(p); err == nil && st.Size() == int64(len(b)) {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("assets: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+name)
	if err != nil {
		return "", fmt.Errorf("assets: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", fmt.Errorf("assets: %w", err)
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("assets: %w", err)
	}
	return p, nil
}
