package train

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestCheckpointRotationLeavesNoPart: rotation deletes an old checkpoint through a temporary
// name, so a crash in the middle leaves a .tmp- directory (cleared by LatestCheckpoint), never a
// checkpoint-N missing some of its files; a kill landing in os.RemoveAll of checkpoint-1 itself
// once left one without state.json (TestResumeAfterKill in CI).
func TestCheckpointRotationLeavesNoPart(t *testing.T) {
	dir := t.TempDir()
	files := []CheckpointFile{{Name: "a", Write: func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }},
		{Name: "b", Write: func(w io.Writer) error { _, err := w.Write([]byte("y")); return err }}}
	for step := 1; step <= 3; step++ {
		if _, err := SaveCheckpoint(dir, step, files, 2); err != nil {
			t.Fatal(err)
		}
	}
	steps, err := listCheckpoints(dir)
	if err != nil || len(steps) != 2 || steps[0] != 2 || steps[1] != 3 {
		t.Fatalf("after keeping 2 of 3: %v %v", steps, err)
	}
	// A crash after the rename and before the removal: the leftover is not a checkpoint, and the
	// next LatestCheckpoint clears it.
	root := filepath.Join(dir, "checkpoints")
	if err := os.Rename(filepath.Join(root, "checkpoint-2"), filepath.Join(root, ".tmp-removed-checkpoint-2")); err != nil {
		t.Fatal(err)
	}
	if steps, _ := listCheckpoints(dir); len(steps) != 1 || steps[0] != 3 {
		t.Fatalf("a half-removed checkpoint counts: %v", steps)
	}
	if _, step, ok, err := LatestCheckpoint(dir); err != nil || !ok || step != 3 {
		t.Fatalf("latest: %d %v %v", step, ok, err)
	}
	if _, err := os.Stat(filepath.Join(root, ".tmp-removed-checkpoint-2")); !os.IsNotExist(err) {
		t.Errorf("leftover not cleared: %v", err)
	}
}
