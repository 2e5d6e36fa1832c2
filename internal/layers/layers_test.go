package layers

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/alignkit/align/"

// allowed lists, for each package, the align packages it may import (the architecture's
// table: data is files only, objectives numbers only, model knows nothing of objectives, only
// runtime talks to Ollama). cmd/align and the assembly generator may import anything.
var allowed = map[string][]string{
	"assets":      {},
	"data":        {},
	"kernels":     {},
	"objectives":  {},
	"recipes":     {"objectives"}, // the objective table is declared once, in objectives
	"runtime":     {},
	"model":       {"data", "kernels"},
	"model/bench": {"kernels", "model", "runtime"},
	"pairs":       {"data", "data/curate", "runtime", "objectives"}, // curate: the file side of curation
	"train":       {"assets", "data", "kernels", "model", "objectives", "pairs", "recipes", "runtime"},
	"eval":        {"data", "runtime", "pairs"},
	"eval/safety": {"data", "eval", "runtime", "pairs"},
	"data/curate": {"data", "runtime", "pairs"},
}

// pending are edges the issue-14 move of curation into pairs removes; each is allowed until
// then, and the test says so when one is gone (so that it is deleted here too).
var pending = map[string][]string{}

// ollamaClients are the imports that talk to a server. model keeps ollama's api package for
// api.Message, the type its template package renders, and may not import net/http.
var ollamaClients = []string{"net/http", "github.com/ollama/ollama/api"}

func TestImports(t *testing.T) {
	root := "../.."
	pkgs := map[string]map[string]bool{} // package dir → imports of its non-test files
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "internal" && filepath.Dir(path) == filepath.Join(root, "kernels")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		for _, cg := range f.Comments { // `//go:build ignore` files are scripts, not packages
			for _, c := range cg.List {
				if c.Pos() < f.Package && strings.HasPrefix(c.Text, "//go:build ignore") {
					return nil
				}
			}
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if pkgs[rel] == nil {
			pkgs[rel] = map[string]bool{}
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			pkgs[rel][p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"data", "model", "runtime", "train", "objectives"} {
		if pkgs[must] == nil {
			t.Fatalf("package %s not found under %s", must, root)
		}
	}
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		if dir == "cmd/align" || strings.HasPrefix(dir, "internal/") {
			continue
		}
		table, known := allowed[dir]
		if !known {
			t.Errorf("package %s is not in the dependency table: add it with the packages it may import", dir)
			continue
		}
		may := map[string]bool{}
		for _, p := range table {
			may[p] = true
		}
		pend := map[string]bool{}
		for _, p := range pending[dir] {
			pend[p] = true
		}
		for im := range pkgs[dir] {
			if in, ok := strings.CutPrefix(im, module); ok {
				switch {
				case may[in]:
				case pend[in]:
					delete(pend, in)
				default:
					t.Errorf("%s imports %s, outside its table entry %v", dir, in, table)
				}
			}
			if dir == "runtime" {
				continue
			}
			for _, c := range ollamaClients {
				if im == c && !(dir == "model" && c == "github.com/ollama/ollama/api") {
					t.Errorf("%s imports %s: only runtime talks to Ollama", dir, im)
				}
			}
		}
		for p := range pend {
			t.Errorf("%s no longer imports %s: remove it from pending", dir, p)
		}
	}
}

// TestModelUsesNoClient checks that model's one use of ollama's api package is the message
// type, not a client.
func TestModelUsesNoClient(t *testing.T) {
	files, err := filepath.Glob("../../model/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("model sources: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"api.NewClient", "api.ClientFromEnvironment", "api.Client"} {
			if strings.Contains(string(b), c) {
				t.Errorf("%s uses %s: only runtime talks to Ollama", f, c)
			}
		}
	}
}
