package safety

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/alignkit/align/eval"
	"github.com/alignkit/align/pairs"
	"github.com/alignkit/align/runtime"
)

// RetrofitOptions configures RunRetrofit.
type RetrofitOptions struct {
	// Base is the model before the retrofit, Retrofitted after it (Ollama names).
	Base, Retrofitted string
	// Safety holds held-out labelled prompts (label safe or unsafe; XSTest's CSV). The unsafe
	// ones are asked as they are (style "none") and wrapped in every attack; the safe ones are
	// asked as they are and give the over-refusal rate.
	Safety []eval.PromptItem
	// Attacks are the templates applied to the unsafe prompts, reported by style.
	Attacks []pairs.Attack
	// General prompts (AlpacaEval instructions) give the win rate of Retrofitted against Base.
	General []eval.PromptItem
	Judge   string
	// SafetyTemplate classifies compliance and refusal (default xstest); WinRateTemplate
	// compares the two models (default alpaca_eval_clf).
	SafetyTemplate, WinRateTemplate string
	// GenOptions are the models' generation settings (default greedy, 256 tokens).
	GenOptions    runtime.Options
	JudgeOptions  *runtime.Options
	JudgeAttempts int
	Seed          int64
	// Out holds one folder per eval run (resumable) and report.json, report.html.
	Out      string
	Progress func(stage string, done, total int)
}

// StyleRate is one attack style's attack success rate (percent, with its standard error).
type StyleRate struct {
	Style   string  `json:"style"`
	Prompts int     `json:"prompts"`
	ASR     float64 `json:"attack_success_rate"`
	SE      float64 `json:"attack_success_se"`
	Invalid float64 `json:"invalid_fraction"`
}

// RetrofitRow is one model's line of the table.
type RetrofitRow struct {
	Model string      `json:"model"`
	ASR   []StyleRate `json:"asr_by_style"`
	// MeanASR averages the styles' rates.
	MeanASR float64 `json:"mean_attack_success_rate"`
	// OverRefusal is the percentage of safe prompts refused fully or partly.
	OverRefusal   float64 `json:"over_refusal_rate"`
	OverRefusalSE float64 `json:"over_refusal_se"`
	// WinRate against the base (percent; the base against itself is 50 by construction and is
	// not judged).
	WinRate   float64 `json:"win_rate_vs_base"`
	WinRateSE float64 `json:"win_rate_se"`
	LCWinRate float64 `json:"lc_win_rate_vs_base"`
	// Runs lists the eval output folders behind the numbers.
	Runs []string `json:"runs"`
}

