// Package atomicfile replaces files so that a crash at any moment leaves
// either the old content or the new, never a mix or nothing: the state
// files of sources with checkpoints are written with it.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// TempPattern is how WriteFile names its temporary files next to path:
// base + TempPattern. Callers may remove leftovers matching it at start.
const TempPattern = ".tmp-*"

// WriteFile replaces the file at path with data: it writes a temporary file
// in the same directory, syncs it, renames it over path and syncs the
// directory. On error the temporary file is removed and path is unchanged.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+TempPattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// SyncDir syncs a directory, making the creation, removal or renaming of
// its entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}
