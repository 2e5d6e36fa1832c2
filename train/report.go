package train

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReportData is what report.html shows: the run's name, summary figures, and the logged
// metrics, drawn as loss, reward-margin and accuracy curves.
type ReportData struct {
	Title   string
	Summary [][2]string // label, value
	Metrics []Metrics
	Recipe  string
	// WinRate, when set, is drawn as a before/after bar chart.
	WinRate *BeforeAfter
	// Examples are held-out prompts with the base's and the trained model's answers side by
	// side (see PickReportExamples).
	Examples []ReportExample
}

// BeforeAfter is a held-out win rate (0–1) against the base before and after training.
type BeforeAfter struct {
	Label         string
	Before, After float64
}

// ReportExample is one held-out prompt shown in the report: the base's and the trained
// model's answers, the judge's verdict for the trained one, and the judge's raw text.
type ReportExample struct {
	Pick    string  `json:"pick"` // "largest win", "largest loss", "random"
	Prompt  string  `json:"prompt"`
	Base    string  `json:"base"`
	Trained string  `json:"trained"`
	Win     float64 `json:"trained_win"` // 1 win, 0.5 tie, 0 loss
	LogR    float64 `json:"log_ratio"`
	Raw     string  `json:"raw,omitempty"`
}

// PickReportExamples chooses what the report shows by default: the k largest wins (trained
// win, then the largest log-ratio to the base: what training moved most), the k largest
// losses, and k more at random (seeded, so a report is reproducible), each once.
func PickReportExamples(rows []ReportExample, k int, seed int64) []ReportExample {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ra, rb := rows[idx[a]], rows[idx[b]]
		if ra.Win != rb.Win {
			return ra.Win > rb.Win
		}
		return ra.LogR > rb.LogR
	})
	used := map[int]bool{}
	var out []ReportExample
	take := func(i int, pick string) {
		if used[i] {
			return
		}
		used[i] = true
		e := rows[i]
		e.Pick = pick
		out = append(out, e)
	}
	for j := 0; j < k && j < len(idx); j++ {
		if rows[idx[j]].Win > 0.5 {
			take(idx[j], "largest win")
		}
	}
	for j := 0; j < k && j < len(idx); j++ {
		if i := idx[len(idx)-1-j]; rows[i].Win < 0.5 {
			take(i, "largest loss")
		}
	}
	rng := rand.New(rand.NewSource(seed))
	extra := 0
	for _, i := range rng.Perm(len(rows)) {
		if extra == k {
			break
		}
		if !used[i] {
			take(i, "random")
			extra++
		}
	}
	return out
}

// readEvalExamples reads a run's eval.jsonl (held-out rows) for the report.
func readEvalExamples(path string, k int, seed int64) []ReportExample {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var rows []ReportExample
	for _, line := range strings.Split(string(b), "\n") {
		var r ReportExample
		if json.Unmarshal([]byte(line), &r) == nil && r.Prompt != "" {
			rows = append(rows, r)
		}
	}
	return PickReportExamples(rows, k, seed)
}

// reportExtras gives the training report its before/after chart and example pairs.
func (t *trainer) reportExtras(res *Result) (*BeforeAfter, []ReportExample) {
	if math.IsNaN(res.WinRateBefore) || math.IsNaN(res.WinRateAfter) {
		return nil, nil
	}
	wr := &BeforeAfter{Label: "held-out win rate vs base (rule judge)", Before: res.WinRateBefore, After: res.WinRateAfter}
	return wr, readEvalExamples(filepath.Join(t.dir, "eval.jsonl"), 3, int64(t.r.Seed))
}

