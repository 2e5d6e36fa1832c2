package recipes

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Set applies one "key=value" override, as given to `align train --set`. Keys are dotted YAML
// paths (objective.name, online.sampling.temperature, objective.params.gamma_beta_ratio); a
// top-level alias (batch_size) is accepted. The value is parsed as YAML for the field's type, so
// a number field rejects "abc". A list field takes "[a, b]" or "a,b". Set does not validate the
// whole recipe; Load does after all overrides.
func (r *Recipe) Set(assignment string) error {
	key, value, ok := strings.Cut(assignment, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return fmt.Errorf("--set %q: want key=value", assignment)
	}
	parts := strings.Split(key, ".")
	if a := aliasOf(parts[0]); a != "" {
		parts[0] = a
	}
	v := reflect.ValueOf(r).Elem()
	path := ""
	for i, p := range parts {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Struct:
			fields := yamlFields(v.Type())
			f, ok := fields[p]
			if !ok {
				names := make([]string, 0, len(fields))
				for n := range fields {
					names = append(names, n)
				}
				msg := fmt.Sprintf("--set %s: unknown key %q", key, join(path, p))
				if c := Closest(p, names); c != "" {
					msg += fmt.Sprintf("; did you mean %q?", join(path, c))
				}
				return fmt.Errorf("%s", msg)
			}
			v = v.FieldByIndex(f.Index)
		case reflect.Map:
			if i != len(parts)-1 {
				return fmt.Errorf("--set %s: %s is a map of values; nothing is nested under %q", key, path, p)
			}
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
			}
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := parseInto(ev, value); err != nil {
				return fmt.Errorf("--set %s: %w", key, err)
			}
			v.SetMapIndex(reflect.ValueOf(p), ev)
			return nil
		default:
			return fmt.Errorf("--set %s: %s is a %s, it has no key %q", key, path, kindName(v.Type()), p)
		}
		path = join(path, p)
	}
	if err := parseInto(v, value); err != nil {
		return fmt.Errorf("--set %s: %w", key, err)
	}
	return nil
}

// parseInto parses a --set value into v according to v's type.
func parseInto(v reflect.Value, value string) error {
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		nv := reflect.New(t.Elem())
		if err := parseInto(nv.Elem(), value); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(value)
		return nil
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a valid %s", value, kindName(t))
		}
		v.SetInt(n)
		return nil
	case reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a valid %s", value, kindName(t))
		}
		v.SetUint(n)
		return nil
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return fmt.Errorf("%q is not a valid %s", value, kindName(t))
		}
		v.SetFloat(f)
		return nil
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("%q is not a valid %s", value, kindName(t))
		}
		v.SetBool(b)
		return nil
	case reflect.Struct, reflect.Map:
		return fmt.Errorf("is a section (%s); set its fields one by one with dotted keys", kindName(t))
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String && !strings.HasPrefix(strings.TrimSpace(value), "[") {
			var items []string
			for _, s := range strings.Split(value, ",") {
				if s = strings.TrimSpace(s); s != "" {
					items = append(items, s)
				}
			}
			v.Set(reflect.ValueOf(items))
			return nil
		}
		if !strings.HasPrefix(strings.TrimSpace(value), "[") {
			value = "[" + value + "]"
		}
	}
	nv := reflect.New(t)
	if err := yaml.Unmarshal([]byte(value), nv.Interface()); err != nil {
		return fmt.Errorf("%q is not a valid %s", value, kindName(t))
	}
	v.Set(nv.Elem())
	return nil
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean (true/false)"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "integer"
	case reflect.Uint64, reflect.Uint, reflect.Uint32:
		return "non-negative integer"
	case reflect.Float64, reflect.Float32:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice:
		return "list of " + kindName(t.Elem())
	case reflect.Map:
		return "map"
	case reflect.Struct:
		return "section"
	case reflect.Pointer:
		return kindName(t.Elem())
	case reflect.Interface:
		return "value"
	}
	return t.String()
}
