package daemon

import "sync"

// failure keeps the first error of a group of goroutines and closes Done
// when there is one. Its methods are safe for concurrent use.
type failure struct {
	mu   sync.Mutex
	err  error
	done chan struct{}
}

func newFailure() *failure { return &failure{done: make(chan struct{})} }

// set records err if it is the first, and closes Done.
func (f *failure) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
		close(f.done)
	}
}

// Err returns the first error, or nil.
func (f *failure) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Done is closed once an error is set.
func (f *failure) Done() <-chan struct{} { return f.done }
