//go:build !linux

package main

import (
	"errors"
	"time"
)

var errNoRealtime = errors.New("real-time threads and inotify are Linux only here")

// realtime is not supported off Linux.
func realtime() error { return errNoRealtime }

// sleepFor is time.Sleep off Linux.
func sleepFor(d time.Duration) { time.Sleep(d) }

// FileTail is Linux only: off Linux the harness polls the file.
type FileTail struct{}

// StartFileTail fails off Linux.
func StartFileTail(*Watcher) (*FileTail, error) { return nil, errNoRealtime }

// RealtimeErr says why the tail is not real-time.
func (*FileTail) RealtimeErr() error { return errNoRealtime }

// Poll is never called.
func (*FileTail) Poll() (int, int64, error) { return 0, 0, errNoRealtime }

// Close does nothing.
func (*FileTail) Close() {}
