package objectives

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// variant is one objective configuration exercised by the generic tests.
type variant struct {
	name   string
	params map[string]string
}

func (v variant) String() string {
	keys := make([]string, 0, len(v.params))
	for k := range v.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{v.name}
	for _, k := range keys {
		parts = append(parts, k+"="+v.params[k])
	}
	return strings.Join(parts, ",")
}

func kv(name string, pairs ...string) variant {
	p := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		p[pairs[i]] = pairs[i+1]
	}
	return variant{name, p}
}

// allVariants covers every objective and every variant the issue lists.
func allVariants() []variant {
	var vs []variant
	for _, lt := range DPOLossTypes() {
		switch lt {
		case "exo_pair":
			vs = append(vs, kv("dpo", "loss_type", lt, "label_smoothing", "0.001"))
		case "robust":
			vs = append(vs, kv("dpo", "loss_type", lt, "label_smoothing", "0.2"), kv("dpo", "loss_type", lt))
		default:
			vs = append(vs, kv("dpo", "loss_type", lt))
		}
	}
	vs = append(vs,
		kv("dpo", "label_smoothing", "0.1"), // cDPO
		kv("dpo", "reference_free", "true"),
		kv("dpo", "reference_free", "true", "loss_type", "ipo", "beta", "0.5"),
	)
	for _, fd := range []string{"reverse_kl", "forward_kl", "js_divergence"} {
		vs = append(vs, kv("f_dpo", "f_divergence_type", fd))
	}
	vs = append(vs,
		kv("f_dpo", "f_divergence_type", "alpha_divergence"),
		kv("f_dpo", "f_divergence_type", "alpha_divergence", "f_alpha_divergence_coef", "0.3"),
		kv("f_dpo", "f_divergence_type", "alpha_divergence", "f_alpha_divergence_coef", "0.9", "alpha_form", "paper"),
		kv("f_dpo", "f_divergence_type", "alpha_divergence", "f_alpha_divergence_coef", "0", "alpha_form", "trl"),
		kv("f_dpo", "f_divergence_type", "js_divergence", "loss_type", "ipo"),
		kv("f_dpo", "f_divergence_type", "forward_kl", "reference_free", "true"),
		kv("f_dpo", "f_divergence_type", "alpha_divergence", "reference_free", "true", "f_alpha_divergence_coef", "0.2", "exp_clamp", "11"),
		kv("f_dpo", "f_divergence_type", "forward_kl", "loss_type", "apo_down"),
		kv("f_dpo", "f_divergence_type", "alpha_divergence", "loss_type", "nca_pair", "alpha_form", "paper", "f_alpha_divergence_coef", "0.5"),
		kv("simpo"),
		kv("simpo", "loss_type", "hinge"),
		kv("simpo", "label_smoothing", "0.1", "sft_weight", "0.5", "gamma_beta_ratio", "0.55", "beta", "2.5"),
		kv("cpl"),
		kv("cpl", "gamma", "0.9", "lam", "0.5", "alpha", "0.2"),
		kv("cpl", "bc_coeff", "0.5", "bc_data", "all"),
		kv("cpl", "bc_coeff", "0.5", "bc_data", "pos", "gamma", "0.8"),
		kv("cpl", "reference", "true", "gamma", "0.85", "lam", "0.6", "bc_coeff", "0.3"),
		kv("cpl", "reference", "true", "bc_data", "pos", "bc_coeff", "0.2", "bc_steps", "5"),
		kv("cpl_ranked"),
		kv("cpl_ranked", "lam", "0.7", "gamma", "0.95"),
		kv("curry_dpo"),
		kv("curry_dpo", "stage", "2"),
		kv("curry_dpo", "stage", "0", "scheme", "all_pairs"),
		kv("curry_dpo", "order", "reverse", "stage", "1"),
		kv("curry_dpo", "order", "random", "seed", "7"),
		kv("inpo"),
		kv("inpo", "tau", "0", "eta", "0.01"),
		kv("dno"),
		kv("dno_prct"),
		kv("dno_prct", "eta", "0.05"),
		kv("srpo"),
		kv("srpo", "alpha", "0.5", "p", "0.7"),
		kv("srpo", "alpha", "0"),
		kv("apo"),
		kv("apo", "form", "sppo"),
		kv("hypo"),
		kv("hypo", "kl_estimator", "reinforce"),
		kv("hypo", "kl_estimator", "k2"),
	)
	return vs
}

func mustNew(t testing.TB, v variant) Objective {
	t.Helper()
	obj, err := New(v.name, v.params)
	if err != nil {
		t.Fatalf("%v: %v", v, err)
	}
	return obj
}

