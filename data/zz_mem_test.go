package data

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestZZMem(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "parquet", "*.parquet"))
	var m0, m1 runtime.MemStats
	worst := uint64(0)
	for _, f := range files {
		orig, _ := os.ReadFile(f)
		for pos := 4; pos < len(orig)-8; pos++ {
			for _, v := range []byte{0xff, 0x7f, 0x00} {
				b := append([]byte(nil), orig...)
				b[pos] = v
				runtime.ReadMemStats(&m0)
				drain(t, "f.parquet", b)
				runtime.ReadMemStats(&m1)
				if d := m1.TotalAlloc - m0.TotalAlloc; d > 100<<20 {
					t.Logf("%s pos %d = %#x: %d MB", filepath.Base(f), pos, v, d>>20)
					if d > worst {
						worst = d
						os.WriteFile("/tmp/memhog.parquet", b, 0o644)
					}
				}
			}
		}
	}
	t.Logf("worst %d MB", worst>>20)
}
