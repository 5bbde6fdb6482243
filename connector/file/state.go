package file

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/internal/atomicfile"
)

// stateFile is the name of the checkpoint file in the state directory.
const stateFile = "checkpoints.json"

// state is the content of the checkpoint file.
type state struct {
	Version int          `json:"version"`
	Files   []stateEntry `json:"files"`
}

// stateEntry is the checkpoint of one file identity.
type stateEntry struct {
	// Fingerprint is the hex SHA-256 of the file's first FingerprintLen
	// bytes.
	Fingerprint    string `json:"fingerprint"`
	FingerprintLen int    `json:"fingerprintLen"`
	// Offset is the committed offset: every line before it was acked.
	Offset int64 `json:"offset"`
	// Path is where the file was last seen, for people reading the file.
	Path string `json:"path"`
	// Dev and Ino identify the file on its file system; they are needed
	// to match a file whose fingerprint is shorter than fingerprintBytes.
	Dev uint64 `json:"dev,omitempty"`
	Ino uint64 `json:"ino,omitempty"`
}

// loadState reads the checkpoint file in dir; found is false if there is
// none, which is then an empty state. Temporary files left by a write that did not finish (a crash
// between write and rename) are removed: the checkpoint file itself is
// always a complete earlier version.
func loadState(dir string) (st state, found bool, err error) {
	if tmps, err := filepath.Glob(filepath.Join(dir, stateFile+atomicfile.TempPattern)); err == nil {
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return state{Version: 1}, false, nil
	}
	if err != nil {
		return state{}, false, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, false, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Version != 1 {
		return state{}, false, fmt.Errorf("%s: unknown version %d", filepath.Join(dir, stateFile), st.Version)
	}
	return st, true, nil
}

// saveState replaces the checkpoint file in dir atomically: a crash at
// any point leaves either the old or the new file.
func saveState(dir string, s state) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, stateFile), b, 0o644)
}
