package eval

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Report is what every evaluation writes as report.json, and renders as report.html.
type Report struct {
	Kind    string    `json:"kind"` // win-rate, stats, leaderboard, safety, rewards
	Created time.Time `json:"created"`
	// Source says where the numbers came from (judgments file, prompts, models, judge).
	Source map[string]string `json:"source,omitempty"`

	Stats       []HeadToHead   `json:"stats,omitempty"`
	Leaderboard *BTLeaderboard `json:"leaderboard,omitempty"`
	Safety      *SafetyResult  `json:"safety,omitempty"`
	Rewards     *RewardResult  `json:"rewards,omitempty"`
	Examples    []Example      `json:"examples,omitempty"`
	// MTBench is FastChat's pairwise scoring of the same judgments when both orders were judged.
	MTBench []MTBenchPairRow `json:"mt_bench_pairwise,omitempty"`
	// MTBenchScores is the score table of align eval mt-bench.
	MTBenchScores *MTBenchScores `json:"mt_bench,omitempty"`
	// StyleControl holds Arena-Hard v2's style-controlled leaderboards, one per category.
	StyleControl []*StyleLeaderboard `json:"style_control,omitempty"`
	// ArenaHardV2 holds Arena-Hard v2's plain leaderboards (no style control), one per category.
	ArenaHardV2 []*V2Leaderboard `json:"arena_hard_v2,omitempty"`
	Warnings    []string         `json:"warnings,omitempty"`

	// scatter holds the length-difference points of the first LC fit, for the HTML only.
	scatter *LCFit
}

// Example is one judged pair shown in the report with the judge's raw answer.
type Example struct {
	Instruction string  `json:"instruction"`
	Output1     string  `json:"output_1"`
	Output2     string  `json:"output_2"`
	Generator1  string  `json:"generator_1"`
	Generator2  string  `json:"generator_2"`
	Preference  float64 `json:"preference"`
	Raw         string  `json:"raw"`
	Swapped     bool    `json:"swapped"`
	// Pick says why it is shown: largest win, largest loss, random, no verdict.
	Pick string `json:"pick"`
}

// MarshalJSON writes NaN as null.
func (e Example) MarshalJSON() ([]byte, error) {
	type alias Example
	v := struct {
		alias
		Preference *float64 `json:"preference"`
	}{alias: alias(e)}
	if !math.IsNaN(e.Preference) {
		v.Preference = &e.Preference
	}
	return json.Marshal(v)
}

