package train

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A checkpoint is a directory runDir/checkpoints/checkpoint-STEP holding the trainable weights
// (adapter.bin), the optimizer state (optimizer.bin), the loop state with its RNG and data cursor
// (state.json) and the resolved recipe (recipe.yaml). It is written into a temporary directory,
// every file fsynced, and then renamed into place, so a crash leaves either the whole
// checkpoint or none of it.

const checkpointPrefix = "checkpoint-"

// CheckpointFile is one file of a checkpoint and the function that writes it.
type CheckpointFile struct {
	Name  string
	Write func(io.Writer) error
}

// SaveCheckpoint writes a checkpoint for step atomically and then deletes the oldest ones beyond
// keep (0 keeps all). It returns the checkpoint's directory.
func SaveCheckpoint(runDir string, step int, files []CheckpointFile, keep int) (string, error) {
	root := filepath.Join(runDir, "checkpoints")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("train: checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+checkpointPrefix)
	if err != nil {
		return "", fmt.Errorf("train: checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	for _, f := range files {
		if err := writeSynced(filepath.Join(tmp, f.Name), f.Write); err != nil {
			return "", fmt.Errorf("train: checkpoint %s: %w", f.Name, err)
		}
	}
	if err := syncDir(tmp); err != nil {
		return "", err
	}
	final := filepath.Join(root, fmt.Sprintf("%s%d", checkpointPrefix, step))
	if _, err := os.Stat(final); err == nil {
		// Same step saved again (a resumed run ending where it resumed): replace it. The old one
		// is moved aside first so a crash between the two renames still leaves a whole copy.
		old := final + ".old"
		_ = os.RemoveAll(old)
		if err := os.Rename(final, old); err != nil {
			return "", fmt.Errorf("train: checkpoint: %w", err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := syncDir(root); err != nil {
		return "", err
	}
	if keep > 0 {
		steps, _ := listCheckpoints(runDir)
		for i := 0; i+keep < len(steps); i++ {
			removeCheckpoint(root, steps[i])
		}
	}
	return final, nil
}

// removeCheckpoint deletes an old checkpoint so that a crash never leaves part of one under its
// own name: it is renamed to a temporary name first (atomic), which LatestCheckpoint clears.
func removeCheckpoint(root string, step int) {
	dead := filepath.Join(root, fmt.Sprintf(".tmp-removed-%s%d", checkpointPrefix, step))
	if err := os.Rename(filepath.Join(root, fmt.Sprintf("%s%d", checkpointPrefix, step)), dead); err != nil {
		return
	}
	_ = os.RemoveAll(dead)
}

// WriteFileAtomic writes path via a synced temporary file and a rename.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	if err := os.Chmod(name, 0o644); err != nil {
		return err
	}
	defer os.Remove(name)
	if err := writeSynced(name, write); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func writeSynced(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("train: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("train: sync %s: %w", dir, err)
	}
	return nil
}

// listCheckpoints returns the steps of the complete checkpoints in runDir, ascending.
func listCheckpoints(runDir string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(runDir, "checkpoints"))
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), checkpointPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			continue
		}
		steps = append(steps, n)
	}
	sort.Ints(steps)
	return steps, nil
}

// LatestCheckpoint returns the directory of the newest complete checkpoint of a run, after
// removing any temporary directory a crash left behind. ok is false when there is none.
func LatestCheckpoint(runDir string) (dir string, step int, ok bool, err error) {
	root := filepath.Join(runDir, "checkpoints")
	entries, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("train: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
	steps, err := listCheckpoints(runDir)
	if err != nil || len(steps) == 0 {
		// A crash between the two renames of a same-step replacement leaves only the .old copy.
		for _, e := range entries {
			if s, ok := strings.CutSuffix(e.Name(), ".old"); ok && strings.HasPrefix(s, checkpointPrefix) {
				if err := os.Rename(filepath.Join(root, e.Name()), filepath.Join(root, s)); err == nil {
					return LatestCheckpoint(runDir)
				}
			}
		}
		return "", 0, false, nil
	}
	last := steps[len(steps)-1]
	return filepath.Join(root, fmt.Sprintf("%s%d", checkpointPrefix, last)), last, true, nil
}
