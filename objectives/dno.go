package objectives

import "fmt"

// DNO is the theoretical Direct Nash Optimization loss (Rosset et al. 2024, arXiv 2404.03715,
// Alg. 1, Eq. 8; confirmed from the paper): a soft-label regression of the
// policy's log-ratio margin over the previous iterate pi_t onto the oracle's win rates.
//
//	z = eta((pi_1 - prev_1) - (pi_2 - prev_2)),   q = sigmoid(r_1 - r_2)
//	L = -(q logsig(z) + (1-q) logsig(-z)),        dL/dpi_1 = eta(sigmoid(z) - q) = -dL/dpi_2
//
// r_i is y_i's win rate against pi_t as estimated by the oracle (not differentiated). Default
// eta 0.1 (the value the paper uses for DNO-Prct). Metrics: z and q (means); the TRL reward
// metrics do not apply, as neither response is labelled chosen.
type DNO struct {
	Eta float64
}

// Name implements Objective.
func (d *DNO) Name() string { return "dno" }

// Inputs implements Objective.
func (d *DNO) Inputs() []string { return []string{"pi_1", "pi_2", "prev_1", "prev_2", "r_1", "r_2"} }

// Differentiated implements Objective.
func (d *DNO) Differentiated() []string { return []string{"pi_1", "pi_2"} }

// Validate checks the parameters.
func (d *DNO) Validate() error { return positive(d.Name(), "eta", d.Eta) }

// Loss implements Objective.
func (d *DNO) Loss(in, grad *Batch) (Result, error) {
	if err := d.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(d, in, grad)
	if err != nil {
		return Result{}, err
	}
	for i := 0; i < n; i++ {
		if err := winRate("r_1", i, in.R1[i]); err != nil {
			return Result{}, err
		}
		if err := winRate("r_2", i, in.R2[i]); err != nil {
			return Result{}, err
		}
	}
	inv := 1 / float64(max(n, 1))
	total, sumZ, sumQ := 0.0, 0.0, 0.0
	for i := 0; i < n; i++ {
		z := d.Eta * ((in.Pi1[i] - in.Prev1[i]) - (in.Pi2[i] - in.Prev2[i]))
		q := sigmoid(in.R1[i] - in.R2[i])
		total += q*softplus(-z) + (1-q)*softplus(z)
		sumZ += z
		sumQ += q
		if grad != nil {
			g := d.Eta * (sigmoid(z) - q) * inv
			grad.Pi1[i] = g
			grad.Pi2[i] = -g
		}
	}
	return Result{Loss: total * inv, Metrics: map[string]float64{"z": sumZ * inv, "q": sumQ * inv}}, nil
}

// winRate checks that a DNO soft label is a win rate, a probability in [0, 1].
func winRate(name string, i int, r float64) error {
	if !(r >= 0 && r <= 1) {
		return fmt.Errorf("objectives: dno: example %d: %s = %v is not a win rate in [0, 1]", i, name, r)
	}
	return nil
}

func dnoInfo() Info {
	return Info{Name: "dno", Summary: "DNO (theoretical): soft-label regression of the margin over pi_t onto oracle win rates",
		Paper:  "Rosset et al. 2024, Direct Nash Optimization, arXiv 2404.03715, Alg. 1, Eq. 8",
		Params: []Param{{Name: "eta", Type: "float", Default: "0.1", Range: "(0, inf)", Doc: "scale of the log-ratio margin"}}}
}

func dnoFromParams(p *params) (*DNO, error) {
	d := &DNO{Eta: p.float("eta")}
	if p.err != nil {
		return nil, p.err
	}
	return d, d.Validate()
}

// DNOPrct is DNO-Prct (Rosset et al. 2024, arXiv 2404.03715, Alg. 2, Eq. 13): DPO with the
// previous iterate pi_t as reference and beta = eta (0.1 or 0.05 in the paper):
//
//	L = -logsig(eta(pi_w - prev_w) - eta(pi_l - prev_l))
//
// Default eta 0.1. Metrics: TRL names with rewards eta*(pi - prev).
type DNOPrct struct {
	Eta float64
}

// Name implements Objective.
func (d *DNOPrct) Name() string { return "dno_prct" }

// Inputs implements Objective.
func (d *DNOPrct) Inputs() []string { return []string{"pi_w", "pi_l", "prev_w", "prev_l"} }

// Differentiated implements Objective.
func (d *DNOPrct) Differentiated() []string { return []string{"pi_w", "pi_l"} }

// Validate checks the parameters.
func (d *DNOPrct) Validate() error { return positive(d.Name(), "eta", d.Eta) }

// Loss implements Objective.
func (d *DNOPrct) Loss(in, grad *Batch) (Result, error) {
	if err := d.Validate(); err != nil {
		return Result{}, err
	}
	n, err := prepare(d, in, grad)
	if err != nil {
		return Result{}, err
	}
	c := pairConst{kind: lossSigmoid, beta: d.Eta}
	var gw, gl []float64
	if grad != nil {
		gw, gl = grad.PiW, grad.PiL
	}
	var m pairMetrics
	total := pairBatch(&c, &psi{}, in.PiW, in.PiL, in.PrevW, in.PrevL, nil, nil, gw, gl, n, &m)
	out := map[string]float64{}
	m.put(out, n)
	return Result{Loss: total / float64(max(n, 1)), Metrics: out}, nil
}

func dnoPrctInfo() Info {
	return Info{Name: "dno_prct", Summary: "DNO-Prct: DPO with reference = previous iterate and beta = eta",
		Paper:  "Rosset et al. 2024, Direct Nash Optimization, arXiv 2404.03715, Alg. 2, Eq. 13",
		Params: []Param{{Name: "eta", Type: "float", Default: "0.1", Range: "(0, inf)", Doc: "DPO beta of each iteration (paper: 0.1 or 0.05)"}}}
}

func dnoPrctFromParams(p *params) (*DNOPrct, error) {
	d := &DNOPrct{Eta: p.float("eta")}
	if p.err != nil {
		return nil, p.err
	}
	return d, d.Validate()
}
