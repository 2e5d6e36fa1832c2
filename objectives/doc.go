// Package objectives is align's preference-loss library: DPO and its TRL loss types, f-DPO,
// SimPO, CPL (pairs and ranked lists), Curry-DPO, INPO, DNO and DNO-Prct, SRPO, APO and HyPO.
//
// It sees only numbers: per-sequence (or per-token) policy and reference log-probs, lengths,
// scores and online samples' log-probs. Each Objective takes a columnar Batch and returns the
// batch loss and metrics named as TRL names them (rewards/chosen, rewards/accuracies, ...),
// and writes dL/d(input) for every differentiated input into a caller-provided gradient Batch
// of the same shape (NewGrad). Everything inside is float64 and uses stable forms (softplus,
// log-sigmoid); bad parameters are errors, never NaNs. docs/objectives.md gives every formula
// with its paper; each file cites its paper and equation (or the official code it follows) and
// says which parts are derived rather than read.
//
// Typical use from a training loop:
//
//	obj, err := objectives.Build("dpo", objectives.Params{"beta": 0.1}) // or &objectives.DPO{...}
//	in := &objectives.Batch{PiW: piW, PiL: piL, RefW: refW, RefL: refL, LenW: lenW, LenL: lenL}
//	grad := objectives.NewGrad(obj, in) // reuse across steps of the same shape
//	res, err := obj.Loss(in, grad)      // grad.PiW[i] = dL/dpi_w[i], already divided by B
//
// Registry is the one table of objectives (parameters, defaults, ranges, papers, and the data
// the training loop feeds each); recipes and train read it. Build takes typed parameter values,
// New their command-line string form. CurryPairs (Curry-DPO's pairs and curriculum order) stays
// here because the curry_dpo loss applies it to each prompt's ranked list.
//
// It knows nothing of models, tokenizers or data files.
package objectives