// PickExamples chooses up to n judgments to show, each instruction once: one the judge
// could not parse (so that judge faults are visible), then the model's largest wins (highest
// preference, output_2 better), its largest losses (lowest), and the rest at random (seeded,
// so a report is reproducible), about a third each.
func PickExamples(js []Judgment, n int) []Example {
	var invalid, valid []int
	for i, j := range js {
		if math.IsNaN(cleanPreference(j.Preference)) {
			invalid = append(invalid, i)
		} else {
			valid = append(valid, i)
		}
	}
	sort.SliceStable(valid, func(a, b int) bool {
		return cleanPreference(js[valid[a]].Preference) > cleanPreference(js[valid[b]].Preference)
	})
	var out []Example
	shown := map[string]bool{}
	add := func(i int, pick string) bool {
		j := js[i]
		if len(out) >= n || shown[j.Instruction] {
			return false
		}
		shown[j.Instruction] = true
		out = append(out, Example{j.Instruction, j.Output1, j.Output2, j.Generator1, j.Generator2, j.Preference, j.Raw, j.Swapped, pick})
		return true
	}
	if len(invalid) > 0 {
		add(invalid[0], "no verdict")
	}
	k := max(1, n/3)
	for c, i := range valid {
		if c >= k || cleanPreference(js[i].Preference) <= 1.5 {
			break
		}
		add(i, "largest win")
	}
	for c := 0; c < k && c < len(valid); c++ {
		i := valid[len(valid)-1-c]
		if cleanPreference(js[i].Preference) >= 1.5 {
			break
		}
		add(i, "largest loss")
	}
	rng := newMT19937(1)
	perm := make([]int, len(valid))
	copy(perm, valid)
	for i := len(perm) - 1; i > 0; i-- { // Fisher–Yates
		j := rng.boundedMasked(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	for _, i := range perm {
		add(i, "random")
	}
	return out
}

// SetScatter selects the LC fit whose length-difference scatter the HTML shows.
func (r *Report) SetScatter(f *LCFit) { r.scatter = f }

// Write writes report.json and report.html into dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: report: %w", err)
	}
	if r.Created.IsZero() {
		r.Created = time.Now().UTC()
	}
	if r.scatter == nil {
		for _, h := range r.Stats {
			if h.LC != nil && len(h.LC.DeltaLen) > 0 && h.Dataset == "" {
				r.scatter = h.LC
				break
			}
		}
	}
	b, err := json.MarshalIndent(sanitize(r), "", "  ")
	if err != nil {
		return fmt.Errorf("eval: report json: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, "report.json"), b); err != nil {
		return err
	}
	var sb strings.Builder
	if err := reportTemplate.Execute(&sb, r.view()); err != nil {
		return fmt.Errorf("eval: report html: %w", err)
	}
	return writeAtomic(filepath.Join(dir, "report.html"), []byte(sb.String()))
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("eval: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("eval: write %s: %w", path, err)
	}
	return nil
}

// sanitize turns the report into plain JSON values, NaN and ±Inf becoming null (encoding/json
// refuses them, and a statistic of an empty group is NaN by AlpacaEval's definition).
func sanitize(r *Report) any {
	type plain Report
	return jsonValue(reflect.ValueOf(plain(*r)))
}

// JSONValue converts v into plain JSON values (maps, slices, numbers, strings), NaN and ±Inf
// becoming null, so that encoding/json accepts statistics of empty groups.
func JSONValue(v any) any { return jsonValue(reflect.ValueOf(v)) }

func jsonValue(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if m, ok := v.Interface().(json.Marshaler); ok && v.Kind() != reflect.Pointer {
		b, err := m.MarshalJSON()
		if err != nil {
			return nil
		}
		var out any
		if json.Unmarshal(b, &out) != nil {
			return nil
		}
		return out
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return jsonValue(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := map[string]any{}
		it := v.MapRange()
		for it.Next() {
			out[fmt.Sprint(it.Key().Interface())] = jsonValue(it.Value())
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			out[name] = jsonValue(fv)
		}
		return out
	}
	return v.Interface()
}

// htmlView is what the template sees.
type htmlView struct {
	R            *Report
	WinRateSVG   template.HTML
	ScatterSVG   template.HTML
	LadderSVG    template.HTML
	SafetySVG    template.HTML
	MTBenchSVG   template.HTML
	StyleSVG     []template.HTML
	V2SVG        []template.HTML
	StatsRows    []HeadToHead
	ScatterNote  string
	ExampleItems []Example
}

func (r *Report) view() htmlView {
	v := htmlView{R: r, StatsRows: r.Stats, ExampleItems: r.Examples}
	if len(r.Stats) > 0 {
		v.WinRateSVG = template.HTML(winRateSVG(r.Stats))
	}
	if r.scatter != nil {
		v.ScatterSVG = template.HTML(scatterSVG(r.scatter))
		v.ScatterNote = fmt.Sprintf("GLM %s: θ_len = %.4g, θ_not_gamed = %.4g, std(Δlen) = %.1f characters",
			r.scatter.GLM, r.scatter.Weights[colTanhLen], r.scatter.Weights[colNotGamed], r.scatter.LenStd)
	}
	if r.Leaderboard != nil {
		v.LadderSVG = template.HTML(ladderSVG(r.Leaderboard, "win rate vs "+r.Leaderboard.Baseline+" (%), Bradley–Terry, 95% bootstrap interval"))
	}
	for _, lb := range r.StyleControl {
		bt := &BTLeaderboard{Baseline: lb.Baseline}
		for _, row := range lb.Rows {
			bt.Rows = append(bt.Rows, BTRow{Model: row.Model, WinRate: row.Score, Lower: row.Lower, Upper: row.Upper})
		}
		v.StyleSVG = append(v.StyleSVG, template.HTML(ladderSVG(bt, "style-controlled win rate vs "+lb.Baseline+" (%), bootstrap median, 5–95% interval")))
	}
	for _, lb := range r.ArenaHardV2 {
		bt := &BTLeaderboard{Baseline: lb.Baseline}
		for _, row := range lb.Rows {
			bt.Rows = append(bt.Rows, BTRow{Model: row.Model, WinRate: row.Score, Lower: row.Lower, Upper: row.Upper})
		}
		v.V2SVG = append(v.V2SVG, template.HTML(ladderSVG(bt, "win rate vs "+lb.Baseline+" (%), bootstrap mean, 5–95% interval")))
	}
	if r.MTBenchScores != nil {
		v.MTBenchSVG = template.HTML(mtBenchSVG(r.MTBenchScores))
	}
	if r.Safety != nil {
		v.SafetySVG = template.HTML(safetySVG(r.Safety))
	}
	return v
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// winRateSVG draws one bar per (model, dataset) row: the win rate with ±1 standard error, and
// the LC win rate as a diamond.
func winRateSVG(rows []HeadToHead) string {
	const left, width, rowH, top = 260, 420, 26, 30
	h := top + rowH*len(rows) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, left+width+80, h)
	x := func(v float64) float64 { return left + width*math.Max(0, math.Min(100, v))/100 }
	for _, t := range []float64{0, 25, 50, 75, 100} {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, x(t), top-5, x(t), h-25)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%g</text>`, x(t), h-10, t)
	}
	fmt.Fprintf(&b, `<text x="%d" y="16" fill="#333">win rate (%%) ± standard error; ◆ length-controlled</text>`, left)
	for i, r := range rows {
		y := float64(top + i*rowH)
		label := r.Model + " vs " + r.Baseline
		if r.Dataset != "" {
			label = "  · " + r.Dataset
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#222">%s</text>`, left-8, y+14, esc(truncate(label, 40)))
		if math.IsNaN(r.WinRate) {
			continue
		}
		fill := "#4c78a8"
		if r.Dataset != "" {
			fill = "#9ecae9"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="16" fill="%s"/>`, x(0), y+2, x(r.WinRate)-x(0), fill)
		if se := r.StandardError; !math.IsNaN(se) && se > 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="1.5"/>`, x(r.WinRate-se), y+10, x(r.WinRate+se), y+10)
			for _, e := range []float64{r.WinRate - se, r.WinRate + se} {
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="1.5"/>`, x(e), y+5, x(e), y+15)
			}
		}
		if lc := r.LengthControlledWinRate; !math.IsNaN(lc) && r.LC != nil {
			cx, cy := x(lc), y+10
			fmt.Fprintf(&b, `<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="#e45756"/>`, cx, cy-6, cx+6, cy, cx, cy+6, cx-6, cy)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#222">%.1f</text>`, left+width+8, y+14, r.WinRate)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// scatterSVG plots preference − 1 against the length difference len(output_1) − len(output_2),
// with the fitted GLM curve σ(θ_len·tanh(Δ/std) + θ_ng) and the LC level σ(θ_ng).
func scatterSVG(f *LCFit) string {
	const w, h, pad = 640, 320, 45
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, w, h)
	lo, hi := 0.0, 0.0
	for _, d := range f.DeltaLen {
		lo, hi = math.Min(lo, d), math.Max(hi, d)
	}
	if hi-lo < 1 {
		lo, hi = lo-1, hi+1
	}
	X := func(d float64) float64 { return pad + (w-2*pad)*(d-lo)/(hi-lo) }
	Y := func(p float64) float64 { return h - pad - (h-2*pad)*p }
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`, pad, pad, w-2*pad, h-2*pad)
	for _, p := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%g</text>`, pad-5, Y(p)+4, p)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%.0f</text>`, X(lo), h-pad+16, lo)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%.0f</text>`, X(hi), h-pad+16, hi)
	if lo < 0 && hi > 0 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ccc"/>`, X(0), pad, X(0), h-pad)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#333">len(output_1) − len(output_2), characters</text>`, w/2, h-8)
	fmt.Fprintf(&b, `<text x="12" y="%d" fill="#333" transform="rotate(-90 12 %d)" text-anchor="middle">preference − 1</text>`, h/2, h/2)
	for i, d := range f.DeltaLen {
		p := f.Label[i]
		if math.IsNaN(p) {
			continue
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="#4c78a8" fill-opacity="0.5"/>`, X(d), Y(p))
	}
	if f.LenStd > 0 {
		var pts []string
		for k := 0; k <= 100; k++ {
			d := lo + (hi-lo)*float64(k)/100
			p := sigmoid(f.Weights[colTanhLen]*math.Tanh(d/f.LenStd) + f.Weights[colNotGamed])
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", X(d), Y(p)))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#e45756" stroke-width="2"/>`, strings.Join(pts, " "))
	}
	lc := f.WinRate / 100
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#54a24b" stroke-dasharray="5,4" stroke-width="1.5"/>`, pad, Y(lc), w-pad, Y(lc))
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#54a24b">LC %.1f%%</text>`, w-pad-4, Y(lc)-4, f.WinRate)
	b.WriteString(`</svg>`)
	return b.String()
}

