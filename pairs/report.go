package pairs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"path/filepath"
	"sort"
	"strconv"
)

// WriteCurateReport writes report.json and report.html into dir.
func WriteCurateReport(dir string, sum Summary) error {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("curate: report: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, "report.json"), append(b, '\n')); err != nil {
		return err
	}
	var h bytes.Buffer
	if err := curateHTML.Execute(&h, curateView(sum)); err != nil {
		return fmt.Errorf("curate: report.html: %w", err)
	}
	return writeAtomic(filepath.Join(dir, "report.html"), h.Bytes())
}

type histBar struct {
	Label string
	N     int
	Width int // percent of the largest bar
}

type modelView struct {
	Model   string
	Filters FilterCounts
	Dropped []int
	Stats   ScoreStats
	Bars    []histBar
}

type reportView struct {
	S       Summary
	Reasons []string
	Models  []modelView
	Total   []int
}

func curateView(s Summary) reportView {
	v := reportView{S: s, Reasons: FilterReasons()}
	for _, r := range v.Reasons {
		v.Total = append(v.Total, s.Filters.Dropped[r])
	}
	for _, m := range s.Models {
		mv := modelView{Model: m, Filters: s.FiltersByModel[m], Stats: s.Scores[m]}
		for _, r := range v.Reasons {
			mv.Dropped = append(mv.Dropped, mv.Filters.Dropped[r])
		}
		mv.Bars = histBars(mv.Stats.Histogram)
		v.Models = append(v.Models, mv)
	}
	return v
}

func histBars(h map[string]int) []histBar {
	keys := make([]string, 0, len(h))
	top := 0
	for k, n := range h {
		keys = append(keys, k)
		top = max(top, n)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, _ := strconv.ParseFloat(keys[i], 64)
		b, _ := strconv.ParseFloat(keys[j], 64)
		return a < b
	})
	var out []histBar
	for _, k := range keys {
		out = append(out, histBar{Label: k, N: h[k], Width: 100 * h[k] / max(top, 1)})
	}
	return out
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

var curateHTML = template.Must(template.New("report").Funcs(template.FuncMap{"pct": pct,
	"f2": func(x float64) string { return fmt.Sprintf("%.2f", x) }}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>align data curate: {{.S.Out}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th:first-child,td:first-child{text-align:left}
.bar{background:#4a7bd0;height:1em;display:inline-block}</style></head><body>
<h1>Curation report</h1>
<p>Rubric <b>{{.S.Rubric}}</b> (template {{.S.Template}}), judge <b>{{.S.Judge}}</b>, K = {{.S.K}} per model.
Output {{.S.Out}}{{if .S.Pairs}}, {{.S.PairCount}} pairs in {{.S.Pairs}}{{end}}.</p>
<h2>Prompts</h2>
<table><tr><th>read</th><th>used</th><th>removed (duplicate, excluded, contaminated)</th><th>contaminated (exact / n-gram)</th></tr>
<tr><td>{{.S.PromptsIn}}</td><td>{{.S.Prompts}}</td><td>{{len .S.PromptsRemoved}}</td>
<td>{{with .S.Contamination}}{{.Exact}} / {{.Overlap}} of {{.Prompts}} against {{.EvalItems}} eval items{{else}}not checked{{end}}</td></tr></table>
<h2>Filters</h2>
<table><tr><th>model</th><th>samples</th>{{range .Reasons}}<th>{{.}}</th>{{end}}<th>auto-negative</th><th>judged</th></tr>
{{range .Models}}<tr><td>{{.Model}}</td><td>{{.Filters.Total}}</td>{{range .Dropped}}<td>{{.}}</td>{{end}}<td>{{.Filters.AutoNegative}}</td><td>{{.Filters.Judged}}</td></tr>
{{end}}<tr><th>all</th><th>{{.S.Filters.Total}}</th>{{range .Total}}<th>{{.}}</th>{{end}}<th>{{.S.Filters.AutoNegative}}</th><th>{{.S.Filters.Judged}}</th></tr></table>
<h2>Judge</h2>
<p>{{.S.JudgeCalls}} judge calls ({{.S.JudgeNew}} in the last run), {{.S.JudgeInvalid}} invalid: judge-invalid rate <b>{{pct .S.JudgeInvalidRate}}</b>.</p>
<h2>Scores by model</h2>
{{range .Models}}<h3>{{.Model}}</h3><p>n = {{.Stats.N}}{{if .Stats.N}}, mean {{f2 .Stats.Mean}}, min {{f2 .Stats.Min}}, max {{f2 .Stats.Max}}{{end}}</p>
<table>{{range .Bars}}<tr><td>{{.Label}}</td><td>{{.N}}</td><td style="width:20em;text-align:left"><span class="bar" style="width:{{.Width}}%"></span></td></tr>{{end}}</table>
{{end}}</body></html>
`))

func writeJSONReport(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("curate: report: %w", err)
	}
	return writeAtomic(path, append(b, '\n'))
}