// WriteReport renders a self-contained HTML page with hand-written SVG line charts.
func WriteReport(w io.Writer, d ReportData) error {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n", html.EscapeString(d.Title))
	b.WriteString(`<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-size:90%;color:#555}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:85%;white-space:pre-wrap}
.ex{border:1px solid #ccc;margin:10px 0;padding:8px}.sbs{display:grid;grid-template-columns:1fr 1fr;gap:8px}</style></head><body>
`)
	fmt.Fprintf(&b, "<h1>%s</h1>\n<table>\n", html.EscapeString(d.Title))
	for _, kv := range d.Summary {
		fmt.Fprintf(&b, "<tr><th>%s</th><td>%s</td></tr>\n", html.EscapeString(kv[0]), html.EscapeString(kv[1]))
	}
	b.WriteString("</table>\n<div class=\"charts\">\n")
	for _, c := range []struct{ key, title string }{
		{"loss", "loss"},
		{"rewards/margins", "reward margin (rewards/margins)"},
		{"rewards/accuracies", "reward accuracy (rewards/accuracies)"},
		{"learning_rate", "learning rate"},
		{"grad_norm", "gradient norm (before clipping)"},
	} {
		xs, ys := series(d.Metrics, c.key)
		if len(xs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "<figure>%s<figcaption>%s against optimizer step</figcaption></figure>\n", svgLine(xs, ys, 440, 240), html.EscapeString(c.title))
	}
	b.WriteString("</div>\n")
	if d.WinRate != nil {
		fmt.Fprintf(&b, "<h2>Held-out win rate, before and after</h2>\n<figure>%s<figcaption>%s: before training (the base against itself), after (the trained model against the base)</figcaption></figure>\n",
			svgBeforeAfter(d.WinRate), html.EscapeString(d.WinRate.Label))
	}
	if len(d.Examples) > 0 {
		b.WriteString("<h2>What changed: held-out prompts, base and trained answers side by side</h2>\n")
		for _, e := range d.Examples {
			verdict := map[float64]string{1: "trained wins", 0.5: "tie", 0: "trained loses"}[e.Win]
			if verdict == "" {
				verdict = fmt.Sprintf("trained_win %.2f", e.Win)
			}
			raw := e.Raw
			if raw == "" {
				raw = "(no judge text recorded)"
			}
			fmt.Fprintf(&b, "<div class=\"ex\"><b>%s</b> · verdict: %s · log-ratio to base %.3f<pre>%s</pre><div class=\"sbs\"><div><b>base</b><pre>%s</pre></div><div><b>trained</b><pre>%s</pre></div></div><b>judge raw:</b><pre>%s</pre></div>\n",
				html.EscapeString(e.Pick), html.EscapeString(verdict), e.LogR, html.EscapeString(e.Prompt), html.EscapeString(e.Base), html.EscapeString(e.Trained), html.EscapeString(raw))
		}
	}
	if d.Recipe != "" {
		fmt.Fprintf(&b, "<h2>Recipe</h2>\n<pre>%s</pre>\n", html.EscapeString(d.Recipe))
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// svgBeforeAfter draws the two win rates as bars on a 0–100% axis with the 50% line.
func svgBeforeAfter(d *BeforeAfter) string {
	const w, h, left, top, bw = 420, 200, 50, 20, 90
	y := func(v float64) float64 { return top + (1-math.Max(0, math.Min(1, v)))*float64(h-top-30) }
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, w, h)
	for _, t := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&s, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ccc"%s/>`, left, y(t), w-10, y(t), map[bool]string{true: ` stroke-dasharray="4,3"`}[t == 0.5])
		fmt.Fprintf(&s, `<text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`, left-4, y(t)+4, 100*t)
	}
	for i, b := range []struct {
		name string
		v    float64
		fill string
	}{{"before", d.Before, "#9ecae9"}, {"after", d.After, "#2060c0"}} {
		x := left + 40 + i*(bw+60)
		fmt.Fprintf(&s, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"/>`, x, y(b.v), bw, y(0)-y(b.v), b.fill)
		fmt.Fprintf(&s, `<text x="%d" y="%.1f" text-anchor="middle">%.1f%%</text>`, x+bw/2, y(b.v)-4, 100*b.v)
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, x+bw/2, h-10, b.name)
	}
	s.WriteString(`</svg>`)
	return s.String()
}

func series(ms []Metrics, key string) (xs, ys []float64) {
	sorted := append([]Metrics(nil), ms...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Step < sorted[j].Step })
	for _, m := range sorted {
		v, ok := m.Values[key]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		xs = append(xs, float64(m.Step))
		ys = append(ys, v)
	}
	return xs, ys
}

// svgLine draws one polyline with axes and min/max labels.
func svgLine(xs, ys []float64, w, h int) string {
	const ml, mr, mt, mb = 56, 12, 10, 28
	x0, x1 := xs[0], xs[len(xs)-1]
	y0, y1 := ys[0], ys[0]
	for _, y := range ys {
		y0, y1 = math.Min(y0, y), math.Max(y1, y)
	}
	if x1 == x0 {
		x1 = x0 + 1
	}
	if y1 == y0 {
		y0, y1 = y0-0.5, y1+0.5
	}
	pw, ph := float64(w-ml-mr), float64(h-mt-mb)
	px := func(x float64) float64 { return ml + (x-x0)/(x1-x0)*pw }
	py := func(y float64) float64 { return mt + (1-(y-y0)/(y1-y0))*ph }
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`, w, h, w, h)
	fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#bbb"/>`, ml, mt, pw, ph)
	fmt.Fprintf(&s, `<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>`, ml-4, mt+10, fmtTick(y1))
	fmt.Fprintf(&s, `<text x="%d" y="%.0f" font-size="11" text-anchor="end">%s</text>`, ml-4, float64(mt)+ph, fmtTick(y0))
	fmt.Fprintf(&s, `<text x="%d" y="%d" font-size="11">%s</text>`, ml, h-8, fmtTick(x0))
	fmt.Fprintf(&s, `<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>`, w-mr, h-8, fmtTick(x1))
	s.WriteString(`<polyline fill="none" stroke="#2060c0" stroke-width="1.5" points="`)
	for i := range xs {
		fmt.Fprintf(&s, "%.1f,%.1f ", px(xs[i]), py(ys[i]))
	}
	s.WriteString(`"/></svg>`)
	return s.String()
}

func fmtTick(v float64) string {
	if v != 0 && (math.Abs(v) < 1e-3 || math.Abs(v) >= 1e5) {
		return fmt.Sprintf("%.2e", v)
	}
	return fmt.Sprintf("%.4g", v)
}
