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

// Info describes an objective in the registry.
type Info struct {
	Name    string  `json:"name"`
	Summary string  `json:"summary"`
	Paper   string  `json:"paper"`
	Params  []Param `json:"params"`
	// Inputs and Differentiated are those of the objective with default parameters.
	Inputs         []string `json:"inputs"`
	Differentiated []string `json:"differentiated"`
}

type entry struct {
	info  Info
	build func(p *params) (Objective, error)
}

// entries builds the registry afresh on each call (no package-level mutable state).
func entries() []entry {
	return []entry{
		{dpoInfo(), func(p *params) (Objective, error) { return dpoFromParams(p) }},
		{fdpoInfo(), func(p *params) (Objective, error) { return fdpoFromParams(p) }},
		{simpoInfo(), func(p *params) (Objective, error) { return simpoFromParams(p) }},
		{cplInfo(), func(p *params) (Objective, error) { return cplFromParams(p) }},
		{cplRankedInfo(), func(p *params) (Objective, error) { return cplRankedFromParams(p) }},
		{curryInfo(), func(p *params) (Objective, error) { return curryFromParams(p) }},
		{inpoInfo(), func(p *params) (Objective, error) { return inpoFromParams(p) }},
		{dnoInfo(), func(p *params) (Objective, error) { return dnoFromParams(p) }},
		{dnoPrctInfo(), func(p *params) (Objective, error) { return dnoPrctFromParams(p) }},
		{srpoInfo(), func(p *params) (Objective, error) { return srpoFromParams(p) }},
		{apoInfo(), func(p *params) (Objective, error) { return apoFromParams(p) }},
		{hypoInfo(), func(p *params) (Objective, error) { return hypoFromParams(p) }},
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

// New builds the named objective from string parameters (as given by `--param name=value` or a
// recipe). Missing parameters take their defaults; unknown names and bad values are errors that
// suggest the closest valid name.
func New(name string, raw map[string]string) (Objective, error) {
	for _, e := range entries() {
		if e.info.Name != name {
			continue
		}
		p := &params{obj: name, spec: e.info.Params, raw: raw}
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

// params reads typed parameter values from their string form, falling back to the defaults in
// spec. The first parse error is kept in err.
type params struct {
	obj  string
	spec []Param
	raw  map[string]string
	err  error
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

func (p *params) value(name string) string {
	if v, ok := p.raw[name]; ok {
		return strings.TrimSpace(v)
	}
	for _, s := range p.spec {
		if s.Name == name {
			return s.Default
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

func (p *params) float(name string) float64 {
	v := p.value(name)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.fail(fmt.Errorf("objectives: %s: parameter %s=%q is not a finite number", p.obj, name, v))
		return 0
	}
	return f
}

func (p *params) int(name string) int {
	v := p.value(name)
	i, err := strconv.Atoi(v)
	if err != nil {
		p.fail(fmt.Errorf("objectives: %s: parameter %s=%q is not an integer", p.obj, name, v))
	}
	return i
}

func (p *params) uint64(name string) uint64 {
	v := p.value(name)
	i, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		p.fail(fmt.Errorf("objectives: %s: parameter %s=%q is not a non-negative integer", p.obj, name, v))
	}
	return i
}

func (p *params) bool(name string) bool {
	v := p.value(name)
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(fmt.Errorf("objectives: %s: parameter %s=%q is not true or false", p.obj, name, v))
	}
	return b
}

func (p *params) str(name string) string { return p.value(name) }

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
