package objectives

import (
	"math"
	"strings"
	"testing"
)

func TestBadParametersAreErrors(t *testing.T) {
	cases := []struct {
		v    variant
		want string
	}{
		{kv("dpo", "beta", "0"), "beta must be > 0"},
		{kv("dpo", "beta", "-1"), "beta must be > 0"},
		{kv("dpo", "beta", "NaN"), "not a finite number"},
		{kv("dpo", "label_smoothing", "0.5"), "label_smoothing must lie in [0, 0.5)"},
		{kv("dpo", "label_smoothing", "-0.1"), "label_smoothing"},
		{kv("dpo", "loss_type", "sigmod"), `did you mean "sigmoid"`},
		{kv("dpo", "loss_type", "ipoo"), `did you mean "ipo"`},
		{kv("dpo", "loss_type", "apo_zer"), `did you mean "apo_zero"`},
		{kv("dpo", "loss_type", "exo_pair"), "label_smoothing > 0"},
		{kv("dpo", "betta", "0.1"), `unknown parameter "betta" (did you mean "beta"`},
		{kv("dpo", "reference_free", "maybe"), "not true or false"},
		{kv("f_dpo", "f_divergence_type", "js"), `did you mean`},
		{kv("f_dpo", "f_divergence_type", "alpha_divergence", "alpha_form", "paper", "f_alpha_divergence_coef", "1"), "f_alpha_divergence_coef (alpha_form paper) must lie in (0, 1)"},
		{kv("f_dpo", "f_divergence_type", "alpha_divergence", "f_alpha_divergence_coef", "1.5"), "must lie in [0, 1]"},
		{kv("f_dpo", "alpha_form", "papper"), `did you mean "paper"`},
		{kv("f_dpo", "exp_clamp", "800"), "exp_clamp"},
		{kv("simpo", "beta", "0"), "beta"},
		{kv("simpo", "loss_type", "ipo"), "loss_type"},
		{kv("cpl", "lam", "0"), "lam must lie in (0, 1]"},
		{kv("cpl", "lam", "1.2"), "lam must lie in (0, 1]"},
		{kv("cpl", "gamma", "0"), "gamma"},
		{kv("cpl", "bc_data", "neg"), "bc_data"},
		{kv("cpl", "alpha", "0"), "alpha must be > 0"},
		{kv("curry_dpo", "scheme", "best_vs_all"), `did you mean "best_vs_rest"`},
		{kv("curry_dpo", "order", "gap"), "order"},
		{kv("curry_dpo", "stage", "-1"), "stage"},
		{kv("curry_dpo", "stage", "1.5"), "not an integer"},
		{kv("inpo", "eta", "0"), "eta"},
		{kv("inpo", "tau", "0.01"), "tau must lie in [0, eta]"},
		{kv("dno", "eta", "-1"), "eta"},
		{kv("srpo", "alpha", "1.5"), "alpha must lie in [0, 1]"},
		{kv("srpo", "p", "2"), "p must lie"},
		{kv("apo", "alpha", "-0.1"), "alpha"},
		{kv("apo", "form", "ipo"), "form"},
		{kv("hypo", "kl_estimator", "k3"), `did you mean "k2"`},
		{kv("hypo", "lam", "-1"), "lam"},
		{kv("dpoo"), `did you mean "dpo"`},
	}
	for _, c := range cases {
		_, err := New(c.v.name, c.v.params)
		if err == nil {
			t.Errorf("%v: no error", c.v)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %q does not contain %q", c.v, err, c.want)
		}
	}
}

// Struct-built objectives validate in Loss too: an error, never NaN.
func TestLossValidatesStructParameters(t *testing.T) {
	in := &Batch{PiW: []float64{-1}, PiL: []float64{-2}, RefW: []float64{-1}, RefL: []float64{-2}, LenW: []float64{1}, LenL: []float64{1}}
	for _, d := range []*DPO{{Beta: 0, LossType: "sigmoid"}, {Beta: math.NaN(), LossType: "sigmoid"}, {Beta: 0.1, LossType: "x"}, {Beta: 0.1, LossType: "robust", LabelSmoothing: 0.5}} {
		if _, err := d.Loss(in, nil); err == nil {
			t.Errorf("%+v: no error", *d)
		}
	}
}

func TestShapeErrors(t *testing.T) {
	d := DefaultDPO()
	in := &Batch{PiW: []float64{-1, -2}, PiL: []float64{-2}, RefW: []float64{-1}, RefL: []float64{-2}, LenW: []float64{1}, LenL: []float64{1}}
	if _, err := d.Loss(in, nil); err == nil || !strings.Contains(err.Error(), `"pi_l" has 1 examples`) {
		t.Errorf("mismatched columns: %v", err)
	}
	in.PiL = []float64{-2, -3}
	in.RefW, in.RefL, in.LenW, in.LenL = []float64{0, 0}, []float64{0, 0}, []float64{1, 1}, []float64{1, 1}
	if _, err := d.Loss(in, &Batch{PiW: make([]float64, 1), PiL: make([]float64, 2)}); err == nil {
		t.Error("short gradient column: no error")
	}
	h := DefaultHyPO()
	hin := &Batch{PiW: []float64{-1}, PiL: []float64{-2}, RefW: []float64{-1}, RefL: []float64{-2}, OnPi: [][]float64{{-1, -2}}, OnRef: [][]float64{{-1}}}
	if _, err := h.Loss(hin, nil); err == nil {
		t.Error("on_pi/on_ref length mismatch: no error")
	}
}

