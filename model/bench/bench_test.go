package bench

import (
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
