package train

import (
	"fmt"
	"html"
	"io"
	"math"
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
}

// WriteReport renders a self-contained HTML page with hand-written SVG line charts.
func WriteReport(w io.Writer, d ReportData) error {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n", html.EscapeString(d.Title))
	b.WriteString(`<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-size:90%;color:#555}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:85%}</style></head><body>
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
	if d.Recipe != "" {
		fmt.Fprintf(&b, "<h2>Recipe</h2>\n<pre>%s</pre>\n", html.EscapeString(d.Recipe))
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
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
