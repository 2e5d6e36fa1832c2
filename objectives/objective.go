package objectives

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Objective is one preference loss with its parameters fixed.
//
// Loss reads the inputs listed by Inputs() from in, returns the batch loss (the mean over
// examples of the per-example loss, except where an objective's doc says otherwise) and its
// metrics, and, when grad is not nil, writes dL/d(input) for every input in Differentiated()
// into the same-named field of grad. grad must have the shapes of in (NewGrad allocates one);
// every entry of those columns is overwritten. Loss returns an error, never NaN, for bad
// parameters or mismatched shapes.
type Objective interface {
	Name() string
	Inputs() []string
	Differentiated() []string
	Loss(in, grad *Batch) (Result, error)
}

// Result is a batch's loss and metrics (TRL names where they exist, e.g. rewards/chosen).
type Result struct {
	Loss    float64
	Metrics map[string]float64
}

// Param documents one parameter of an objective: the name used by `--param name=value` and by
// recipes, its type ("float", "int", "bool" or "string"), its default, its allowed range and
// its meaning.
type Param struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Default string `json:"default"`
	Range   string `json:"range"`
	Doc     string `json:"doc"`
}

// Info describes an objective in the registry, the one table of objectives: recipes and the
// training loop read it rather than keeping their own.
type Info struct {
	Name    string  `json:"name"`
	Summary string  `json:"summary"`
	Paper   string  `json:"paper"`
	Params  []Param `json:"params"`
	// Data is the record kind the training loop trains it on: "pairs" or "ranked"; empty when
	// the loop does not train it (its inputs can only be scored, with `align objectives score`).
	Data string `json:"data,omitempty"`
	// Online is true when training needs sample-judge-train iterations (online.iterations >= 1).
	Online bool `json:"online"`
	// Inputs and Differentiated are those of the objective with default parameters.
	Inputs         []string `json:"inputs"`
	Differentiated []string `json:"differentiated"`
}

type entry struct {
	info  Info
	build func(p *params) (Objective, error)
}

// on sets the training data kind and online flag of a registry entry.
func on(info Info, data string, online bool) Info {
	info.Data, info.Online = data, online
	return info
}

// entries builds the registry afresh on each call (no package-level mutable state). It is the
// only table of objectives: name, parameters, the data the training loop feeds it, and whether
// it trains online.
func entries() []entry {
	return []entry{
		{on(dpoInfo(), "pairs", false), func(p *params) (Objective, error) { return dpoFromParams(p) }},
		{on(fdpoInfo(), "pairs", false), func(p *params) (Objective, error) { return fdpoFromParams(p) }},
		{on(simpoInfo(), "pairs", false), func(p *params) (Objective, error) { return simpoFromParams(p) }},
		{on(cplInfo(), "pairs", false), func(p *params) (Objective, error) { return cplFromParams(p) }},
		// The loop does not feed ranked lists of per-token log-probs (toks): scoring only.
		{on(cplRankedInfo(), "", false), func(p *params) (Objective, error) { return cplRankedFromParams(p) }},
		{on(curryInfo(), "ranked", false), func(p *params) (Objective, error) { return curryFromParams(p) }},
		{on(inpoInfo(), "pairs", true), func(p *params) (Objective, error) { return inpoFromParams(p) }},
		{on(dnoInfo(), "pairs", true), func(p *params) (Objective, error) { return dnoFromParams(p) }},
		{on(dnoPrctInfo(), "pairs", true), func(p *params) (Objective, error) { return dnoPrctFromParams(p) }},
		{on(srpoInfo(), "pairs", false), func(p *params) (Objective, error) { return srpoFromParams(p) }},
		{on(apoInfo(), "pairs", true), func(p *params) (Objective, error) { return apoFromParams(p) }},
		{on(hypoInfo(), "pairs", true), func(p *params) (Objective, error) { return hypoFromParams(p) }},
		{on(rewardInfo(), "pairs", false), func(p *params) (Objective, error) { return rewardFromParams(p) }},
	}
}

