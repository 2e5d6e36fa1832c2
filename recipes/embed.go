package recipes

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// embedded holds the recipes shipped in the binary, one YAML file per name.
//
//go:embed *.yaml
var embedded embed.FS

// Info summarises one embedded recipe for `align recipes list`.
type Info struct {
	Name        string `json:"name"`
	Objective   string `json:"objective"`
	Online      bool   `json:"online"`
	Description string `json:"description"`
}

// Names lists the embedded recipes, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(embedded, ".")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Embedded returns the YAML source of an embedded recipe, or an error listing the names and
// suggesting the closest.
func Embedded(name string) ([]byte, error) {
	b, err := embedded.ReadFile(name + ".yaml")
	if err == nil {
		return b, nil
	}
	names := Names()
	msg := fmt.Sprintf("recipe: %q is neither a file nor an embedded recipe (embedded: %s)", name, strings.Join(names, ", "))
	if c := Closest(name, names); c != "" {
		msg += fmt.Sprintf("; did you mean %q?", c)
	}
	return nil, fmt.Errorf("%s", msg)
}

// List parses every embedded recipe and summarises it.
func List() ([]Info, error) {
	var out []Info
	for _, n := range Names() {
		src, err := Embedded(n)
		if err != nil {
			return nil, err
		}
		r, err := Parse(src, "embedded:"+n)
		if err != nil {
			return nil, err
		}
		out = append(out, Info{Name: n, Objective: r.Objective.Name, Online: r.Online.Iterations > 0, Description: r.Description})
	}
	return out, nil
}
