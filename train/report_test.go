package train

import (
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPickReportExamples(t *testing.T) {
	var rows []ReportExample
	for i := 0; i < 20; i++ {
		rows = append(rows, ReportExample{Prompt: fmt.Sprint("p", i), Win: []float64{0, 0.5, 1}[i%3], LogR: float64(i)})
	}
	ex := PickReportExamples(rows, 3, 1)
	if len(ex) != 9 {
		t.Fatalf("%d examples", len(ex))
	}
	seen := map[string]bool{}
	for i, e := range ex {
		if seen[e.Prompt] {
			t.Errorf("%s shown twice", e.Prompt)
		}
		seen[e.Prompt] = true
		switch {
		case i < 3 && (e.Pick != "largest win" || e.Win != 1):
			t.Errorf("example %d: %+v", i, e)
		case i >= 3 && i < 6 && (e.Pick != "largest loss" || e.Win != 0):
			t.Errorf("example %d: %+v", i, e)
		case i >= 6 && e.Pick != "random":
			t.Errorf("example %d: %+v", i, e)
		}
	}
	// largest wins: the wins with the largest log-ratio (p17, p14, p11 have Win 1 and LogR 17, 14, 11)
	if ex[0].Prompt != "p17" || ex[1].Prompt != "p14" || ex[3].Prompt != "p0" {
		t.Errorf("order %v %v %v", ex[0].Prompt, ex[1].Prompt, ex[3].Prompt)
	}
	if again := PickReportExamples(rows, 3, 1); fmt.Sprint(again) != fmt.Sprint(ex) {
		t.Errorf("not reproducible")
	}
}

// TestTrainReportRendersInChromium: the training report with its before/after chart and
// side-by-side examples renders in a real headless Chromium.
func TestTrainReportRendersInChromium(t *testing.T) {
	var bin string
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("ALIGN_SKIP_CHROMIUM") == "1" {
			t.Skip("SKIPPED: no chromium and ALIGN_SKIP_CHROMIUM=1 — report rendering NOT verified")
		}
		t.Fatal("no chromium on PATH (Debian: apt-get install -y chromium); set ALIGN_SKIP_CHROMIUM=1 to skip")
	}
	dir := t.TempDir()
	var ms []Metrics
	for i := 1; i <= 10; i++ {
		ms = append(ms, Metrics{Step: i, Values: map[string]float64{"loss": 1 / float64(i)}})
	}
	rows := []ReportExample{{Prompt: "Tell a story <b>now</b>", Base: "Once there was a dog.", Trained: "Once upon a time, a happy cat.", Win: 1, LogR: 2},
		{Prompt: "Say hi", Base: "Hi there", Trained: "Hello", Win: 0, LogR: -1}}
	d := ReportData{Title: "run", Summary: [][2]string{{"objective", "dpo"}}, Metrics: ms,
		WinRate: &BeforeAfter{Label: "held-out win rate", Before: 0.5, After: 0.8}, Examples: PickReportExamples(rows, 3, 1)}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(f, d); err != nil {
		t.Fatal(err)
	}
	f.Close()
	h, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{"before and after", "largest win", "largest loss", "Once upon a time, a happy cat.", "&lt;b&gt;now", "80.0%"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--screenshot="+shot, "--window-size=1100,1800", "file://"+filepath.Join(dir, "report.html"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	pf, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}
	after, before := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if r == 0x20 && g == 0x60 && bl == 0xc0 {
				after++
			}
			if r == 0x9e && g == 0xca && bl == 0xe9 {
				before++
			}
		}
	}
	t.Logf("after-bar pixels %d, before-bar pixels %d", after, before)
	if after < 5000 || before < 3000 || after < before {
		t.Errorf("the before/after chart is not drawn as expected (after %d, before %d)", after, before)
	}
}