// Registry lists every objective with its parameters, defaults, ranges and paper.
func Registry() []Info {
	es := entries()
	out := make([]Info, len(es))
	for i, e := range es {
		out[i] = e.info
		obj, err := e.build(&params{spec: e.info.Params})
		if err == nil {
			out[i].Inputs = obj.Inputs()
			out[i].Differentiated = obj.Differentiated()
		}
	}
	return out
}

// Names lists the registered objectives' names.
func Names() []string {
	es := entries()
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.info.Name
	}
	return out
}

// Params are an objective's parameter values by name, typed as the registry's Param.Type says:
// a float takes a float64 (or any Go integer or float type), an int an integer (or a float64
// with an integer value, as YAML may give), a bool a bool, a string a string. Build does not
// parse strings for the other types: config flows typed.
type Params map[string]any

// Build builds the named objective from typed parameter values (a recipe's, through
// recipes.Recipe.ObjectiveParams). Missing parameters take their defaults; unknown names, values
// of the wrong type and bad values are errors that suggest the closest valid name.
func Build(name string, values Params) (Objective, error) {
	return build(name, values, false)
}

// New builds the named objective from the string form of its parameters, as given by
// `--param name=value` on the command line; each value is parsed as its Param.Type says.
func New(name string, raw map[string]string) (Objective, error) {
	values := make(Params, len(raw))
	for k, v := range raw {
		values[k] = v
	}
	return build(name, values, true)
}

func build(name string, values Params, parse bool) (Objective, error) {
	for _, e := range entries() {
		if e.info.Name != name {
			continue
		}
		p := &params{obj: name, spec: e.info.Params, raw: values, parse: parse}
		if err := p.checkKeys(); err != nil {
			return nil, err
		}
		obj, err := e.build(p)
		if err != nil {
			return nil, err
		}
		if p.err != nil {
			return nil, p.err
		}
		return obj, nil
	}
	return nil, fmt.Errorf("objectives: unknown objective %q (did you mean %q? valid: %s)", name, closest(name, Names()), strings.Join(Names(), ", "))
}

// params reads typed parameter values, falling back to the defaults in spec (written in their
// string form, parsed). With parse, string values are parsed too (the command line's form). The
// first error is kept in err.
type params struct {
	obj   string
	spec  []Param
	raw   Params
	parse bool
	err   error
}

func (p *params) checkKeys() error {
	names := make([]string, len(p.spec))
	for i, s := range p.spec {
		names[i] = s.Name
	}
	keys := make([]string, 0, len(p.raw))
	for k := range p.raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		found := false
		for _, n := range names {
			if n == k {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("objectives: %s: unknown parameter %q (did you mean %q? valid: %s)", p.obj, k, closest(k, names), strings.Join(names, ", "))
		}
	}
	return nil
}

// value returns the named parameter's value, the given one or its default, and whether a
// string value is to be parsed (defaults, and every value given to New).
func (p *params) value(name string) (any, bool) {
	if v, ok := p.raw[name]; ok {
		if str, isStr := v.(string); isStr && p.parse {
			return strings.TrimSpace(str), true
		}
		return v, false
	}
	for _, s := range p.spec {
		if s.Name == name {
			return s.Default, true
		}
	}
	panic("objectives: parameter " + name + " missing from its spec")
}

// set reports whether the user gave the parameter explicitly.
func (p *params) set(name string) bool { _, ok := p.raw[name]; return ok }

func (p *params) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// typeErr records that a typed value has the wrong Go type for its parameter.
func (p *params) typeErr(name, want string, v any) {
	p.fail(fmt.Errorf("objectives: %s: parameter %s: want %s, got %T %v", p.obj, name, want, v, v))
}

func (p *params) float(name string) float64 {
	v, parse := p.value(name)
	var f float64
	switch x := v.(type) {
	case string:
		if !parse {
			p.typeErr(name, "a number", v)
			return 0
		}
		var err error
		if f, err = strconv.ParseFloat(x, 64); err != nil {
			f = math.NaN()
		}
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	default:
		p.typeErr(name, "a number", v)
		return 0
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		p.fail(fmt.Errorf("objectives: %s: parameter %s=%v is not a finite number", p.obj, name, v))
		return 0
	}
	return f
}

