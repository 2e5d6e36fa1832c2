package assets

import (
	"os"
	"strings"
)

// Prefix marks an embedded file where a path is expected: "asset:NAME" (recipes' model.path,
// reference.path and dataset.path).
const Prefix = "asset:"

// Name returns NAME for "asset:NAME", and whether ref names an embedded file at all.
func Name(ref string) (string, bool) { return strings.CutPrefix(ref, Prefix) }

// Resolve turns a path field into a file on disk: "asset:NAME" is the embedded file NAME,
// written once into dir (see Path); anything else is a path, returned as is once it exists.
// It is the one reading of the asset: prefix.
func Resolve(ref, dir string) (string, error) {
	if name, ok := Name(ref); ok {
		return Path(name, dir)
	}
	if _, err := os.Stat(ref); err != nil {
		return "", err
	}
	return ref, nil
}
