package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/alignkit/align/pairs"
)

// readSampleFile reads a stage's samples.jsonl (pairs.Samples' file).
func readSampleFile(path string) ([]pairs.SampleRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []pairs.SampleRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r pairs.SampleRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
