package main

import (
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// rtPriority is the SCHED_FIFO priority of the harness's timing threads:
// low, above every normal thread, below the kernel's own.
const rtPriority = 10

// realtime wires the calling goroutine to its OS thread for the rest of
// its life (the thread ends with it) and makes that thread wake on time:
// timer slack 1 ns and SCHED_FIFO, so that neither the load on the
// machine nor the subject delays the generator's sends or the sink's
// reads. The thread only ever blocks (nanosleep, poll, socket writes),
// so it cannot starve the subject. An error (not root) leaves the thread
// at normal priority.
func realtime() error {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	return unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: rtPriority}, 0)
}

// sleepFor sleeps d in nanosleep(2), which with realtime's timer slack
// wakes within microseconds (time.Sleep rounds to the runtime's timer
// granularity, up to a millisecond).
func sleepFor(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}

// FileTail reads a file as soon as it grows: inotify wakes a real-time
// thread at each write to the file's directory, which then reads what was
// appended through a Watcher (whose Stamps get each line's receive
// time). It is a Poller for WaitLines. Writes through a mapping raise no
// inotify event; a poll every tailFallback catches them.
type FileTail struct {
	w     *Watcher
	fd    int
	lines atomic.Int64
	size  atomic.Int64
	err   atomic.Pointer[error]
	stop  atomic.Bool
	done  chan struct{}
	once  sync.Once
	rtErr error
}

// tailFallback is how long the tail waits for an inotify event before it
// reads anyway.
const tailFallback = 10 * time.Millisecond

// StartFileTail watches w.Path's directory and starts reading w.
func StartFileTail(w *Watcher) (*FileTail, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(w.Path), unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil, err
	}
	t := &FileTail{w: w, fd: fd, done: make(chan struct{})}
	ready := make(chan struct{})
	go t.run(ready)
	<-ready
	return t, nil
}

func (t *FileTail) run(ready chan struct{}) {
	defer close(t.done)
	t.rtErr = realtime()
	close(ready)
	events := make([]byte, 64<<10)
	fds := []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}}
	for !t.stop.Load() {
		if n, _ := unix.Poll(fds, int(tailFallback/time.Millisecond)); n > 0 {
			_, _ = unix.Read(t.fd, events) // what changed does not matter: read the file
		}
		lines, size, err := t.w.Poll()
		t.lines.Store(int64(lines))
		t.size.Store(size)
		if err != nil {
			t.err.Store(&err)
			return
		}
	}
}

// RealtimeErr is why the tail's thread is not real-time, if it is not.
func (t *FileTail) RealtimeErr() error { return t.rtErr }

// Poll returns the lines and bytes read so far.
func (t *FileTail) Poll() (int, int64, error) {
	if e := t.err.Load(); e != nil {
		return int(t.lines.Load()), t.size.Load(), *e
	}
	return int(t.lines.Load()), t.size.Load(), nil
}

// Close stops the tail; the Watcher stays open. t may be nil, and Close
// may be called twice.
func (t *FileTail) Close() {
	if t == nil {
		return
	}
	t.once.Do(func() {
		t.stop.Store(true)
		<-t.done
		unix.Close(t.fd)
	})
}
