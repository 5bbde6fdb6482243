package spool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/internal/atomicfile"
)

// pos is a read position: reading resumes at offset Off of segment Seg, or
// at the start of the first segment after Seg if Seg is gone or Off is at
// or past its end. Seq is the sequence number of the record just before
// the position, At its write time.
type pos struct {
	Seg uint64 `json:"segment"`
	Off int64  `json:"offset"`
	Seq uint64 `json:"seq"`
	At  int64  `json:"-"`
}

// readPosition reads the position file. ok is false if it is missing or
// damaged (err says how, for the log): reading then starts at the oldest
// segment, which replays and loses nothing.
func readPosition(dir string) (p pos, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, positionFile))
	if errors.Is(err, fs.ErrNotExist) {
		return pos{}, false, nil
	}
	if err != nil {
		return pos{}, false, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return pos{}, false, nil // the placeholder of a spool without a position
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return pos{}, false, fmt.Errorf("damaged: %w", err)
	}
	if p.Seg == 0 || p.Off < 0 {
		return pos{}, false, fmt.Errorf("damaged: %s", b)
	}
	return p, true, nil
}

// positionBytes is the least size of the position file, padded with
// spaces, so that writePositionInPlace can overwrite it on a full file
// system.
const positionBytes = 128

// encodePosition returns the content of the position file for p.
func encodePosition(p pos) ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	for len(b) < positionBytes-1 {
		b = append(b, ' ')
	}
	return append(b, '\n'), nil
}

// writePlaceholder writes a blank position file of positionBytes, read as
// no position, so that a full file system finds one to overwrite in place.
func writePlaceholder(dir string) error {
	b := bytes.Repeat([]byte{' '}, positionBytes)
	b[len(b)-1] = '\n'
	return writePosition(dir, b)
}

// writePosition replaces the position file atomically.
func writePosition(dir string, b []byte) error {
	return atomicfile.WriteFile(filepath.Join(dir, positionFile), b, 0o644)
}

// checkpoint persists the committed position if it changed since the last
// call. On a full file system it overwrites the file in place (see
// writePositionInPlace); if that fails too, the error wraps errNoSpace and
// is logged once while it lasts: the caller goes on, since a position not
// saved only causes redelivery.
func (s *Spool) checkpoint() error {
	p, ok := s.tracker.Committed()
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	if !ok || p == s.saved {
		return nil
	}
	b, err := encodePosition(p)
	if err == nil {
		err = writePosition(s.c.Dir, b)
	}
	if err != nil && isNoSpace(err) {
		if ierr := writePositionInPlace(s.c.Dir, b); ierr == nil {
			err = nil
		} else {
			err = fmt.Errorf("%w: %w (in place: %w)", errNoSpace, err, ierr)
		}
	}
	if err != nil {
		s.mu.Lock()
		s.st.positionErrors++
		s.mu.Unlock()
		if !s.posFailing {
			s.posFailing = true
			s.o.log.Error("spool: cannot save the read position; after a restart, what was delivered since the last save is delivered again",
				"dir", s.c.Dir, "err", err)
		}
		return fmt.Errorf("spool: write position: %w", err)
	}
	if s.posFailing {
		s.posFailing = false
		s.o.log.Info("spool: read position saved again", "dir", s.c.Dir)
	}
	s.saved = p
	return nil
}
