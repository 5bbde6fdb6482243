package spool

import (
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
	if err := json.Unmarshal(b, &p); err != nil {
		return pos{}, false, fmt.Errorf("damaged: %w", err)
	}
	if p.Seg == 0 || p.Off < 0 {
		return pos{}, false, fmt.Errorf("damaged: %s", b)
	}
	return p, true, nil
}

// writePosition replaces the position file atomically.
func writePosition(dir string, p pos) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, positionFile), append(b, '\n'), 0o644)
}

// checkpoint persists the committed position if it changed since the last
// call.
func (s *Spool) checkpoint() error {
	p, ok := s.tracker.Committed()
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	if !ok || p == s.saved {
		return nil
	}
	if err := writePosition(s.c.Dir, p); err != nil {
		return fmt.Errorf("spool: write position: %w", err)
	}
	s.saved = p
	return nil
}