// RetrofitReport is the before/after table.
type RetrofitReport struct {
	Base        string        `json:"base"`
	Retrofitted string        `json:"retrofitted"`
	Judge       string        `json:"judge"`
	Styles      []string      `json:"styles"`
	Rows        []RetrofitRow `json:"rows"`
	General     int           `json:"general_prompts"`
	Unsafe      int           `json:"unsafe_prompts"`
	Safe        int           `json:"safe_prompts"`
	Created     time.Time     `json:"created"`
	Warnings    []string      `json:"warnings,omitempty"`
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func dirName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

// StylePrompts returns, per style (the direct request as "none" first, then the attack styles
// sorted), the prompts of that style: the unsafe prompts wrapped in each attack of the style;
// the "none" style also holds the safe prompts as they are.
func StylePrompts(prompts []eval.PromptItem, attacks []pairs.Attack) (styles []string, byStyle map[string][]eval.PromptItem, err error) {
	byStyle = map[string][]eval.PromptItem{}
	for _, p := range prompts {
		if p.Label != "safe" && p.Label != "unsafe" {
			return nil, nil, fmt.Errorf("safety: prompt %s has label %q; want safe or unsafe", p.ID, p.Label)
		}
		byStyle["none"] = append(byStyle["none"], p)
		if p.Label != "unsafe" {
			continue
		}
		for _, a := range attacks {
			if a.Style == "none" {
				continue // the direct request is already in "none"
			}
			s, err := a.Apply(p.Instruction)
			if err != nil {
				return nil, nil, err
			}
			q := p
			q.ID, q.Instruction = p.ID+"@"+a.Name, s
			byStyle[a.Style] = append(byStyle[a.Style], q)
		}
	}
	for s := range byStyle {
		if s != "none" {
			styles = append(styles, s)
		}
	}
	sort.Strings(styles)
	return append([]string{"none"}, styles...), byStyle, nil
}

// RunRetrofit runs every evaluation the report needs, resuming each from its folder, and
// writes report.json and report.html into Out.
func RunRetrofit(ctx context.Context, pool *runtime.Pool, opt RetrofitOptions) (*RetrofitReport, error) {
	if opt.Base == "" || opt.Retrofitted == "" || opt.Judge == "" || opt.Out == "" {
		return nil, errors.New("safety: the retrofit report needs a base, a retrofitted model, a judge and an output folder")
	}
	if len(opt.Safety) == 0 || len(opt.General) == 0 {
		return nil, errors.New("safety: the retrofit report needs safety prompts and general prompts")
	}
	if opt.GenOptions.NumPredict == 0 {
		opt.GenOptions = runtime.GreedyOptions(256)
	}
	styles, byStyle, err := StylePrompts(opt.Safety, opt.Attacks)
	if err != nil {
		return nil, err
	}
	rep := &RetrofitReport{Base: opt.Base, Retrofitted: opt.Retrofitted, Judge: opt.Judge, Styles: styles,
		General: len(opt.General), Created: time.Now().UTC()}
	for _, p := range opt.Safety {
		if p.Label == "safe" {
			rep.Safe++
		} else {
			rep.Unsafe++
		}
	}
	for _, model := range []string{opt.Base, opt.Retrofitted} {
		row := RetrofitRow{Model: model}
		sum := 0.0
		for _, s := range styles {
			out := filepath.Join(opt.Out, "safety", dirName(model), dirName(s))
			res, err := eval.RunSafety(ctx, pool, eval.SafetyOptions{Model: model, Judge: opt.Judge, Template: opt.SafetyTemplate,
				Prompts: byStyle[s], GenOptions: opt.GenOptions, Seed: opt.Seed, Out: out, JudgeAttempts: opt.JudgeAttempts,
				Progress: stageProgress(opt.Progress, model+" safety "+s)})
			if err != nil {
				return nil, fmt.Errorf("safety: %s, style %s: %w", model, s, err)
			}
			row.Runs = append(row.Runs, out)
			n := 0
			for _, c := range res.Counts {
				if c.Label == "unsafe" {
					n = c.N
				}
			}
			row.ASR = append(row.ASR, StyleRate{Style: s, Prompts: n, ASR: res.AttackSuccessRate, SE: res.AttackSuccessSE, Invalid: res.InvalidFraction})
			sum += res.AttackSuccessRate
			if s == "none" {
				row.OverRefusal, row.OverRefusalSE = res.OverRefusalRate, res.OverRefusalSE
			}
			for _, w := range res.Warnings {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s %s: %s", model, s, w))
			}
		}
		row.MeanASR = sum / float64(len(styles))
		if model == opt.Base {
			row.WinRate, row.LCWinRate = 50, 50
		} else {
			out := filepath.Join(opt.Out, "win-rate")
			res, err := eval.RunWinRate(ctx, pool, eval.WinRateOptions{Model: model, Baseline: opt.Base, Prompts: opt.General,
				Judge: opt.Judge, Template: opt.WinRateTemplate, GenOptions: opt.GenOptions, JudgeOptions: opt.JudgeOptions,
				JudgeAttempts: opt.JudgeAttempts, Seed: opt.Seed, Out: out, Progress: stageProgress(opt.Progress, model+" win-rate")})
			if err != nil {
				return nil, fmt.Errorf("safety: win rate of %s against %s: %w", model, opt.Base, err)
			}
			row.Runs = append(row.Runs, out)
			if len(res.Report.Stats) > 0 {
				h := res.Report.Stats[0]
				row.WinRate, row.WinRateSE, row.LCWinRate = h.WinRate, h.StandardError, h.LengthControlledWinRate
				for _, w := range h.Warnings {
					rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s win rate: %s", model, w))
				}
			} else {
				row.WinRate, row.WinRateSE, row.LCWinRate = math.NaN(), math.NaN(), math.NaN()
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s win rate: no valid judgment", model))
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	if err := WriteRetrofitReport(opt.Out, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

func stageProgress(p func(string, int, int), prefix string) func(string, int, int) {
	if p == nil {
		return nil
	}
	return func(stage string, done, total int) { p(prefix+": "+stage, done, total) }
}

// finite replaces NaN and infinities (which JSON cannot hold) by nil.
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// MarshalJSON writes NaN rates as null.
func (r RetrofitRow) MarshalJSON() ([]byte, error) {
	type plain RetrofitRow
	aux := struct {
		plain
		WinRate   *float64         `json:"win_rate_vs_base"`
		WinRateSE *float64         `json:"win_rate_se"`
		LCWinRate *float64         `json:"lc_win_rate_vs_base"`
		MeanASR   *float64         `json:"mean_attack_success_rate"`
		OverRef   *float64         `json:"over_refusal_rate"`
		OverRefSE *float64         `json:"over_refusal_se"`
		ASR       []map[string]any `json:"asr_by_style"`
	}{plain: plain(r), WinRate: finite(r.WinRate), WinRateSE: finite(r.WinRateSE), LCWinRate: finite(r.LCWinRate),
		MeanASR: finite(r.MeanASR), OverRef: finite(r.OverRefusal), OverRefSE: finite(r.OverRefusalSE)}
	for _, s := range r.ASR {
		aux.ASR = append(aux.ASR, map[string]any{"style": s.Style, "prompts": s.Prompts, "attack_success_rate": finite(s.ASR),
			"attack_success_se": finite(s.SE), "invalid_fraction": finite(s.Invalid)})
	}
	return json.Marshal(aux)
}

// WriteRetrofitReport writes report.json and report.html into dir.
func WriteRetrofitReport(dir string, rep *RetrofitReport) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("safety: %w", err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("safety: report.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("safety: %w", err)
	}
	var h bytes.Buffer
	if err := retrofitHTML.Execute(&h, rep); err != nil {
		return fmt.Errorf("safety: report.html: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "report.html"), h.Bytes(), 0o644)
}

// Table renders the report as a plain-text table: one row per model, one column per attack
// style, then over-refusal and win rate.
func (rep *RetrofitReport) Table() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-24s", "model")
	for _, s := range rep.Styles {
		fmt.Fprintf(&b, " %14s", "ASR "+s)
	}
	fmt.Fprintf(&b, " %10s %12s %12s\n", "mean ASR", "over-refusal", "win vs base")
	for _, r := range rep.Rows {
		fmt.Fprintf(&b, "%-24s", r.Model)
		for _, s := range r.ASR {
			fmt.Fprintf(&b, " %14s", pct(s.ASR))
		}
		fmt.Fprintf(&b, " %10s %12s %12s\n", pct(r.MeanASR), pct(r.OverRefusal), pct(r.WinRate))
	}
	return b.String()
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", x)
}

func num(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", x)
}

var retrofitHTML = template.Must(template.New("retrofit").Funcs(template.FuncMap{"num": num}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Safety retrofit: {{.Base}} → {{.Retrofitted}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}th:first-child,td:first-child{text-align:left}</style></head><body>
<h1>Safety retrofit report</h1>
<p>Base <b>{{.Base}}</b>, retrofitted <b>{{.Retrofitted}}</b>, judge <b>{{.Judge}}</b>.
{{.Unsafe}} held-out unsafe prompts (asked directly and wrapped in each attack style), {{.Safe}} safe prompts, {{.General}} general prompts.</p>
<table><tr><th>model</th>{{range .Styles}}<th>ASR {{.}} (%)</th>{{end}}<th>mean ASR (%)</th><th>over-refusal (%)</th><th>win rate vs base (%)</th><th>LC win rate (%)</th></tr>
{{range .Rows}}<tr><td>{{.Model}}</td>{{range .ASR}}<td>{{num .ASR}} ± {{num .SE}}</td>{{end}}<td>{{num .MeanASR}}</td><td>{{num .OverRefusal}} ± {{num .OverRefusalSE}}</td><td>{{num .WinRate}}{{if .WinRateSE}} ± {{num .WinRateSE}}{{end}}</td><td>{{num .LCWinRate}}</td></tr>
{{end}}</table>
<p>ASR: the attack success rate, full compliance on unsafe prompts (align eval safety, XSTest classifier). Over-refusal: safe prompts refused fully or partly.
Win rate: align eval win-rate of the retrofitted model against the base on the general prompts (the base against itself is 50 by construction, not judged).</p>
{{if .Warnings}}<h2>Warnings</h2><ul>{{range .Warnings}}<li>{{.}}</li>{{end}}</ul>{{end}}
<h2>Runs</h2><ul>{{range .Rows}}{{range .Runs}}<li>{{.}}</li>{{end}}{{end}}</ul>
</body></html>
`))
