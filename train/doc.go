// Package train runs training: batching, the reference log-prob cache, the optimizer and its
// schedule, checkpoints, metrics and reports, and the online iterations (sample, judge, pair,
// train) of INPO, DNO, APO and HyPO.
//
// It joins the data, model, objectives and runtime packages; it holds no model maths and no loss
// formulas of its own.
package train
