package train

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/alignkit/align/objectives"
	"github.com/alignkit/align/recipes"
)

// buildObjective makes the objective a recipe names. The top-level beta, loss_type and
// label_smoothing go to the objective when it has parameters of those names, and
// reference.free sets reference_free where the objective offers it. Curry-DPO trains plain DPO on
// each stage's pairs, so it is validated as curry_dpo and then built as dpo.
func buildObjective(r recipes.Recipe) (objectives.Objective, error) {
	name := r.Objective.Name
	var info *objectives.Info
	for _, in := range objectives.Registry() {
		if in.Name == name {
			info = &in
			break
		}
	}
	if info == nil {
		return nil, fmt.Errorf("train: objective %q is not in the objectives library (have %s)", name, strings.Join(objectives.Names(), ", "))
	}
	has := map[string]bool{}
	for _, p := range info.Params {
		has[p.Name] = true
	}
	raw := map[string]string{}
	keys := make([]string, 0, len(r.Objective.Params))
	for k := range r.Objective.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw[k] = paramString(r.Objective.Params[k])
	}
	if has["beta"] {
		raw["beta"] = strconv.FormatFloat(r.Beta, 'g', -1, 64)
	}
	if has["loss_type"] {
		raw["loss_type"] = r.LossType
	}
	if has["label_smoothing"] {
		raw["label_smoothing"] = strconv.FormatFloat(r.LabelSmoothing, 'g', -1, 64)
	}
	if has["reference_free"] && r.Reference.Free {
		raw["reference_free"] = "true"
	}
	obj, err := objectives.New(name, raw)
	if err != nil {
		return nil, fmt.Errorf("train: objective.params: %w", err)
	}
	if name == "curry_dpo" {
		dpo := map[string]string{"beta": raw["beta"], "loss_type": r.LossType, "label_smoothing": strconv.FormatFloat(r.LabelSmoothing, 'g', -1, 64)}
		return objectives.New("dpo", dpo)
	}
	return obj, nil
}

func paramString(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

// source says where a named objective input comes from: which model's log-probs (policy,
// reference, the previous iterate pi_t, or the one before it pi_{t-1}) of which of an example's
// sequences, and whether it is a sum, a token count, or per-token values.
type source struct {
	model string // policy, ref, prev, prevm, len
	seq   string // w, l, imp_w, imp_l, self_l, on (all online samples)
}

// sourceOf maps an objective input name (OBJECTIVES.md) to its source.
func sourceOf(input string) (source, bool) {
	switch input {
	case "pi_w", "tok_w", "pi_1":
		return source{"policy", "w"}, true
	case "pi_l", "tok_l", "pi_2":
		return source{"policy", "l"}, true
	case "ref_w":
		return source{"ref", "w"}, true
	case "ref_l":
		return source{"ref", "l"}, true
	case "len_w":
		return source{"len", "w"}, true
	case "len_l":
		return source{"len", "l"}, true
	case "prev_w", "hat_w", "prev_1":
		return source{"prev", "w"}, true
	case "prev_l", "hat_l", "prev_2":
		return source{"prev", "l"}, true
	case "hatm_w":
		return source{"prevm", "w"}, true
	case "hatm_l":
		return source{"prevm", "l"}, true
	case "imp_w":
		return source{"policy", "imp_w"}, true
	case "imp_l":
		return source{"policy", "imp_l"}, true
	case "rimp_w":
		return source{"ref", "imp_w"}, true
	case "rimp_l":
		return source{"ref", "imp_l"}, true
	case "self_l":
		return source{"policy", "self_l"}, true
	case "rself_l":
		return source{"ref", "self_l"}, true
	case "on_pi":
		return source{"policy", "on"}, true
	case "r_1": // theoretical DNO: the judge's win-rate estimates (pairs.WinRates)
		return source{"win", "w"}, true
	case "r_2":
		return source{"win", "l"}, true
	case "on_ref":
		return source{"ref", "on"}, true
	}
	return source{}, false
}

// needs lists, per model, the sequence kinds an objective reads, in a fixed order.
type needs struct {
	policy, ref, prev, prevm []string
	all                      []string // every sequence kind any input reads
}

func needsOf(obj objectives.Objective) (needs, error) {
	var n needs
	add := func(list *[]string, s string) {
		for _, x := range *list {
			if x == s {
				return
			}
		}
		*list = append(*list, s)
	}
	for _, in := range obj.Inputs() {
		s, ok := sourceOf(in)
		if !ok {
			return n, fmt.Errorf("train: objective %s reads input %q, which the training loop does not provide", obj.Name(), in)
		}
		switch s.model {
		case "policy":
			add(&n.policy, s.seq)
		case "ref":
			add(&n.ref, s.seq)
		case "prev":
			add(&n.prev, s.seq)
		case "prevm":
			add(&n.prevm, s.seq)
		}
		add(&n.all, s.seq)
	}
	for _, d := range obj.Differentiated() {
		s, ok := sourceOf(d)
		if !ok || s.model != "policy" {
			return n, fmt.Errorf("train: objective %s differentiates %q, which is not a policy log-prob", obj.Name(), d)
		}
	}
	return n, nil
}