func TestRegistryIsComplete(t *testing.T) {
	reg := Registry()
	want := []string{"dpo", "f_dpo", "simpo", "cpl", "cpl_ranked", "curry_dpo", "inpo", "dno", "dno_prct", "srpo", "apo", "hypo", "reward"}
	if len(reg) != len(want) {
		t.Fatalf("registry has %d objectives, want %d", len(reg), len(want))
	}
	for i, info := range reg {
		if info.Name != want[i] || info.Paper == "" || len(info.Inputs) == 0 || len(info.Differentiated) == 0 {
			t.Errorf("entry %d: %+v", i, info)
		}
		// Every default must build, and every parameter must be documented.
		if _, err := New(info.Name, nil); err != nil {
			t.Errorf("%s with defaults: %v", info.Name, err)
		}
		for _, p := range info.Params {
			if p.Type == "" || p.Default == "" || p.Range == "" || p.Doc == "" {
				t.Errorf("%s: parameter %+v is not fully documented", info.Name, p)
			}
		}
		for _, in := range info.Inputs {
			if _, ok := InputShape(in); !ok {
				t.Errorf("%s: input %q has no Batch field", info.Name, in)
			}
		}
	}
}

func TestDefaultsMatchSpec(t *testing.T) {
	get := func(name string) Objective { return mustNew(t, kv(name)) }
	if d := get("dpo").(*DPO); *d != DefaultDPO() || d.Beta != 0.1 || d.LossType != "sigmoid" {
		t.Errorf("dpo defaults %+v", *d)
	}
	if f := get("f_dpo").(*FDPO); *f != DefaultFDPO() || f.FAlphaDivergenceCoef != 0.5 || f.FDivergenceType != "reverse_kl" {
		t.Errorf("f_dpo defaults %+v", *f)
	}
	if s := get("simpo").(*SimPO); *s != DefaultSimPO() || s.Beta != 2 || s.GammaBetaRatio != 0.25 {
		t.Errorf("simpo defaults %+v", *s)
	}
	if c := get("cpl").(*CPL); *c != DefaultCPL() {
		t.Errorf("cpl defaults %+v", *c)
	}
	if o := get("inpo").(*INPO); o.Eta != 0.005 || o.Tau != 0.005/3 {
		t.Errorf("inpo defaults %+v", *o)
	}
	if o := mustNew(t, kv("inpo", "eta", "0.03")).(*INPO); o.Tau != 0.01 {
		t.Errorf("inpo tau default must follow eta/3: %+v", *o)
	}
	if s := get("srpo").(*SRPO); *s != DefaultSRPO() {
		t.Errorf("srpo defaults %+v", *s)
	}
	if a := get("apo").(*APO); *a != DefaultAPO() {
		t.Errorf("apo defaults %+v", *a)
	}
	if h := get("hypo").(*HyPO); *h != DefaultHyPO() {
		t.Errorf("hypo defaults %+v", *h)
	}
	if c := get("curry_dpo").(*CurryDPO); *c != DefaultCurryDPO() {
		t.Errorf("curry defaults %+v", *c)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"sigmod", "sigmoid", 1}, {"kitten", "sitting", 3}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

// Build takes typed values: numbers for floats and ints, bools, strings; a string where a
// number or a bool is wanted is an error (only New, the command line's form, parses).
func TestBuildTakesTypedValues(t *testing.T) {
	obj, err := Build("cpl", Params{"alpha": 0.5, "lam": float32(0.75), "gamma": 1, "bc_coeff": int64(2), "bc_steps": 3.0, "reference": true, "bc_data": " pos"})
	if err != nil {
		t.Fatal(err)
	}
	c := obj.(*CPL)
	if *c != (CPL{Alpha: 0.5, Lam: 0.75, Gamma: 1, BCCoeff: 2, BCData: "pos", BCSteps: 3, Reference: true}) {
		t.Errorf("built %+v", *c)
	}
	for _, seed := range []uint64{0, 9} {
		obj, err = Build("curry_dpo", Params{"stage": 2.0, "seed": seed})
		if err != nil || obj.(*CurryDPO).Stage != 2 || obj.(*CurryDPO).Seed != seed {
			t.Errorf("curry_dpo seed %d: %+v, %v", seed, obj, err)
		}
	}
	bad := []struct {
		name string
		p    Params
		want string
	}{
		{"dpo", Params{"beta": "0.1"}, "parameter beta: want a number, got string"},
		{"dpo", Params{"reference_free": "true"}, "parameter reference_free: want true or false"},
		{"dpo", Params{"loss_type": 3}, "parameter loss_type: want a string, got int"},
		{"dpo", Params{"beta": []int{1}}, "want a number"},
		{"dpo", Params{"beta": math.Inf(1)}, "not a finite number"},
		{"cpl", Params{"bc_steps": 1.5}, "bc_steps=1.5 is not an integer"},
		{"cpl", Params{"bc_steps": "2"}, "want an integer, got string"},
		{"cpl", Params{"bc_steps": -1}, "bc_steps must be >= 0"},
		{"curry_dpo", Params{"seed": -2}, "not a non-negative integer"},
		{"curry_dpo", Params{"seed": uint64(math.MaxUint64)}, "not an integer"},
		{"curry_dpo", Params{"stage": 1e300}, "not an integer"},
		{"curry_dpo", Params{"stage": true}, "not an integer"},
		{"cpl", Params{"reference": 1}, "want true or false, got int"},
	}
	for _, c := range bad {
		_, err := Build(c.name, c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want %q", c.name, c.p, err, c.want)
		}
	}
	// New parses every value from its string form, with surrounding spaces.
	obj, err = New("cpl", map[string]string{"alpha": " 0.5", "bc_steps": "3 ", "reference": "true"})
	if err != nil || obj.(*CPL).BCSteps != 3 || !obj.(*CPL).Reference || obj.(*CPL).Alpha != 0.5 {
		t.Errorf("New: %+v, %v", obj, err)
	}
}
