package objectives

import (
	"math"
	"testing"
)

// rewardRef is TRL's RewardTrainer loss written out independently in float64:
// mean(−log(1/(1+exp(−(rc−rr−m))))) + coef·mean((rc+rr)²).
func rewardRef(rc, rr, m []float64, coef float64) float64 {
	var l, c float64
	for i := range rc {
		mi := 0.0
		if m != nil {
			mi = m[i]
		}
		l += -math.Log(1 / (1 + math.Exp(-(rc[i] - rr[i] - mi))))
		c += (rc[i] + rr[i]) * (rc[i] + rr[i])
	}
	n := float64(len(rc))
	return l/n + coef*c/n
}

func TestRewardModelLossKnownValues(t *testing.T) {
	rc := []float64{1.5, -0.25, 0.75, 2}
	rr := []float64{0.5, 0.5, 0.75, -1}
	m := []float64{0.25, 0, 1, 0.5}
	// Pair 0 by hand: z = 1.5 − 0.5 − 0.25 = 0.75, −log σ(0.75) = log(1 + e^−0.75) = 0.386871006...
	if got := -logsig(0.75); math.Abs(got-0.38687100611489994) > 1e-12 {
		t.Fatalf("−log σ(0.75) = %.17g", got)
	}
	for _, c := range []struct {
		m    []float64
		coef float64
	}{{nil, 0}, {m, 0}, {m, 0.01}, {nil, 0.5}} {
		o := RewardModel{CenterRewardsCoefficient: c.coef}
		gc, gr := make([]float64, 4), make([]float64, 4)
		res, err := o.Pairs(rc, rr, c.m, gc, gr)
		if err != nil {
			t.Fatal(err)
		}
		want := rewardRef(rc, rr, c.m, c.coef)
		if math.Abs(res.Loss-want) > 1e-12 {
			t.Errorf("margin %v coef %g: loss %.15g, want %.15g", c.m != nil, c.coef, res.Loss, want)
		}
		// Gradients by central differences of the independent reference.
		const h = 1e-6
		for i := range rc {
			for side, g := range [][]float64{gc, gr} {
				x := [][]float64{rc, rr}[side]
				x0 := x[i]
				x[i] = x0 + h
				up := rewardRef(rc, rr, c.m, c.coef)
				x[i] = x0 - h
				down := rewardRef(rc, rr, c.m, c.coef)
				x[i] = x0
				if fd := (up - down) / (2 * h); math.Abs(fd-g[i]) > 1e-8 {
					t.Errorf("margin %v coef %g: d/d%s[%d] = %.10g, finite difference %.10g", c.m != nil, c.coef, []string{"r_c", "r_r"}[side], i, g[i], fd)
				}
			}
		}
	}
	res, _ := (&RewardModel{}).Pairs(rc, rr, nil, nil, nil)
	// accuracy: pairs 0 and 3 have r_c > r_r (pair 2 ties) → 2/4; margin mean(1, −0.75, 0, 3).
	for k, want := range map[string]float64{"accuracy": 0.5, "margin": 0.8125, "rewards/chosen": 1, "rewards/rejected": 0.1875,
		"min_reward": -1, "max_reward": 2, "mean_reward": 0.59375} {
		if math.Abs(res.Metrics[k]-want) > 1e-12 {
			t.Errorf("metric %s = %g, want %g", k, res.Metrics[k], want)
		}
	}
}

func TestRewardModelBadInput(t *testing.T) {
	o := RewardModel{}
	for name, f := range map[string]func() error{
		"empty":   func() error { _, err := o.Pairs(nil, nil, nil, nil, nil); return err },
		"shapes":  func() error { _, err := o.Pairs([]float64{1}, []float64{1, 2}, nil, nil, nil); return err },
		"margins": func() error { _, err := o.Pairs([]float64{1}, []float64{0}, []float64{1, 1}, nil, nil); return err },
		"nan":     func() error { _, err := o.Pairs([]float64{math.NaN()}, []float64{0}, nil, nil, nil); return err },
		"coef": func() error {
			_, err := (&RewardModel{CenterRewardsCoefficient: -1}).Pairs([]float64{1}, []float64{0}, nil, nil, nil)
			return err
		},
		"grad size": func() error { _, err := o.Pairs([]float64{1}, []float64{0}, nil, make([]float64, 2), nil); return err },
	} {
		if f() == nil {
			t.Errorf("%s accepted", name)
		}
	}
	// Extreme gaps stay finite and keep the gradient's sign.
	gc, gr := make([]float64, 2), make([]float64, 2)
	res, err := o.Pairs([]float64{800, -800}, []float64{-800, 800}, nil, gc, gr)
	if err != nil || math.IsInf(res.Loss, 0) || math.IsNaN(res.Loss) || math.Abs(res.Loss-800) > 1e-9 || gc[1] >= 0 || gr[1] <= 0 {
		t.Fatalf("extreme: %v %+v %v %v", err, res, gc, gr)
	}
}

// The registered objective reads the Batch columns and gives the same loss and gradients as
// Pairs (checked against the known values above), and builds from its parameter.
func TestRewardObjectiveRegistered(t *testing.T) {
	obj, err := Build("reward", Params{"center_rewards_coefficient": 0.01})
	if err != nil {
		t.Fatal(err)
	}
	in := &Batch{RC: []float64{1, -0.5}, RR: []float64{0.25, 0.5}, Margin: []float64{0, 1}}
	grad := NewGrad(obj, in)
	res, err := obj.Loss(in, grad)
	if err != nil {
		t.Fatal(err)
	}
	// Independent: mean(-log σ(0.75), -log σ(-2)) + 0.01·mean(1.25², 0²).
	want := (math.Log1p(math.Exp(-0.75))+math.Log1p(math.Exp(2)))/2 + 0.01*1.5625/2
	if math.Abs(res.Loss-want) > 1e-12 {
		t.Fatalf("loss %.15g, want %.15g", res.Loss, want)
	}
	// dL/dr_c of pair 0: −σ(−0.75)/2 + 2·0.01·1.25/2.
	if g := -1/(1+math.Exp(0.75))/2 + 0.0125; math.Abs(grad.RC[0]-g) > 1e-12 || math.Abs(grad.RR[1]-(1/(1+math.Exp(-2))/2+0.01*(-0)/2)) > 1e-12 {
		t.Fatalf("grads %v %v", grad.RC, grad.RR)
	}
	if _, err := Build("reward", Params{"center_rewards_coefficient": -1.0}); err == nil {
		t.Fatal("negative center_rewards_coefficient accepted")
	}
}
