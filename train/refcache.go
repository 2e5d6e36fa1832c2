package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// RefCache stores the reference model's per-token log-probs of a dataset's sequences on disk, so
// that a rerun (or a resumed run) does not recompute them. The key covers everything the values
// depend on: the encoded sequences (hence the dataset content, the template and the truncation
// lengths), the reference GGUF's digest and the template name.
type RefCache struct {
	Dir string
}

// DefaultCacheDir is $ALIGN_CACHE_DIR, or the user cache directory's align/refcache.
func DefaultCacheDir() string {
	if d := os.Getenv("ALIGN_CACHE_DIR"); d != "" {
		return filepath.Join(d, "refcache")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "align", "refcache")
	}
	return filepath.Join(os.TempDir(), "align-refcache")
}

// DefaultAssetDir is where embedded assets (asset:NAME) are written for the APIs that read
// files: "assets" beside DefaultCacheDir.
func DefaultAssetDir() string { return filepath.Join(filepath.Dir(DefaultCacheDir()), "assets") }

// RefCacheKey hashes the inputs that determine reference log-probs.
func RefCacheKey(datasetHash, refDigest, template string, maxLength, maxPromptLength int, what string) string {
	h := sha256.New()
	fmt.Fprintf(h, "align-refcache-v1\x00%s\x00%s\x00%s\x00%d\x00%d\x00%s", datasetHash, refDigest, template, maxLength, maxPromptLength, what)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

const refMagic = "ALIGNREF1\n"

// Load returns the cached log-probs for key, and false when absent or unreadable.
func (c RefCache) Load(key string) ([][]float32, bool) {
	f, err := os.Open(filepath.Join(c.Dir, key+".bin"))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	out, err := readRef(f)
	if err != nil {
		return nil, false
	}
	return out, true
}

func readRef(r io.Reader) ([][]float32, error) {
	magic := make([]byte, len(refMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != refMagic {
		return nil, fmt.Errorf("bad header")
	}
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	out := make([][]float32, n)
	for i := range out {
		var l uint32
		if err := binary.Read(r, binary.LittleEndian, &l); err != nil {
			return nil, err
		}
		out[i] = make([]float32, l)
		if err := readF32(r, out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Save writes the log-probs for key atomically.
func (c RefCache) Save(key string, seqs [][]float32) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("train: reference cache: %w", err)
	}
	return WriteFileAtomic(filepath.Join(c.Dir, key+".bin"), func(w io.Writer) error {
		if _, err := io.WriteString(w, refMagic); err != nil {
			return err
		}
		if err := binary.Write(w, binary.LittleEndian, uint64(len(seqs))); err != nil {
			return err
		}
		for _, s := range seqs {
			if err := binary.Write(w, binary.LittleEndian, uint32(len(s))); err != nil {
				return err
			}
			if err := writeF32(w, s); err != nil {
				return err
			}
		}
		return nil
	})
}
