package objectives

// SRPO is Self-Improving Robust Preference Optimization (Choi et al., ICLR 2025, arXiv
// 2406.01660; docs/objectives.md, "srpo"). One model plays the generative policy pi(y|x) and the
// self-improvement policy pi(y'|x, y) (the same model prompted with x and a response to rewrite).
// The structure (a min-max game reduced to an offline loss L_alpha, a convex combination of two
// squared losses) is confirmed; the component formulas below are DERIVED from the closed-form
// solutions, not quoted: the paper body could not be read.
//
//	h_gen   = (pi_w - ref_w) - (pi_l - ref_l)
//	h_imp   = (imp_w - rimp_w) - (imp_l - rimp_l)
//	          imp_w = log pi(y_w | x, y_l), imp_l = log pi(y_l | x, y_w); rimp_* under ref
//	L_joint = (beta (h_imp + h_gen) - (2p - 1))^2        p = P(y_w > y_l), 1 for hard labels
//	L_self  = (beta [(imp_w - rimp_w) - (self_l - rself_l)] - 1/2)^2     (DERIVED candidate,
//	          from P(y > y) = 1/2; self_l = log pi(y_l | x, y_l), rself_l under ref)
//	L       = alpha L_joint + (1 - alpha) L_self
//
// The inputs self_l and rself_l are an align extension (the spec's input table has none for the
// self-only term); they are required only when alpha < 1. Defaults: alpha 1 (joint only, until
// the paper settles it), p 1, beta 0.1 (DPO's default; the paper's value is unverified).
// Metrics: h_gen, h_imp (means), TRL names with rewards beta*(pi - ref).
type SRPO struct {
	Beta, Alpha, P float64
}

// DefaultSRPO returns SRPO's documented defaults.
func DefaultSRPO() SRPO { return SRPO{Beta: 0.1, Alpha: 1, P: 1} }

// Name implements Objective.
func (s *SRPO) Name() string { return "srpo" }

// Inputs implements Objective.
func (s *SRPO) Inputs() []string {
	in := []string{"pi_w", "pi_l", "ref_w", "ref_l", "imp_w", "imp_l", "rimp_w", "rimp_l"}
	if s.Alpha < 1 {
		in = append(in, "self_l", "rself_l")
	}
	return in
}

// Differentiated implements Objective.
func (s *SRPO) Differentiated() []string {
	d := []string{"pi_w", "pi_l", "imp_w", "imp_l"}
	if s.Alpha < 1 {
		d = append(d, "self_l")
	}
	return d
}

// Validate checks the parameters.
func (s *SRPO) Validate() error {
	if err := positive(s.Name(), "beta", s.Beta); err != nil {
		return err
	}
	if err := inRange(s.Name(), "alpha", s.Alpha, 0, 1, false, false); err != nil {
		return err
	}
	return inRange(s.Name(), "p", s.P, 0, 1, false, false)
}

// Loss implements Objective.
func (s *SRPO) Loss(in, grad *Batch) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(s, in, grad)
	if err != nil {
		return Result{}, err
	}
	inv := 1 / float64(max(n, 1))
	b, a, target := s.Beta, s.Alpha, 2*s.P-1
	self := a < 1
	var m pairMetrics
	total, sumGen, sumImp := 0.0, 0.0, 0.0
	for i := 0; i < n; i++ {
		uw, ul := in.PiW[i]-in.RefW[i], in.PiL[i]-in.RefL[i]
		hGen := uw - ul
		vw := in.ImpW[i] - in.RimpW[i]
		hImp := vw - (in.ImpL[i] - in.RimpL[i])
		ej := b*(hImp+hGen) - target
		l := a * ej * ej
		gj := 2 * b * ej * a * inv
		var es, gs float64
		if self {
			es = b*(vw-(in.SelfL[i]-in.RselfL[i])) - 0.5
			l += (1 - a) * es * es
			gs = 2 * b * es * (1 - a) * inv
		}
		total += l
		sumGen += hGen
		sumImp += hImp
		if grad != nil {
			grad.PiW[i] = gj
			grad.PiL[i] = -gj
			grad.ImpW[i] = gj + gs
			grad.ImpL[i] = -gj
			if self {
				grad.SelfL[i] = -gs
			}
		}
		m.add(b*uw, b*ul, in.PiW[i], in.PiL[i])
	}
	out := map[string]float64{"h_gen": sumGen * inv, "h_imp": sumImp * inv}
	m.put(out, n)
	return Result{Loss: total * inv, Metrics: out}, nil
}

func srpoInfo() Info {
	return Info{Name: "srpo", Summary: "SRPO: joint generative + self-improvement squared loss (derived form), alpha-mixed with a self-only term",
		Paper: "Choi et al. 2025, Self-Improving Robust Preference Optimization, arXiv 2406.01660 (loss components derived)",
		Params: []Param{
			{Name: "beta", Type: "float", Default: "0.1", Range: "(0, inf)", Doc: "KL strength (paper value unverified; DPO default)"},
			{Name: "alpha", Type: "float", Default: "1", Range: "[0, 1]", Doc: "weight of L_joint; 1 - alpha weighs the derived self-only term (alpha < 1 adds inputs self_l, rself_l)"},
			{Name: "p", Type: "float", Default: "1", Range: "[0, 1]", Doc: "preference probability P(y_w > y_l); 1 for hard labels"},
		}}
}

func srpoFromParams(p *params) (*SRPO, error) {
	s := &SRPO{Beta: p.float("beta"), Alpha: p.float("alpha"), P: p.float("p")}
	if p.err != nil {
		return nil, p.err
	}
	return s, s.Validate()
}
