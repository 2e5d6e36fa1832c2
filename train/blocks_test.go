package train

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alignkit/align/model"
)

func TestScheduleMatchesHF(t *testing.T) {
	// Values from transformers' lambdas, worked by hand for total 10, warm-up ratio 0.2 (2 steps).
	lin, _ := NewSchedule("linear", 1, 0.2, 10)
	cos, _ := NewSchedule("cosine", 1, 0.2, 10)
	cw, _ := NewSchedule("constant_with_warmup", 1, 0.2, 10)
	c, _ := NewSchedule("constant", 1, 0.2, 10)
	for k, want := range map[int][4]float64{
		0:  {0, 0, 0, 1},
		1:  {0.5, 0.5, 0.5, 1},
		2:  {1, 1, 1, 1},
		6:  {0.5, 0.5, 1, 1},
		10: {0, 0, 1, 1},
	} {
		got := [4]float64{lin.LR(k), cos.LR(k), cw.LR(k), c.LR(k)}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Errorf("step %d schedule %d: %v, want %v", k, i, got[i], want[i])
			}
		}
	}
	// cosine at a quarter of the decay: 0.5(1+cos(pi/4)).
	if got, want := cos.LR(4), 0.5*(1+math.Cos(math.Pi/4)); math.Abs(got-want) > 1e-12 {
		t.Errorf("cosine(4) = %v, want %v", got, want)
	}
	// ceil: 0.03 of 100 steps is 3 warm-up steps; of 10 steps it is 1.
	s, _ := NewSchedule("linear", 1, 0.03, 10)
	if s.Warmup != 1 {
		t.Errorf("warm-up steps = %d, want ceil(0.3) = 1", s.Warmup)
	}
	if _, err := NewSchedule("cosin", 1, 0, 1); err == nil {
		t.Error("unknown schedule accepted")
	}
}

func params(vals ...[]float32) []*model.Param {
	var ps []*model.Param
	for _, v := range vals {
		ps = append(ps, &model.Param{Data: make([]float32, len(v)), Grad: append([]float32(nil), v...), Shape: []int{len(v)}})
	}
	return ps
}

func TestClipGradNorm(t *testing.T) {
	ps := params([]float32{3, 0}, []float32{0, 4})
	if n := ClipGradNorm(ps, 10); math.Abs(n-5) > 1e-9 || ps[0].Grad[0] != 3 {
		t.Fatalf("no clip expected: norm %v grads %v", n, ps[0].Grad)
	}
	n := ClipGradNorm(ps, 1)
	if math.Abs(n-5) > 1e-9 {
		t.Errorf("norm = %v", n)
	}
	if after := GradNorm(ps); math.Abs(after-1) > 1e-5 {
		t.Errorf("norm after clipping = %v, want 1", after)
	}
}

func TestAdamWStepAndState(t *testing.T) {
	ps := params([]float32{0.5, -1, 2})
	for i := range ps[0].Data {
		ps[0].Data[i] = 1
	}
	o := NewAdamW(ps, 0.9, 0.999, 1e-8, 0.01)
	o.Step(ps, 0.1)
	// First Adam step moves each weight by lr·sign(g) (bias-corrected m/sqrt(v) = ±1), after
	// decoupled decay p -= lr·wd·p.
	for i, g := range []float64{0.5, -1, 2} {
		want := 1 - 0.1*0.01*1 - 0.1*math.Copysign(1, g)
		if math.Abs(float64(ps[0].Data[i])-want) > 1e-5 {
			t.Errorf("p[%d] = %v, want %v", i, ps[0].Data[i], want)
		}
	}
	var buf bytes.Buffer
	if err := o.Save(&buf); err != nil {
		t.Fatal(err)
	}
	o2 := NewAdamW(ps, 0.9, 0.999, 1e-8, 0.01)
	if err := o2.Load(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	// Two optimizers with the same state take the same next step.
	a := params([]float32{0.5, -1, 2})
	b := params([]float32{0.5, -1, 2})
	copy(a[0].Data, ps[0].Data)
	copy(b[0].Data, ps[0].Data)
	o.Step(a, 0.1)
	o2.Step(b, 0.1)
	for i := range a[0].Data {
		if a[0].Data[i] != b[0].Data[i] {
			t.Fatalf("restored optimizer diverges: %v vs %v", a[0].Data, b[0].Data)
		}
	}
	if err := NewAdamW(params([]float32{1}), 0.9, 0.999, 1e-8, 0).Load(bytes.NewReader(buf.Bytes())); err == nil {
		t.Error("shape mismatch accepted")
	}
}

func TestRNGState(t *testing.T) {
	g := NewRNG(42, 1)
	g.Uint64()
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	var h RNG
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if x, y := g.Uint64(), h.Uint64(); x != y {
			t.Fatalf("restored RNG differs at draw %d", i)
		}
	}
	if NewRNG(1, 0).Uint64() == NewRNG(2, 0).Uint64() {
		t.Error("seeds do not matter")
	}
}