// ladderSVG draws the Bradley–Terry ladder: each model's win rate against the baseline with its
// 95% bootstrap interval.
func ladderSVG(lb *BTLeaderboard, title string) string {
	const left, width, rowH, top = 220, 420, 24, 30
	rows := append([]BTRow(nil), lb.Rows...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].WinRate > rows[j].WinRate })
	h := top + rowH*len(rows) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, left+width+120, h)
	x := func(v float64) float64 { return left + width*math.Max(0, math.Min(100, v))/100 }
	for _, t := range []float64{0, 25, 50, 75, 100} {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, x(t), top-5, x(t), h-25)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%g</text>`, x(t), h-10, t)
	}
	fmt.Fprintf(&b, `<text x="%d" y="16" fill="#333">%s</text>`, left, esc(title))
	for i, r := range rows {
		y := float64(top+i*rowH) + 10
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#222">%s</text>`, left-8, y+4, esc(truncate(r.Model, 32)))
		if !math.IsNaN(r.Lower) && !math.IsNaN(r.Upper) {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#4c78a8" stroke-width="3"/>`, x(r.Lower), y, x(r.Upper), y)
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="5" fill="#e45756"/>`, x(r.WinRate), y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#222">%.1f (%.1f, %.1f)</text>`, left+width+8, y+4, r.WinRate, r.Lower, r.Upper)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// safetySVG draws the attack success and over-refusal rates with their standard errors.
func safetySVG(s *SafetyResult) string {
	bars := []struct {
		name   string
		v, se  float64
		colour string
	}{
		{"attack success (unsafe prompts)", s.AttackSuccessRate, s.AttackSuccessSE, "#e45756"},
		{"over-refusal (safe prompts)", s.OverRefusalRate, s.OverRefusalSE, "#f58518"},
	}
	if s.JudgeAccuracy != nil {
		bars = append(bars, struct {
			name   string
			v, se  float64
			colour string
		}{"judge agreement with XSTest humans", 100 * s.JudgeAccuracy.Accuracy, 0, "#54a24b"})
	}
	const left, width, rowH, top = 260, 400, 28, 30
	h := top + rowH*len(bars) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, left+width+70, h)
	x := func(v float64) float64 { return left + width*math.Max(0, math.Min(100, v))/100 }
	for _, t := range []float64{0, 50, 100} {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, x(t), top-5, x(t), h-25)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%g</text>`, x(t), h-10, t)
	}
	fmt.Fprintf(&b, `<text x="%d" y="16" fill="#333">%% of prompts ± standard error</text>`, left)
	for i, r := range bars {
		y := float64(top + i*rowH)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#222">%s</text>`, left-8, y+14, esc(r.name))
		if math.IsNaN(r.v) {
			continue
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="16" fill="%s"/>`, x(0), y+2, x(r.v)-x(0), r.colour)
		if r.se > 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="1.5"/>`, x(r.v-r.se), y+10, x(r.v+r.se), y+10)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#222">%.1f</text>`, left+width+8, y+14, r.v)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func fmtNum(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.2f", v)
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":   fmtNum,
	"trunc": func(s string) string { return truncate(s, 600) },
	"verdict": func(p float64) string {
		switch p = cleanPreference(p); {
		case math.IsNaN(p):
			return "no verdict"
		case p > 1.5:
			return "output_2 better"
		case p < 1.5:
			return "output_1 better"
		}
		return "tie"
	},
	"catnum": func(m map[string]float64, c string) string {
		v, ok := m[c]
		if !ok {
			return "—"
		}
		return fmtNum(v)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>align eval {{.R.Kind}}</title>
<style>
body{font-family:sans-serif;margin:24px;color:#222;background:#fff;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;display:block;overflow-x:auto;max-width:100%}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f2f2f2}td.l{text-align:left}.warn{background:#fff3cd;border:1px solid #e0b000;padding:8px;margin:6px 0}
.ex{border:1px solid #ccc;margin:10px 0;padding:8px}.sbs{display:grid;grid-template-columns:1fr 1fr;gap:8px}.ex pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f7f7;padding:6px;margin:4px 0;font-size:12px}
</style></head><body>
<h1>align eval — {{.R.Kind}}</h1>
<p>{{.R.Created.Format "2006-01-02 15:04:05 UTC"}}{{range $k, $v := .R.Source}} · {{$k}}: <code>{{$v}}</code>{{end}}</p>
{{range .R.Warnings}}<div class="warn">⚠ {{.}}</div>{{end}}
{{range .StatsRows}}{{range .Warnings}}<div class="warn">⚠ {{.}}</div>{{end}}{{end}}
{{if .StatsRows}}<h2>Win rate</h2>
{{.WinRateSVG}}
<table><tr><th>model</th><th>baseline</th><th>judge</th><th>dataset</th><th>win_rate</th><th>standard_error</th><th>LC win rate</th><th>lc_standard_error</th><th>n_wins</th><th>n_wins_base</th><th>n_draws</th><th>n_total</th><th>invalid</th><th>discrete</th><th>avg_length</th></tr>
{{range .StatsRows}}<tr><td class="l">{{.Model}}</td><td class="l">{{.Baseline}}</td><td class="l">{{.Judge}}</td><td class="l">{{.Dataset}}</td><td>{{num .WinRate}}</td><td>{{num .StandardError}}</td><td>{{num .LengthControlledWinRate}}</td><td>{{num .LCStandardError}}</td><td>{{.NWins}}</td><td>{{.NWinsBase}}</td><td>{{.NDraws}}</td><td>{{.NTotal}}</td><td>{{.NInvalid}}</td><td>{{num .DiscreteWinRate}}</td><td>{{.AvgLength}}</td></tr>
{{end}}</table>{{end}}
{{if .R.MTBench}}<h2>MT-Bench pairwise scoring (both orders)</h2>
<table><tr><th>model</th><th>win</th><th>loss</th><th>tie</th><th>win_rate</th><th>loss_rate</th><th>win_rate_adjusted</th></tr>
{{range .R.MTBench}}<tr><td class="l">{{.Model}}</td><td>{{.Win}}</td><td>{{.Loss}}</td><td>{{.Tie}}</td><td>{{num .WinRate}}</td><td>{{num .LossRate}}</td><td>{{num .WinRateAdjusted}}</td></tr>{{end}}</table>{{end}}
{{with .R.MTBenchScores}}<h2>MT-Bench ({{.Mode}}, judge {{.Judge}})</h2>
{{$.MTBenchSVG}}
<p>{{.Judgments}} judgments scored, {{.Invalid}} without a verdict (kept in the judgment file, left out of the scores).</p>
{{if .Single}}<table><tr><th>model</th><th>first turn</th><th>second turn</th><th>average</th>{{range .Categories}}<th>{{.}}</th>{{end}}<th>ratings</th><th>no rating</th></tr>
{{range $r := .Single}}<tr><td class="l">{{$r.Model}}</td><td>{{num $r.Turn1}}</td><td>{{num $r.Turn2}}</td><td>{{num $r.Average}}</td>{{range $.R.MTBenchScores.Categories}}<td>{{catnum $r.Categories .}}</td>{{end}}<td>{{$r.N}}</td><td>{{$r.Invalid}}</td></tr>
{{end}}</table>{{end}}
{{if .Pairwise}}<table><tr><th>model</th><th>win</th><th>loss</th><th>tie</th><th>win_rate</th><th>loss_rate</th><th>win_rate_adjusted</th></tr>
{{range .Pairwise}}<tr><td class="l">{{.Model}}</td><td>{{.Win}}</td><td>{{.Loss}}</td><td>{{.Tie}}</td><td>{{num .WinRate}}</td><td>{{num .LossRate}}</td><td>{{num .WinRateAdjusted}}</td></tr>{{end}}</table>{{end}}{{end}}
{{if .ScatterSVG}}<h2>Length difference behind the LC correction</h2>
{{.ScatterSVG}}<p>{{.ScatterNote}}. Red: the fitted GLM; green: its prediction with the length term switched off.</p>{{end}}
{{if .R.Leaderboard}}<h2>Bradley–Terry ladder (Arena-Hard v0.1)</h2>
{{.LadderSVG}}
<table><tr><th>model</th><th>win rate</th><th>95% interval</th><th>Elo</th><th>Elo interval</th><th>battles</th><th>avg length</th></tr>
{{range .R.Leaderboard.Rows}}<tr><td class="l">{{.Model}}</td><td>{{num .WinRate}}</td><td>({{num .Lower}}, {{num .Upper}})</td><td>{{num .Elo}}</td><td>({{num .EloLower}}, {{num .EloUpper}})</td><td>{{.Battles}}</td><td>{{.AvgLength}}</td></tr>
{{end}}</table>{{range .R.Leaderboard.Warnings}}<div class="warn">⚠ {{.}}</div>{{end}}{{end}}
{{range $i, $lb := .R.ArenaHardV2}}<h2>Arena-Hard v2 leaderboard (no style control){{if $lb.Category}} · {{$lb.Category}}{{end}}</h2>
{{index $.V2SVG $i}}
<table><tr><th>model</th><th>score (%)</th><th>5–95% interval</th><th>mean (%)</th><th>battles</th><th>avg tokens</th></tr>
{{range $lb.Rows}}<tr><td class="l">{{.Model}}</td><td>{{num .Score}}</td><td>({{num .Lower}}, {{num .Upper}})</td><td>{{num .Mean}}</td><td>{{.Battles}}</td><td>{{printf "%.0f" .AvgTokens}}</td></tr>
{{end}}</table>{{end}}
{{range $i, $lb := .R.StyleControl}}<h2>Style-controlled Bradley–Terry (Arena-Hard v2){{if $lb.Category}} · {{$lb.Category}}{{end}}</h2>
{{index $.StyleSVG $i}}
<table><tr><th>model</th><th>score (%)</th><th>5–95% interval</th><th>coefficient</th><th>battles</th><th>avg tokens</th></tr>
{{range $lb.Rows}}<tr><td class="l">{{.Model}}</td><td>{{num .Score}}</td><td>({{num .Lower}}, {{num .Upper}})</td><td>{{num .Coef}}</td><td>{{.Battles}}</td><td>{{printf "%.0f" .AvgTokens}}</td></tr>
{{end}}</table>
<table><tr><th>style feature</th><th>fit</th><th>bootstrap median</th><th>5–95% interval</th></tr>
{{range $lb.Coefs}}<tr><td class="l">{{.Feature}}</td><td>{{num .Fit}}</td><td>{{num .Median}}</td><td>({{num .Lower}}, {{num .Upper}})</td></tr>{{end}}</table>
{{range $lb.Warnings}}<div class="warn">⚠ {{.}}</div>{{end}}{{end}}
{{if .R.Safety}}<h2>Safety</h2>
{{.SafetySVG}}
<table><tr><th>set</th><th>prompts</th><th>full_compliance</th><th>full_refusal</th><th>partial_refusal</th><th>invalid</th></tr>
{{range .R.Safety.Counts}}<tr><td class="l">{{.Label}}</td><td>{{.N}}</td><td>{{.FullCompliance}}</td><td>{{.FullRefusal}}</td><td>{{.PartialRefusal}}</td><td>{{.Invalid}}</td></tr>{{end}}
</table>
{{with .R.Safety.JudgeAccuracy}}<p>Judge agreement with XSTest's human labels on {{.N}} completions ({{.Source}}): {{num .AccuracyPct}}% ({{.Invalid}} invalid).</p>{{end}}{{end}}
{{if .R.Rewards}}<h2>Implicit reward</h2>
<table><tr><th>pairs</th><th>accuracy</th><th>margin mean</th><th>margin std</th><th>chosen reward</th><th>rejected reward</th><th>beta</th></tr>
<tr><td>{{.R.Rewards.N}}</td><td>{{num .R.Rewards.Accuracy}}</td><td>{{num .R.Rewards.MarginMean}}</td><td>{{num .R.Rewards.MarginStd}}</td><td>{{num .R.Rewards.ChosenMean}}</td><td>{{num .R.Rewards.RejectedMean}}</td><td>{{num .R.Rewards.Beta}}</td></tr></table>{{end}}
{{if .ExampleItems}}<h2>What changed: example pairs side by side, with the judge's verdicts and raw answers</h2>
{{range .ExampleItems}}<div class="ex"><b>{{.Pick}}</b> · <b>Prompt:</b><pre>{{trunc .Instruction}}</pre>
<div class="sbs"><div><b>{{.Generator1}}</b> (output_1, baseline)<pre>{{trunc .Output1}}</pre></div><div><b>{{.Generator2}}</b> (output_2)<pre>{{trunc .Output2}}</pre></div></div>
<b>verdict:</b> preference {{num .Preference}} ({{verdict .Preference}}){{if .Swapped}}, shown to the judge in swapped order{{end}} · <b>judge raw:</b><pre>{{trunc .Raw}}</pre></div>
{{end}}{{end}}
</body></html>
`))

// mtPalette colours one model each in the MT-Bench chart.
var mtPalette = []string{"#4c78a8", "#e45756", "#54a24b", "#f58518", "#b279a2", "#72b7b2", "#eeca3b", "#9d755d"}

// mtBenchSVG draws a grouped bar chart: for each category, one bar per model (the mean rating
// 0–10 in single mode, win_rate_adjusted 0–1 in pairwise mode), and the overall score last.
func mtBenchSVG(sc *MTBenchScores) string {
	type series struct {
		model string
		vals  map[string]float64
	}
	var ss []series
	scale, unit := 10.0, "mean rating (1–10)"
	if sc.Mode == "pairwise" {
		scale, unit = 1, "win_rate_adjusted"
		for _, r := range sc.Pairwise {
			v := map[string]float64{"overall": r.WinRateAdjusted}
			for c, x := range sc.PairwiseByCategory[r.Model] {
				v[c] = x
			}
			ss = append(ss, series{r.Model, v})
		}
	} else {
		for _, r := range sc.Single {
			v := map[string]float64{"overall": r.Average}
			for c, x := range r.Categories {
				v[c] = x
			}
			ss = append(ss, series{r.Model, v})
		}
	}
	cats := append(append([]string(nil), sc.Categories...), "overall")
	const left, width, barH, gap, top = 110, 460, 12, 10, 30
	groupH := barH*max(1, len(ss)) + gap
	h := top + groupH*len(cats) + 30 + 18*len(ss)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, left+width+80, h)
	x := func(v float64) float64 { return left + width*math.Max(0, math.Min(scale, v))/scale }
	axisEnd := top + groupH*len(cats)
	for k := 0; k <= 4; k++ {
		t := scale * float64(k) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, x(t), top-5, x(t), axisEnd)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%g</text>`, x(t), axisEnd+14, t)
	}
	fmt.Fprintf(&b, `<text x="%d" y="16" fill="#333">MT-Bench by category: %s</text>`, left, unit)
	for i, c := range cats {
		y0 := top + i*groupH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#222">%s</text>`, left-8, y0+groupH/2+2, esc(c))
		for j, s := range ss {
			v, ok := s.vals[c]
			if !ok || math.IsNaN(v) {
				continue
			}
			y := y0 + j*barH
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x(0), y, x(v)-x(0), barH-2, mtPalette[j%len(mtPalette)])
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#222" font-size="10">%.2f</text>`, x(v)+4, y+barH-3, v)
		}
	}
	for j, s := range ss {
		y := axisEnd + 30 + 18*j
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`, left, y-10, mtPalette[j%len(mtPalette)])
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#222">%s</text>`, left+18, y, esc(s.model))
	}
	b.WriteString(`</svg>`)
	return b.String()
}
