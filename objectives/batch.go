package objectives

import "fmt"

// Batch is a columnar batch of examples: one slice per input, all of the same length (the
// number of examples), indexed by example. Only the inputs an objective lists in Inputs() need
// to be set; the rest stay nil.
//
// The same type carries the gradients: an objective's Loss writes dL/d(input) for every input
// it lists in Differentiated() into the same-named field of a caller-provided gradient Batch
// (see NewGrad). The batch loss is the mean over examples, so each gradient already includes
// the 1/B factor. Nothing is allocated per example on the per-sequence objectives' hot path.
//
// Field ↔ input-name mapping (the input names of `align objectives score`, docs/objectives.md):
//
//	PiW, PiL     pi_w, pi_l       policy log-prob sums of chosen (w) / rejected (l)
//	RefW, RefL   ref_w, ref_l     reference log-prob sums (constants)
//	LenW, LenL   len_w, len_l     completion token counts (>= 0; divisions use max(len, 1))
//	PrevW, PrevL prev_w, prev_l   previous-iterate (pi_t) sums
//	Pi1, Pi2, Prev1, Prev2, R1, R2  pi_1, pi_2, prev_1, prev_2, r_1, r_2 (DNO regression)
//	ImpW, ImpL, RimpW, RimpL        imp_w, imp_l, rimp_w, rimp_l (SRPO self-improvement)
//	SelfL, RselfL                   self_l, rself_l (SRPO self-only term; align extension)
//	HatW, HatL, HatmW, HatmL        hat_w, hat_l, hatm_w, hatm_l (APO checkpoints t and t-1)
//	TokW, TokL   tok_w[], tok_l[]  per-token policy log-probs (CPL)
//	TrefW, TrefL tref_w[], tref_l[]  per-token reference log-probs (CPL with reference)
//	Pi, Ref, Scores  pi[], ref[], scores[]  one prompt's ranked responses (Curry-DPO)
//	OnPi, OnRef  on_pi[], on_ref[]  online samples' log-prob sums (HyPO)
//	Toks         toks[][]          per-response per-token log-probs (CPL ranked lists)
//	RC, RR, Margin  r_chosen, r_rejected, margin  a reward model's rewards and the pair's margin
type Batch struct {
	PiW, PiL, RefW, RefL, LenW, LenL []float64
	PrevW, PrevL                     []float64
	Pi1, Pi2, Prev1, Prev2, R1, R2   []float64
	ImpW, ImpL, RimpW, RimpL         []float64
	SelfL, RselfL                    []float64
	HatW, HatL, HatmW, HatmL         []float64
	RC, RR, Margin                   []float64

	TokW, TokL      [][]float64
	TrefW, TrefL    [][]float64
	Pi, Ref, Scores [][]float64
	OnPi, OnRef     [][]float64
	Toks            [][][]float64
}

// Shape says whether an input is one number, an array of numbers, or an array of arrays.
type Shape int

const (
	Scalar Shape = iota // one float64 per example
	Array               // one []float64 per example
	Nested              // one [][]float64 per example
)

// InputShape returns the shape of a named input, and false for an unknown name.
func InputShape(name string) (Shape, bool) {
	var b Batch
	if b.Scalar(name) != nil {
		return Scalar, true
	}
	if b.Array(name) != nil {
		return Array, true
	}
	if b.Nested(name) != nil {
		return Nested, true
	}
	return 0, false
}

// Scalar returns a pointer to the per-example scalar column of that name, or nil.
func (b *Batch) Scalar(name string) *[]float64 {
	switch name {
	case "pi_w":
		return &b.PiW
	case "pi_l":
		return &b.PiL
	case "ref_w":
		return &b.RefW
	case "ref_l":
		return &b.RefL
	case "len_w":
		return &b.LenW
	case "len_l":
		return &b.LenL
	case "prev_w":
		return &b.PrevW
	case "prev_l":
		return &b.PrevL
	case "pi_1":
		return &b.Pi1
	case "pi_2":
		return &b.Pi2
	case "prev_1":
		return &b.Prev1
	case "prev_2":
		return &b.Prev2
	case "r_1":
		return &b.R1
	case "r_2":
		return &b.R2
	case "imp_w":
		return &b.ImpW
	case "imp_l":
		return &b.ImpL
	case "rimp_w":
		return &b.RimpW
	case "rimp_l":
		return &b.RimpL
	case "self_l":
		return &b.SelfL
	case "rself_l":
		return &b.RselfL
	case "hat_w":
		return &b.HatW
	case "hat_l":
		return &b.HatL
	case "hatm_w":
		return &b.HatmW
	case "hatm_l":
		return &b.HatmL
	case "r_chosen":
		return &b.RC
	case "r_rejected":
		return &b.RR
	case "margin":
		return &b.Margin
	}
	return nil
}

// Array returns a pointer to the per-example array column of that name, or nil.
func (b *Batch) Array(name string) *[][]float64 {
	switch name {
	case "tok_w":
		return &b.TokW
	case "tok_l":
		return &b.TokL
	case "tref_w":
		return &b.TrefW
	case "tref_l":
		return &b.TrefL
	case "pi":
		return &b.Pi
	case "ref":
		return &b.Ref
	case "scores":
		return &b.Scores
	case "on_pi":
		return &b.OnPi
	case "on_ref":
		return &b.OnRef
	}
	return nil
}

