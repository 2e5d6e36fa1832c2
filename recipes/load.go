package recipes

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// aliasOf returns the canonical top-level key that an accepted alternative key stands for, or
// "". Each alias is an old or shorter TRL name; using both an alias and its target is an error.
func aliasOf(key string) string {
	switch key {
	case "batch_size":
		return "per_device_train_batch_size"
	}
	return ""
}

// Parse reads a recipe from YAML. source names the document in error messages (a file name or
// "embedded:dpo"). Fields the YAML leaves out keep their Default() values. Unknown keys are
// errors that carry the line number and name the closest valid key. The result is validated.
func Parse(src []byte, source string) (Recipe, error) {
	r := Default()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		return r, fmt.Errorf("recipe %s: %w", source, err)
	}
	if len(doc.Content) == 0 {
		return r, fmt.Errorf("recipe %s: empty document", source)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return r, fmt.Errorf("recipe %s:%d: the recipe must be a mapping of keys to values", source, root.Line)
	}
	if err := resolveAliases(root, source); err != nil {
		return r, err
	}
	if err := checkKeys(root, reflect.TypeOf(r), "", source); err != nil {
		return r, err
	}
	if err := root.Decode(&r); err != nil {
		return r, fmt.Errorf("recipe %s: %w", source, err)
	}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("recipe %s: %w", source, err)
	}
	return r, nil
}

// ParseFile reads and parses a recipe file.
func ParseFile(path string) (Recipe, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Recipe{}, fmt.Errorf("recipe: %w", err)
	}
	return Parse(b, path)
}

// Load resolves nameOrPath to a recipe: an existing file path, or else the name of an embedded
// recipe. Then each --set assignment ("key=value", dotted keys) is applied in order and the
// result is validated again.
func Load(nameOrPath string, sets []string) (Recipe, error) {
	var r Recipe
	var err error
	if st, serr := os.Stat(nameOrPath); serr == nil && !st.IsDir() {
		r, err = ParseFile(nameOrPath)
	} else if strings.ContainsAny(nameOrPath, `/\`) || strings.HasSuffix(nameOrPath, ".yaml") || strings.HasSuffix(nameOrPath, ".yml") {
		return r, fmt.Errorf("recipe: %s: no such file", nameOrPath)
	} else {
		var src []byte
		src, err = Embedded(nameOrPath)
		if err != nil {
			return r, err
		}
		r, err = Parse(src, "embedded:"+nameOrPath)
	}
	if err != nil {
		return r, err
	}
	for _, s := range sets {
		if err := r.Set(s); err != nil {
			return r, err
		}
	}
	if len(sets) > 0 {
		if err := r.Validate(); err != nil {
			return r, fmt.Errorf("recipe after --set: %w", err)
		}
	}
	return r, nil
}

// Marshal renders the recipe as YAML (the resolved form saved in every run directory).
func (r Recipe) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("recipe: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("recipe: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

func resolveAliases(root *yaml.Node, source string) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		seen[root.Content[i].Value] = root.Content[i].Line
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if target := aliasOf(k.Value); target != "" {
			if line, dup := seen[target]; dup {
				return fmt.Errorf("recipe %s:%d: %q is an alias of %q, which is also set (line %d); keep one", source, k.Line, k.Value, target, line)
			}
			k.Value = target
		}
	}
	return nil
}

// checkKeys walks a YAML node against the Go type it will decode into and reports the first
// key that names no field.
func checkKeys(n *yaml.Node, t reflect.Type, path, source string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return fmt.Errorf("recipe %s:%d: %s must be a mapping", source, n.Line, orRoot(path))
		}
		fields := yamlFields(t)
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if line, dup := seen[k.Value]; dup {
				return fmt.Errorf("recipe %s:%d: key %q repeated (first at line %d)", source, k.Line, join(path, k.Value), line)
			}
			seen[k.Value] = k.Line
			f, ok := fields[k.Value]
			if !ok {
				names := make([]string, 0, len(fields))
				for name := range fields {
					names = append(names, name)
				}
				msg := fmt.Sprintf("recipe %s:%d: unknown key %q", source, k.Line, join(path, k.Value))
				if c := Closest(k.Value, names); c != "" {
					msg += fmt.Sprintf("; did you mean %q?", join(path, c))
				}
				return fmt.Errorf("%s", msg)
			}
			if err := checkKeys(v, f.Type, join(path, k.Value), source); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				if err := checkKeys(c, t.Elem(), path+"[]", source); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func orRoot(path string) string {
	if path == "" {
		return "the recipe"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML key of each exported field of struct type t to the field.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		out[name] = f
	}
	return out
}

// Closest returns the candidate nearest to s by edit distance, or "" when none is near enough
// to be a plausible typo (distance more than half of s's length, and more than 3).
func Closest(s string, candidates []string) string {
	sort.Strings(candidates)
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := editDistance(s, c)
		if strings.Contains(c, s) || strings.Contains(s, c) {
			d = min(d, 2)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD > max(3, len(s)/2) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance over bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
