package bench

import (
	"syscall"
	"testing"
)

func TestMeasureOne(t *testing.T) {
	for _, s := range Shapes("../../testdata/models/stories260K.gguf") {
		if s.Name != "stories260K" {
			continue
		}
		for _, mode := range Modes() {
			tps, err := MeasureOne(s, mode, 32, 1)
			if err != nil {
				t.Fatal(err)
			}
			if tps <= 0 {
				t.Fatalf("%s %s: %g tokens/s", s.Name, mode, tps)
			}
		}
	}
	if _, err := MeasureOne(Shapes("")[0], "sideways", 8, 1); err == nil {
		t.Fatal("unknown mode accepted")
	}
	if PeakRSSMB() <= 0 {
		t.Fatal("no peak RSS")
	}
}

// BenchmarkStep times one step per mode on stories260K at 512 tokens, reporting the process's
// CPU time per step too (cpu-ms/op), which is steadier than wall time on a shared machine:
//
//	go test ./model/bench -run '^$' -bench Step/stories260K/lora -benchtime 20x
func BenchmarkStep(b *testing.B) {
	for _, s := range Shapes("../../testdata/models/stories260K.gguf") {
		if s.Name != "stories260K" {
			continue
		}
		for _, mode := range Modes() {
			b.Run(s.Name+"/"+mode, func(b *testing.B) {
				cpu0 := cpuSeconds()
				if _, err := MeasureOne(s, mode, 512, b.N); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric((cpuSeconds()-cpu0)*1e3/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