// Nested returns a pointer to the per-example array-of-arrays column of that name, or nil.
func (b *Batch) Nested(name string) *[][][]float64 {
	if name == "toks" {
		return &b.Toks
	}
	return nil
}

// columnLen returns the number of examples in a named column.
func (b *Batch) columnLen(name string) int {
	if p := b.Scalar(name); p != nil {
		return len(*p)
	}
	if p := b.Array(name); p != nil {
		return len(*p)
	}
	if p := b.Nested(name); p != nil {
		return len(*p)
	}
	return -1
}

// Len returns the number of examples, as the length of the first input that the objective
// needs. It checks that every needed input has that length.
func (b *Batch) Len(inputs []string) (int, error) {
	n := -1
	for _, name := range inputs {
		l := b.columnLen(name)
		if l < 0 {
			return 0, fmt.Errorf("objectives: unknown input %q", name)
		}
		if n < 0 {
			n = l
			continue
		}
		if l != n {
			return 0, fmt.Errorf("objectives: input %q has %d examples, %q has %d", name, l, inputs[0], n)
		}
	}
	if n < 0 {
		n = 0
	}
	return n, nil
}

// NewGrad allocates a gradient Batch for obj shaped like in: every input in
// obj.Differentiated() gets a zeroed column of the same shape as in's. Reuse it across calls
// of the same shape to avoid allocating.
func NewGrad(obj Objective, in *Batch) *Batch {
	g := &Batch{}
	for _, name := range obj.Differentiated() {
		if p := g.Scalar(name); p != nil {
			*p = make([]float64, len(*in.Scalar(name)))
			continue
		}
		if p := g.Array(name); p != nil {
			src := *in.Array(name)
			*p = make([][]float64, len(src))
			for i := range src {
				(*p)[i] = make([]float64, len(src[i]))
			}
			continue
		}
		if p := g.Nested(name); p != nil {
			src := *in.Nested(name)
			*p = make([][][]float64, len(src))
			for i := range src {
				(*p)[i] = make([][]float64, len(src[i]))
				for j := range src[i] {
					(*p)[i][j] = make([]float64, len(src[i][j]))
				}
			}
		}
	}
	return g
}

// checkGrad verifies that grad (when not nil) has, for every differentiated input, a column of
// the same shape as in's, so that the hot loops may index it without further checks.
func checkGrad(obj Objective, in, grad *Batch) error {
	if grad == nil {
		return nil
	}
	for _, name := range obj.Differentiated() {
		if p := grad.Scalar(name); p != nil {
			if len(*p) != len(*in.Scalar(name)) {
				return fmt.Errorf("objectives: %s: gradient column %q has %d entries, want %d (use NewGrad)", obj.Name(), name, len(*p), len(*in.Scalar(name)))
			}
			continue
		}
		if p := grad.Array(name); p != nil {
			src := *in.Array(name)
			if len(*p) != len(src) {
				return fmt.Errorf("objectives: %s: gradient column %q has %d entries, want %d (use NewGrad)", obj.Name(), name, len(*p), len(src))
			}
			for i := range src {
				if len((*p)[i]) != len(src[i]) {
					return fmt.Errorf("objectives: %s: gradient %q example %d has %d entries, want %d", obj.Name(), name, i, len((*p)[i]), len(src[i]))
				}
			}
			continue
		}
		if p := grad.Nested(name); p != nil {
			src := *in.Nested(name)
			if len(*p) != len(src) {
				return fmt.Errorf("objectives: %s: gradient column %q has %d entries, want %d (use NewGrad)", obj.Name(), name, len(*p), len(src))
			}
			for i := range src {
				if len((*p)[i]) != len(src[i]) {
					return fmt.Errorf("objectives: %s: gradient %q example %d has %d lists, want %d", obj.Name(), name, i, len((*p)[i]), len(src[i]))
				}
				for j := range src[i] {
					if len((*p)[i][j]) != len(src[i][j]) {
						return fmt.Errorf("objectives: %s: gradient %q example %d list %d has %d entries, want %d", obj.Name(), name, i, j, len((*p)[i][j]), len(src[i][j]))
					}
				}
			}
		}
	}
	return nil
}

// prepare is the common entry of every Loss: it counts the examples and checks the gradient
// batch's shapes.
func prepare(obj Objective, in, grad *Batch) (int, error) {
	n, err := in.Len(obj.Inputs())
	if err != nil {
		return 0, fmt.Errorf("objectives: %s: %w", obj.Name(), err)
	}
	if err := checkGrad(obj, in, grad); err != nil {
		return 0, err
	}
	return n, nil
}

// sameLen checks that two per-example arrays pair up (tok_w with nothing, on_pi with on_ref,
// pi with ref and scores).
func sameLen(obj, a, b string, i int, x, y []float64) error {
	if len(x) != len(y) {
		return fmt.Errorf("objectives: %s: example %d: %s has %d entries but %s has %d", obj, i, a, len(x), b, len(y))
	}
	return nil
}
