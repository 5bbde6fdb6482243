//go:build unix

package file

import (
	"os"
	"syscall"
)

// fileID returns the device and inode of fi, or zeros if unknown.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // types differ by platform
	}
	return 0, 0
}
