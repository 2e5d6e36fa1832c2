package eval

import (
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sampleReport(t *testing.T) *Report {
	t.Helper()
	js := synthJudgments(120, 21)
	for i := range js {
		js[i].Dataset = []string{"helpful_base", "koala", "oasst"}[i%3]
		js[i].Raw = "M"
	}
	js[3].Preference = math.NaN()
	js[3].Raw = "I cannot decide <script>alert(1)</script>"
	var arena []Judgment
	for _, m := range []string{"policy-dpo", "policy-sft"} {
		for i := 0; i < 30; i++ {
			v := []string{"[[A>B]]", "[[B>A]]", "[[A=B]]", "[[B>>A]]"}[(i+len(m))%4]
			arena = append(arena, arenaJudgment("q"+strconv.Itoa(i), m, v, i%2 == 1))
		}
	}
	lb, err := Leaderboard(arena, BTOptions{Baseline: "base"})
	if err != nil {
		t.Fatal(err)
	}
	var recs []SafetyRecord
	for i := 0; i < 40; i++ {
		lab := "safe"
		if i%2 == 1 {
			lab = "unsafe"
		}
		recs = append(recs, SafetyRecord{ID: strconv.Itoa(i), Label: lab, Class: []string{FullCompliance, FullRefusal, PartialRefusal, FullCompliance}[i%4], Model: "m", Judge: "j"})
	}
	saf := SafetyStats(recs)
	saf.JudgeAccuracy = AgreementWithHumans([]HumanLabeled{{Label: FullCompliance}, {Label: FullRefusal}}, []string{FullCompliance, ""}, "test")
	return &Report{Kind: "win-rate", Source: map[string]string{"judge": "j"}, Stats: Stats(js, StatsOptions{}),
		Leaderboard: lb, Safety: saf, Examples: PickExamples(js, 4)}
}

func TestReportFiles(t *testing.T) {
	dir := t.TempDir()
	r := sampleReport(t)
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	stats := m["stats"].([]any)
	if len(stats) != 4 { // all + 3 datasets
		t.Errorf("stats rows %d", len(stats))
	}
	first := stats[0].(map[string]any)
	if first["n_invalid"].(float64) != 1 || first["win_rate"] == nil {
		t.Errorf("first row %v", first)
	}
	h, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	html := string(h)
	for _, want := range []string{"<svg", "Bradley–Terry", "Length difference", "judge raw", "&lt;script&gt;", "Safety"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(html, "<script>alert") {
		t.Errorf("raw judge text not escaped")
	}
	if n := strings.Count(html, "<svg"); n != 4 {
		t.Errorf("%d svgs, want 4 (win rate, scatter, ladder, safety)", n)
	}
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestReportRendersInChromium opens report.html in a real headless Chromium, takes a
// screenshot and checks that it is a real, non-blank page: enough non-white pixels, and both
// the bar colour and the marker colour present.
func TestReportRendersInChromium(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		if os.Getenv("ALIGN_SKIP_CHROMIUM") == "1" {
			t.Skip("SKIPPED: no chromium on PATH and ALIGN_SKIP_CHROMIUM=1 — report rendering NOT verified")
		}
		t.Fatal("no chromium on PATH (Debian: apt-get install -y chromium); set ALIGN_SKIP_CHROMIUM=1 to skip")
	}
	dir := t.TempDir()
	if err := sampleReport(t).Write(dir); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "shot.png")
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir="+profile, "--screenshot="+shot, "--window-size=1200,2200", "file://"+filepath.Join(dir, "report.html"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	bnd := img.Bounds()
	nonWhite, blue, red := 0, 0, 0
	for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
		for x := bnd.Min.X; x < bnd.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			if r < 240 || g < 240 || b < 240 {
				nonWhite++
			}
			if near(float64(r), 0x4c, 12) && near(float64(g), 0x78, 12) && near(float64(b), 0xa8, 12) {
				blue++
			}
			if near(float64(r), 0xe4, 12) && near(float64(g), 0x57, 12) && near(float64(b), 0x56, 12) {
				red++
			}
		}
	}
	total := bnd.Dx() * bnd.Dy()
	t.Logf("screenshot %dx%d: %d non-white pixels (%.1f%%), %d bar-blue, %d marker-red", bnd.Dx(), bnd.Dy(), nonWhite, 100*float64(nonWhite)/float64(total), blue, red)
	if float64(nonWhite) < 0.02*float64(total) || blue < 500 || red < 100 {
		t.Errorf("the rendered report looks blank or lacks its plots")
	}
	if dst := os.Getenv("ALIGN_REPORT_SCREENSHOT"); dst != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(dst, b, 0o644)
	}
}
