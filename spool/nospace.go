package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// A full file system (ENOSPC, or EDQUOT past a quota) is not fatal: a
// write that fails for lack of space is undone (the segment is truncated
// back to its last whole record), the Sends wait and try again every
// noSpaceRetry, or as soon as the spool deletes a segment, and the spool
// goes on reading, so that the destination drains it. Stats.NoSpace says
// it lasts; Stats.NoSpaceWrites counts the failed writes. Nothing is
// acked that is not written. This is so whatever WhenFull says: dropping
// is for a spool that holds MaxBytes, a promise about the spool's size;
// a full file system is a fault, and losing nothing is the safe side.

// noSpaceRetry is how often writers waiting for space try again.
const noSpaceRetry = 250 * time.Millisecond

// errNoSpace wraps the error of a write that failed for lack of space.
var errNoSpace = errors.New("no space left on the spool's file system")

// isNoSpace reports whether err says the file system or a quota is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, errNoSpace)
}

// noSpace records that a write failed for lack of space, logging when the
// condition starts. Call with mu held.
func (s *Spool) noSpaceLocked(err error) {
	s.st.noSpaceWrites++
	if s.noSpaceSince.IsZero() {
		s.noSpaceSince = time.Now()
		s.o.log.Error("spool: file system full: holding writers back until space is freed; reading goes on",
			"dir", s.c.Dir, "err", err)
	}
}

// spaceBack notes a successful write, logging the end of a full file
// system. Call with mu held.
func (s *Spool) spaceBackLocked() {
	if !s.noSpaceSince.IsZero() {
		s.o.log.Info("spool: space freed, writing again", "dir", s.c.Dir, "after", time.Since(s.noSpaceSince).Round(time.Millisecond))
		s.noSpaceSince = time.Time{}
	}
}

// waitSpace waits until writers may try again after a write failed for
// lack of space: noSpaceRetry has passed or a segment was deleted.
func (s *Spool) waitSpace(done <-chan struct{}) error {
	s.mu.Lock()
	room := s.room
	s.waiting++
	s.mu.Unlock()
	t := time.NewTimer(noSpaceRetry)
	defer t.Stop()
	var err error
	select {
	case <-t.C:
	case <-room:
	case <-done:
		err = errStopWaiting
	case <-s.done:
		err = errStopWaiting
	}
	s.mu.Lock()
	s.waiting--
	s.mu.Unlock()
	return err
}

var errStopWaiting = errors.New("stopped waiting")

// writePositionInPlace overwrites the position file in place, padded to
// its current size, for when the file system is too full for the atomic
// replacement's temporary file: overwriting bytes already allocated needs
// no new block. It is not atomic; a torn write makes the file unreadable,
// which replays from the oldest segment: duplicates, never loss.
func writePositionInPlace(dir string, b []byte) error {
	f, err := os.OpenFile(filepath.Join(dir, positionFile), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if int64(len(b)) > fi.Size() {
		return fmt.Errorf("position of %d bytes does not fit the %d of the file", len(b), fi.Size())
	}
	buf := make([]byte, fi.Size())
	copy(buf, b)
	for i := len(b); i < len(buf)-1; i++ {
		buf[i] = ' '
	}
	buf[len(buf)-1] = '\n'
	if _, err := f.WriteAt(buf, 0); err != nil {
		return err
	}
	return f.Sync()
}