// randomBatch fills every input of obj with plausible random values for n examples.
func randomBatch(obj Objective, n int, r *rand.Rand) *Batch {
	b := &Batch{}
	for _, name := range obj.Inputs() {
		if p := b.Scalar(name); p != nil {
			col := make([]float64, n)
			for i := range col {
				switch {
				case strings.HasPrefix(name, "len_"):
					col[i] = float64(1 + r.IntN(30))
				case name == "r_1" || name == "r_2":
					col[i] = r.Float64()
				default:
					col[i] = -5 - 40*r.Float64()
				}
			}
			*p = col
			continue
		}
		if p := b.Array(name); p != nil {
			col := make([][]float64, n)
			for i := range col {
				k := 0
				switch name {
				case "tok_w", "tok_l":
					k = r.IntN(7)
				case "pi", "ref", "scores":
					k = 5
				case "on_pi", "on_ref":
					k = 4
				}
				col[i] = make([]float64, k)
				for j := range col[i] {
					if name == "scores" {
						col[i][j] = float64(1 + r.IntN(4)) // ties happen
					} else if name == "tok_w" || name == "tok_l" {
						col[i][j] = -3 * r.Float64()
					} else {
						col[i][j] = -5 - 40*r.Float64()
					}
				}
			}
			*p = col
			continue
		}
		if p := b.Nested(name); p != nil {
			col := make([][][]float64, n)
			for i := range col {
				col[i] = make([][]float64, 4)
				for j := range col[i] {
					col[i][j] = make([]float64, 1+r.IntN(4))
					for t := range col[i][j] {
						col[i][j][t] = -3 * r.Float64()
					}
				}
			}
			*p = col
		}
	}
	// Curry's scores must sit beside pi/ref of the same length; scores ranges are fixed above.
	// CPL ranked lists carry one score per segment.
	fitRef(b, func(t int) float64 { return -0.3 - 1.7*r.Float64() })
	if b.Toks != nil {
		b.Scores = make([][]float64, n)
		for i := range b.Scores {
			b.Scores[i] = []float64{float64(r.IntN(3)), float64(r.IntN(3)), float64(r.IntN(3)), float64(r.IntN(3))}
		}
	}
	return b
}

// fitRef gives CPL's per-token reference inputs (when the objective reads them) the lengths of
// tok_w and tok_l: tref = tok + off(t).
func fitRef(b *Batch, off func(t int) float64) {
	if b.TrefW == nil {
		return
	}
	fit := func(tok [][]float64) [][]float64 {
		out := make([][]float64, len(tok))
		for i := range tok {
			out[i] = make([]float64, len(tok[i]))
			for t := range tok[i] {
				out[i][t] = tok[i][t] + off(t)
			}
		}
		return out
	}
	b.TrefW, b.TrefL = fit(b.TokW), fit(b.TokL)
}

// entryRef points at one number of a batch, by input name and indices.
type entryRef struct {
	name    string
	b, j, t int // example, array index, token index (as applicable)
}

func (e entryRef) String() string { return fmt.Sprintf("%s[%d][%d][%d]", e.name, e.b, e.j, e.t) }

func (e entryRef) ptr(x *Batch) *float64 {
	if p := x.Scalar(e.name); p != nil {
		return &(*p)[e.b]
	}
	if p := x.Array(e.name); p != nil {
		return &(*p)[e.b][e.j]
	}
	return &(*x.Nested(e.name))[e.b][e.j][e.t]
}

// entries lists every number of the named inputs in x.
func entriesOf(x *Batch, names []string) []entryRef {
	var out []entryRef
	for _, name := range names {
		if p := x.Scalar(name); p != nil {
			for b := range *p {
				out = append(out, entryRef{name: name, b: b})
			}
		} else if p := x.Array(name); p != nil {
			for b := range *p {
				for j := range (*p)[b] {
					out = append(out, entryRef{name: name, b: b, j: j})
				}
			}
		} else if p := x.Nested(name); p != nil {
			for b := range *p {
				for j := range (*p)[b] {
					for t := range (*p)[b][j] {
						out = append(out, entryRef{name: name, b: b, j: j, t: t})
					}
				}
			}
		}
	}
	return out
}

func lossOf(t testing.TB, obj Objective, in *Batch) float64 {
	t.Helper()
	res, err := obj.Loss(in, nil)
	if err != nil {
		t.Fatalf("%s: %v", obj.Name(), err)
	}
	return res.Loss
}

// checkFD compares the analytic gradient of every differentiated entry (except those in skip)
// with a central finite difference.
func checkFD(t *testing.T, label string, obj Objective, in *Batch, skip map[string]bool) {
	t.Helper()
	grad := NewGrad(obj, in)
	res, err := obj.Loss(in, grad)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	checkFinite(t, label, obj, res, grad)
	for _, e := range entriesOf(in, obj.Differentiated()) {
		if skip[e.name] {
			continue
		}
		p := e.ptr(in)
		x0 := *p
		an := *e.ptr(grad)
		// Absolute steps: the inputs' curvature scale does not grow with their magnitude.
		// A second, smaller step covers the steep exp(-u) forms (forward KL, alpha) where the
		// first step moves the margin too far; the check passes when either agrees.
		var msgs []string
		ok := false
		for _, h := range []float64{1e-4, 1e-7} {
			xp, xm := x0+h, x0-h
			*p = xp
			lp := lossOf(t, obj, in)
			*p = xm
			lm := lossOf(t, obj, in)
			*p = x0
			fd := (lp - lm) / (xp - xm)
			// Central differences are exact to O(h^2); the loss's rounding error adds about
			// eps*|L|/h.
			tol := 1e-6 + 1e-5*math.Abs(fd) + 4e-16*math.Abs(res.Loss)/h
			if math.Abs(fd-an) <= tol {
				ok = true
				break
			}
			msgs = append(msgs, fmt.Sprintf("h=%g: %.12g (tol %.3g)", h, fd, tol))
		}
		if !ok {
			t.Errorf("%s: d/d%s: analytic %.12g, finite differences %v", label, e, an, msgs)
		}
	}
}

func checkFinite(t *testing.T, label string, obj Objective, res Result, grad *Batch) {
	t.Helper()
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	if bad(res.Loss) {
		t.Errorf("%s: loss %v", label, res.Loss)
	}
	for k, v := range res.Metrics {
		if bad(v) {
			t.Errorf("%s: metric %s = %v", label, k, v)
		}
	}
	if grad == nil {
		return
	}
	for _, e := range entriesOf(grad, obj.Differentiated()) {
		if v := *e.ptr(grad); bad(v) {
			t.Errorf("%s: gradient %s = %v", label, e, v)
		}
	}
}
