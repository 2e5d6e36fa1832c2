// Package objectives is align's preference-loss library: DPO and its TRL loss types, f-DPO,
// SimPO, CPL (pairs and ranked lists), Curry-DPO, INPO, DNO and DNO-Prct, SRPO, APO and HyPO.
//
// It sees only numbers: per-sequence (or per-token) policy and reference log-probs, lengths,
// scores and online samples' log-probs. Each Objective takes a columnar Batch and returns the
// batch loss and metrics named as TRL names them (rewards/chosen, rewards/accuracies, ...),
// and writes dL/d(input) for every differentiated input into a caller-provided gradient Batch
// of the same shape (NewGrad). Everything inside is float64 and uses stable forms (softplus,
// log-sigmoid); bad parameters are errors, never NaNs. The formulas follow
// ../shared/design/OBJECTIVES.md (docs/objectives.md for users); each file cites its paper and
// equation and says which parts are derived rather than read.
//
// Typical use from a training loop:
//
//	obj, err := objectives.New("dpo", map[string]string{"beta": "0.1"}) // or &objectives.DPO{...}
//	in := &objectives.Batch{PiW: piW, PiL: piL, RefW: refW, RefL: refL, LenW: lenW, LenL: lenL}
//	grad := objectives.NewGrad(obj, in) // reuse across steps of the same shape
//	res, err := obj.Loss(in, grad)      // grad.PiW[i] = dL/dpi_w[i], already divided by B
//
// The package also owns the pair rules that need no model: CurryPairs (Curry-DPO pair
// construction and curriculum order), DNOPairs and DNOReplayCounts (DNO-Prct).
//
// It knows nothing of models, tokenizers or data files.
package objectives