func TestMetricsLogRewind(t *testing.T) {
	p := filepath.Join(t.TempDir(), "metrics.jsonl")
	l, err := OpenMetricsLog(p, -1)
	if err != nil {
		t.Fatal(err)
	}
	for s := 1; s <= 4; s++ {
		if err := l.Write(Metrics{Step: s, Values: map[string]float64{"loss": float64(s), "rewards/margins": math.NaN()}}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	raw, _ := os.ReadFile(p)
	if !strings.Contains(string(raw), `"rewards/margins":null`) || !strings.Contains(string(raw), `{"step":1,"epoch":0,"loss":1`) {
		t.Errorf("unexpected lines:\n%s", raw)
	}
	l, err = OpenMetricsLog(p, 2)
	if err != nil {
		t.Fatal(err)
	}
	l.Write(Metrics{Step: 3, Values: map[string]float64{"loss": 30}})
	l.Close()
	ms, err := ReadMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[2].Values["loss"] != 30 {
		t.Errorf("after rewind: %+v", ms)
	}
}

func TestCheckpointAtomicKeep(t *testing.T) {
	dir := t.TempDir()
	for step := 1; step <= 5; step++ {
		_, err := SaveCheckpoint(dir, step, []CheckpointFile{{"a.txt", func(w io.Writer) error {
			_, err := io.WriteString(w, strings.Repeat("x", step))
			return err
		}}}, 2)
		if err != nil {
			t.Fatal(err)
		}
	}
	steps, _ := listCheckpoints(dir)
	if len(steps) != 2 || steps[0] != 4 || steps[1] != 5 {
		t.Errorf("kept %v, want [4 5]", steps)
	}
	// A failing writer leaves no checkpoint behind, and a stray temp dir is cleaned on resume.
	_, err := SaveCheckpoint(dir, 6, []CheckpointFile{{"a.txt", func(io.Writer) error { return io.ErrUnexpectedEOF }}}, 2)
	if err == nil {
		t.Fatal("failed write reported success")
	}
	os.MkdirAll(filepath.Join(dir, "checkpoints", ".tmp-checkpoint-junk"), 0o755)
	d, step, ok, err := LatestCheckpoint(dir)
	if err != nil || !ok || step != 5 {
		t.Fatalf("latest = %s %d %v %v", d, step, ok, err)
	}
	if b, _ := os.ReadFile(filepath.Join(d, "a.txt")); string(b) != "xxxxx" {
		t.Errorf("checkpoint content %q", b)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "checkpoints"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("temp dir left: %s", e.Name())
		}
	}
	// Saving the same step again replaces it.
	if _, err := SaveCheckpoint(dir, 5, []CheckpointFile{{"a.txt", func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }}}, 2); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(d, "a.txt")); string(b) != "new" {
		t.Errorf("re-saved checkpoint content %q", b)
	}
}

func TestRefCache(t *testing.T) {
	c := RefCache{Dir: t.TempDir()}
	k1 := RefCacheKey("data", "digest", "tmpl", 512, 256, "pairs")
	if k1 == RefCacheKey("data", "digest", "tmpl", 512, 128, "pairs") || k1 == RefCacheKey("data2", "digest", "tmpl", 512, 256, "pairs") {
		t.Error("key ignores an input")
	}
	if _, ok := c.Load(k1); ok {
		t.Error("hit on an empty cache")
	}
	want := [][]float32{{-1, -2.5}, {}, {-0.25}}
	if err := c.Save(k1, want); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Load(k1)
	if !ok || len(got) != 3 || got[0][1] != -2.5 || len(got[1]) != 0 || got[2][0] != -0.25 {
		t.Errorf("round trip: %v %v", got, ok)
	}
}

func TestReportSVG(t *testing.T) {
	var buf bytes.Buffer
	ms := []Metrics{{Step: 1, Values: map[string]float64{"loss": 0.69, "rewards/margins": 0}}, {Step: 2, Values: map[string]float64{"loss": 0.5, "rewards/margins": 0.3}}}
	if err := WriteReport(&buf, ReportData{Title: "run <x>", Metrics: ms, Summary: [][2]string{{"win rate", "80%"}}}); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if strings.Count(s, "<svg") != 2 || !strings.Contains(s, "run &lt;x&gt;") || !strings.Contains(s, "80%") {
		t.Errorf("report:\n%s", s)
	}
}

func modelSeq(toks []int32, promptLen int) model.Sequence {
	m := make([]bool, len(toks))
	for i := promptLen; i < len(toks); i++ {
		m[i] = true
	}
	return model.Sequence{Tokens: toks, Mask: m}
}
