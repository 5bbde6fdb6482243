// Package dirqueue is a durable queue in a directory, one file per
// message: Send acks once its files are synced, Recv hands them out in
// the order written, and an ack deletes the file. It is the connector
// that docs/connectors.md builds step by step.
package dirqueue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// Queue is a Source and a Destination of []byte over one directory. Recv
// and Send are safe for concurrent use. Create one with New; a directory
// must have one Queue at a time.
type Queue struct {
	dir   string
	start int64         // when New ran, in ns: a later Queue's names sort after
	seq   atomic.Uint64 // numbers this Queue's files

	mu    sync.Mutex
	taken map[string]bool // files handed out and not acked yet
}

// New returns a Queue over dir, which must exist. It does no I/O.
func New(dir string) (*Queue, error) {
	if dir == "" {
		return nil, errors.New("dirqueue: dir is empty")
	}
	return &Queue{dir: dir, start: time.Now().UnixNano(), taken: make(map[string]bool)}, nil
}

// Send writes each message to a file of its own, syncs the directory, and
// only then acks. A Send that fails may have written some of its messages.
func (q *Queue) Send(ctx context.Context, ack func(), msgs ...sluice.Message[[]byte]) error {
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := q.write(m.Value); err != nil {
			return fmt.Errorf("dirqueue: send: %w", err)
		}
	}
	if len(msgs) > 0 {
		if err := syncDir(q.dir); err != nil {
			return fmt.Errorf("dirqueue: send: %w", err)
		}
	}
	sluice.Ack(ack)
	return nil
}

// write writes v to a temporary file, syncs it and renames it to its
// name: a file with a .msg name is always whole.
func (q *Queue) write(v []byte) error {
	f, err := os.CreateTemp(q.dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(v)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(q.dir, fmt.Sprintf("%016x-%016x.msg", q.start, q.seq.Add(1))))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// syncDir makes the names of the files in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err == nil {
		err = d.Sync()
		d.Close()
	}
	return err
}

// Recv returns the oldest message not handed out yet, waiting for one if
// there is none. Its ack deletes the message's file.
func (q *Queue) Recv(ctx context.Context) (sluice.Message[[]byte], func(), error) {
	for {
		if err := ctx.Err(); err != nil {
			return sluice.Message[[]byte]{}, nil, err
		}
		name, v, err := q.next()
		if err != nil {
			return sluice.Message[[]byte]{}, nil, fmt.Errorf("dirqueue: recv: %w", err)
		}
		if name != "" {
			return sluice.Message[[]byte]{Value: v}, sluice.AckOnce(func() { q.remove(name) }), nil
		}
		t := time.NewTimer(10 * time.Millisecond) // then look again
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// next takes the first file, in name order, not taken yet, and returns
// its name and contents, or "" if there is none.
func (q *Queue) next() (string, []byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	entries, err := os.ReadDir(q.dir) // sorted by name
	if err != nil {
		return "", nil, err
	}
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ".msg") && !q.taken[name] {
			v, err := os.ReadFile(filepath.Join(q.dir, name))
			if err != nil {
				return "", nil, err
			}
			q.taken[name] = true
			return name, v, nil
		}
	}
	return "", nil, nil
}

// remove deletes an acked file; if that fails, it comes back after a restart.
func (q *Queue) remove(name string) {
	os.Remove(filepath.Join(q.dir, name))
	q.mu.Lock()
	delete(q.taken, name)
	q.mu.Unlock()
}

var _ sluice.Source[[]byte] = (*Queue)(nil)
var _ sluice.Destination[[]byte] = (*Queue)(nil)