// integer reads an integer parameter as an int64.
func (p *params) integer(name string) (int64, bool) {
	v, parse := p.value(name)
	switch x := v.(type) {
	case string:
		if !parse {
			p.typeErr(name, "an integer", v)
			return 0, false
		}
		i, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			p.fail(fmt.Errorf("objectives: %s: parameter %s=%q is not an integer", p.obj, name, x))
			return 0, false
		}
		return i, true
	case int:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if i := int64(x); i >= 0 {
			return i, true
		}
	case float64:
		if i := int64(x); float64(i) == x {
			return i, true
		}
	}
	p.fail(fmt.Errorf("objectives: %s: parameter %s=%v is not an integer", p.obj, name, v))
	return 0, false
}

func (p *params) int(name string) int {
	i, _ := p.integer(name)
	return int(i)
}

func (p *params) uint64(name string) uint64 {
	i, ok := p.integer(name)
	if ok && i < 0 {
		p.fail(fmt.Errorf("objectives: %s: parameter %s=%d is not a non-negative integer", p.obj, name, i))
		return 0
	}
	return uint64(i)
}

func (p *params) bool(name string) bool {
	v, parse := p.value(name)
	switch x := v.(type) {
	case bool:
		return x
	case string:
		if parse {
			if b, err := strconv.ParseBool(x); err == nil {
				return b
			}
			p.fail(fmt.Errorf("objectives: %s: parameter %s=%q is not true or false", p.obj, name, x))
			return false
		}
	}
	p.typeErr(name, "true or false", v)
	return false
}

func (p *params) str(name string) string {
	v, _ := p.value(name)
	s, ok := v.(string)
	if !ok {
		p.typeErr(name, "a string", v)
	}
	return strings.TrimSpace(s)
}

// oneOf checks a string parameter against its valid values, suggesting the closest.
func oneOf(obj, param, v string, valid ...string) error {
	for _, s := range valid {
		if v == s {
			return nil
		}
	}
	return fmt.Errorf("objectives: %s: unknown %s %q (did you mean %q? valid: %s)", obj, param, v, closest(v, valid), strings.Join(valid, ", "))
}

func positive(obj, param string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("objectives: %s: %s must be > 0 and finite, got %v", obj, param, v)
	}
	return nil
}

func inRange(obj, param string, v, lo, hi float64, loOpen, hiOpen bool) error {
	ok := !math.IsNaN(v) && (v > lo || (!loOpen && v == lo)) && (v < hi || (!hiOpen && v == hi))
	if ok {
		return nil
	}
	l, h := "[", "]"
	if loOpen {
		l = "("
	}
	if hiOpen {
		h = ")"
	}
	return fmt.Errorf("objectives: %s: %s must lie in %s%v, %v%s, got %v", obj, param, l, fmtNum(lo), fmtNum(hi), h, v)
}

func fmtNum(v float64) string {
	if math.IsInf(v, 1) {
		return "inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func finite(obj, param string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("objectives: %s: %s must be finite, got %v", obj, param, v)
	}
	return nil
}

// pairMetrics accumulates TRL's pairwise metrics over a batch:
// rewards/chosen, rewards/rejected, rewards/accuracies (strict >), rewards/margins,
// logps/chosen, logps/rejected.
type pairMetrics struct {
	rw, rl, acc, pw, pl float64
}

func (m *pairMetrics) add(rw, rl, pw, pl float64) {
	m.rw += rw
	m.rl += rl
	if rw > rl {
		m.acc++
	}
	m.pw += pw
	m.pl += pl
}

func (m *pairMetrics) put(out map[string]float64, n int) {
	d := float64(max(n, 1))
	out["rewards/chosen"] = m.rw / d
	out["rewards/rejected"] = m.rl / d
	out["rewards/accuracies"] = m.acc / d
	out["rewards/margins"] = (m.rw - m.rl) / d
	out["logps/chosen"] = m.pw / d
	out["logps/rejected"] = m.pl / d
}
