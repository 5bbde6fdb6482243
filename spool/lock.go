package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrInUse is the error, wrapped, of a Run whose directory another Spool
// holds, in this process or another.
var ErrInUse = errors.New("in use by another spool")

// lockFile is the file in a spool directory that a running Spool locks.
const lockFile = "lock"

// lockDir opens dir's lock file, creating it if missing, and takes an
// exclusive lock on it, without waiting; closing the file releases the
// lock. On platforms without flock (not unix) nothing is locked.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("spool: lock: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, ErrInUse) {
			return nil, fmt.Errorf("spool: %s is %w (another sluiced running with the same data directory?)", dir, ErrInUse)
		}
		return nil, fmt.Errorf("spool: lock: %w", err)
	}
	return f, nil
}
