package recipes

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite recipes/schema.json and the field table of docs/recipes.md")

// fieldDocs reads the doc comment of every struct field in recipe.go, keyed "Type.Field".
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "recipe.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		for _, fl := range st.Fields.List {
			for _, name := range fl.Names {
				docs[ts.Name.Name+"."+name.Name] = strings.Join(strings.Fields(fl.Doc.Text()), " ")
			}
		}
		return true
	})
	return docs
}

type row struct{ key, typ, def, doc string }

// schemaOf builds the JSON schema of type t, with descriptions from the doc comments and
// defaults from Default(); rows collects the documentation table.
func schemaOf(t *testing.T, typ reflect.Type, def reflect.Value, docs map[string]string, path string, rows *[]row) map[string]any {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
		if def.IsValid() && !def.IsNil() {
			def = def.Elem()
		} else {
			def = reflect.Value{}
		}
	}
	s := map[string]any{}
	switch typ.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			doc := docs[typ.Name()+"."+f.Name]
			if doc == "" {
				t.Errorf("recipe.go: field %s.%s has no doc comment", typ.Name(), f.Name)
			}
			var fv reflect.Value
			if def.IsValid() {
				fv = def.Field(i)
			}
			key := join(path, name)
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				*rows = append(*rows, row{key, "section", "", doc})
			} else {
				*rows = append(*rows, row{key, jsonType(ft), defaultText(fv), doc})
			}
			p := schemaOf(t, f.Type, fv, docs, key, rows)
			p["description"] = doc
			props[name] = p
		}
		s["type"] = "object"
		s["properties"] = props
		s["additionalProperties"] = false
		return s
	case reflect.Slice:
		s["type"] = "array"
		s["items"] = schemaOf(t, typ.Elem(), reflect.Value{}, docs, path+"[]", &[]row{})
	case reflect.Map:
		s["type"] = "object"
		if typ.Elem().Kind() == reflect.String {
			s["additionalProperties"] = map[string]any{"type": "string"}
		}
	default:
		if jt := jsonType(typ); jt != "" && jt != "any" {
			s["type"] = jt
		}
		if typ.Kind() == reflect.Uint64 {
			s["minimum"] = 0
		}
	}
	if def.IsValid() && !def.IsZero() {
		s["default"] = def.Interface()
	}
	return s
}

func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Uint64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice:
		return "array of " + jsonType(t.Elem())
	case reflect.Map:
		return "map"
	}
	return "any"
}

func defaultText(v reflect.Value) string {
	if !v.IsValid() || v.IsZero() {
		return ""
	}
	b, _ := json.Marshal(v.Interface())
	return string(b)
}

func generate(t *testing.T) (schema []byte, table string) {
	docs := fieldDocs(t)
	var rows []row
	s := schemaOf(t, reflect.TypeOf(Recipe{}), reflect.ValueOf(Default()), docs, "", &rows)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://github.com/alignkit/align/recipes/schema.json"
	s["title"] = "align training recipe, version 1"
	s["description"] = "Generated from recipes/recipe.go by `go test ./recipes -run TestSchema -update`; do not edit."
	props := s["properties"].(map[string]any)
	props["batch_size"] = map[string]any{"type": "integer", "description": "Alias of per_device_train_batch_size."}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	var tb strings.Builder
	tb.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&tb, "| `%s` | %s | %s | %s |\n", r.key, r.typ, codeOrEmpty(r.def), strings.ReplaceAll(r.doc, "|", "\\|"))
	}
	return buf.Bytes(), tb.String()
}

func codeOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

const tableStart, tableEnd = "<!-- fields:start -->\n", "<!-- fields:end -->"

// TestSchema keeps recipes/schema.json and the field table of docs/recipes.md in step with the
// Recipe type: both are generated from it, and this test fails when either has drifted.
func TestSchema(t *testing.T) {
	schema, table := generate(t)
	docPath := "../docs/recipes.md"
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(doc, []byte(tableStart))
	j := bytes.Index(doc, []byte(tableEnd))
	if i < 0 || j < i {
		t.Fatalf("%s: missing the %q ... %q markers", docPath, tableStart, tableEnd)
	}
	newDoc := string(doc[:i+len(tableStart)]) + table + string(doc[j:])
	if *update {
		if err := os.WriteFile("schema.json", schema, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(docPath, []byte(newDoc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, schema) {
		t.Errorf("recipes/schema.json is stale: run go test ./recipes -run TestSchema -update")
	}
	if string(doc) != newDoc {
		t.Errorf("docs/recipes.md field table is stale: run go test ./recipes -run TestSchema -update")
	}
}

// TestSchemaAcceptsEmbedded checks every embedded recipe against the schema's key structure:
// each key it uses is a property the schema declares.
func TestSchemaAcceptsEmbedded(t *testing.T) {
	raw, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	for _, n := range Names() {
		r, err := Load(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		var doc map[string]any
		_ = json.Unmarshal(b, &doc)
		if err := conforms(doc, schema, n); err != nil {
			t.Error(err)
		}
	}
}

func conforms(v any, s map[string]any, path string) error {
	switch x := v.(type) {
	case map[string]any:
		props, ok := s["properties"].(map[string]any)
		if !ok {
			return nil
		}
		for k, e := range x {
			ps, ok := props[k].(map[string]any)
			if !ok {
				return fmt.Errorf("%s.%s: not in the schema", path, k)
			}
			if err := conforms(e, ps, path+"."+k); err != nil {
				return err
			}
		}
	case float64:
		if s["type"] != "number" && s["type"] != "integer" {
			return fmt.Errorf("%s: number where the schema says %v", path, s["type"])
		}
	case string:
		if s["type"] != "string" {
			return fmt.Errorf("%s: string where the schema says %v", path, s["type"])
		}
	}
	return nil
}
