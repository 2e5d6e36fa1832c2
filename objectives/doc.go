// Package objectives is align's preference-loss library: DPO and its TRL loss types, f-DPO,
// SimPO, CPL, Curry-DPO, INPO, DNO, SRPO, APO and HyPO.
//
// It sees only numbers: per-sequence (or per-token) policy and reference log-probs, lengths and
// scores. Each objective returns the batch loss, its gradient with respect to every policy input,
// and metrics named as TRL names them. Everything inside is float64 and uses stable forms
// (softplus, log-sigmoid). The formulas follow ../shared/design/OBJECTIVES.md; each file cites
// its paper and equation.
//
// It knows nothing of models, tokenizers or data files.
package objectives
