//go:build unix

package spool

import (
	"errors"
	"os"
	"syscall"
)

// flock takes an exclusive lock on f without waiting; it returns ErrInUse
// if another open file holds it.
func flock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrInUse
	}
	return err
}
