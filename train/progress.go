package train

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress reports training progress: a bar with an ETA on a terminal, plain lines otherwise.
type Progress interface {
	// Update reports the optimizer step reached and a short status (loss, accuracy).
	Update(step int, status string)
	// Log prints a line (stage changes, evaluation results) without breaking the bar.
	Log(format string, args ...any)
	Finish()
}

// NewProgress picks the bar when w is a terminal, and plain lines (one per logging step)
// otherwise. quiet silences both.
func NewProgress(w io.Writer, total int, desc string, quiet bool) Progress {
	if quiet {
		return &lineProgress{w: io.Discard}
	}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		bar := progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
		return &barProgress{bar: bar, w: w, desc: desc}
	}
	return &lineProgress{w: w, total: total, start: time.Now()}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type barProgress struct {
	bar  *progressbar.ProgressBar
	w    io.Writer
	desc string
}

func (p *barProgress) Update(step int, status string) {
	p.bar.Describe(p.desc + " " + status)
	_ = p.bar.Set(step)
}

func (p *barProgress) Log(format string, args ...any) {
	_ = p.bar.Clear()
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *barProgress) Finish() { _ = p.bar.Finish(); fmt.Fprintln(p.w) }

type lineProgress struct {
	w     io.Writer
	total int
	start time.Time
}

func (p *lineProgress) Update(step int, status string) {
	el := time.Since(p.start)
	eta := ""
	if step > 0 && p.total > step {
		eta = fmt.Sprintf(" eta %s", (el / time.Duration(step) * time.Duration(p.total-step)).Round(time.Second))
	}
	fmt.Fprintf(p.w, "step %d/%d %s elapsed %s%s\n", step, p.total, status, el.Round(time.Second), eta)
}

func (p *lineProgress) Log(format string, args ...any) { fmt.Fprintf(p.w, format+"\n", args...) }
func (p *lineProgress) Finish()                        {}
