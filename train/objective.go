package train

import (
	"fmt"

	"github.com/alignkit/align/objectives"
	"github.com/alignkit/align/recipes"
)

// buildObjective makes the objective a recipe names, from the recipe's typed parameter values
// (recipes.Recipe.ObjectiveParams: objective.params plus the top-level beta, loss_type,
// label_smoothing and reference.free). Curry-DPO trains plain DPO on each stage's pairs, so it
// is validated as curry_dpo and then built as dpo with the same beta, loss_type and
// label_smoothing.
func buildObjective(r recipes.Recipe) (objectives.Objective, error) {
	p, err := r.ObjectiveParams()
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	obj, err := objectives.Build(r.Objective.Name, p)
	if err != nil {
		return nil, fmt.Errorf("train: objective.params: %w", err)
	}
	if r.Objective.Name == "curry_dpo" {
		return objectives.Build("dpo", objectives.Params{"beta": r.Beta, "loss_type": r.LossType, "label_smoothing": r.LabelSmoothing})
	}
	return obj, nil
}

// source says where a named objective input comes from: which model's log-probs (policy,
// reference, the previous iterate pi_t, or the one before it pi_{t-1}) of which of an example's
// sequences, and whether it is a sum, a token count, or per-token values; or, for "label", one
// of the example's scalar labels (DNO's win rates).
type source struct {
	model string // policy, ref, prev, prevm, len, label
	seq   string // w, l, imp_w, imp_l, self_l, on (all online samples)
}

// sourceOf maps an objective input name (docs/objectives.md, "Inputs of align objectives
// score") to its source. DNO's pair (y_1, y_2) is the example's (w, l): pi_1, prev_1 and r_1
// read the chosen side, pi_2, prev_2 and r_2 the rejected one; r_1, r_2 are the pair's scores.
func sourceOf(input string) (source, bool) {
	switch input {
	case "pi_w", "tok_w", "pi_1":
		return source{"policy", "w"}, true
	case "pi_l", "tok_l", "pi_2":
		return source{"policy", "l"}, true
	case "ref_w", "tref_w":
		return source{"ref", "w"}, true
	case "ref_l", "tref_l":
		return source{"ref", "l"}, true
	case "prev_1":
		return source{"prev", "w"}, true
	case "prev_2":
		return source{"prev", "l"}, true
	case "r_1":
		return source{"label", "w"}, true
	case "r_2":
		return source{"label", "l"}, true
	case "len_w":
		return source{"len", "w"}, true
	case "len_l":
		return source{"len", "l"}, true
	case "prev_w", "hat_w":
		return source{"prev", "w"}, true
	case "prev_l", "hat_l":
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
	case "on_ref":
		return source{"ref", "on"}, true
	case "r_chosen":
		return source{"reward", "w"}, true
	case "r_rejected":
		return source{"reward", "l"}, true
	case "margin":
		return source{"label", "margin"}, true
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
		if s.model == "label" {
			continue
		}
		if s.model == "reward" { // the head's rewards of the pair's sequences (rewardMicroBatch)
			add(&n.all, s.seq)
			continue
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
		if !ok || (s.model != "policy" && s.model != "reward") {
			return n, fmt.Errorf("train: objective %s differentiates %q, which is not a policy log-prob", obj.Name(), d)
		}
	}
	return n, nil
}
