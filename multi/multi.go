// Package multi merges several sources into one and copies each Send to
// several destinations.
//
// [Source] is fan-in: it receives from every source at once and hands their
// messages out through one Recv, each message with its own source's ack.
// [Destination] is fan-out: each Send goes to every destination, and the ack
// given to Send fires once every destination has acked.
//
// Both are [sluice.Runner]s and run the Run method of every source or
// destination they wrap that is one. A [sluice.Processor] runs them for
// you; elsewhere, run them yourself. Wrap each source or destination once:
// passing the same one twice runs its Run twice.
package multi

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
)

// group runs goroutines under one context that the first failure cancels,
// and collects their errors.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	onFail func(error) // called with the first error recorded; may be nil
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error // the first failure, then later ones that are not just "stopped"
}

func newGroup(ctx context.Context, onFail func(error)) *group {
	ctx, cancel := context.WithCancel(ctx)
	return &group{ctx: ctx, cancel: cancel, onFail: onFail}
}

// run calls f in a new goroutine and records the error it returns.
func (g *group) run(f func() error) {
	g.wg.Go(func() {
		if err := f(); err != nil {
			g.fail(err)
		}
	})
}

// fail records err and cancels the group. Once the group's context is done,
// an error that only says so (context.Canceled or DeadlineExceeded) is the
// effect of stopping, not a failure, and is dropped. The first error goes
// to onFail before the cancel: another goroutine's error caused by the
// cancel (a source that says "closed" when stopped) must not be the one
// onFail sees.
func (g *group) fail(err error) {
	if g.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return
	}
	g.mu.Lock()
	g.errs = append(g.errs, err)
	first := len(g.errs) == 1
	g.mu.Unlock()
	if first && g.onFail != nil {
		g.onFail(err)
	}
	g.cancel()
}

// wait waits for every goroutine and returns the first error recorded,
// joined with any later ones.
func (g *group) wait() error {
	g.wg.Wait()
	g.cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.errs) == 1 {
		return g.errs[0]
	}
	return errors.Join(g.errs...) // nil if none
}

// isNil reports whether v is nil or holds a nil pointer, func, map, chan,
// slice or interface, whose methods would panic.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface:
		return r.IsNil()
	}
	return false
}

// checkAll returns an error if parts is empty or holds a nil part. kind
// names a part in the message: "source" or "destination".
func checkAll[P any](kind string, parts []P) error {
	if len(parts) == 0 {
		return fmt.Errorf("no %ss", kind)
	}
	var errs []error
	for i, p := range parts {
		if isNil(p) {
			errs = append(errs, fmt.Errorf("%s %d is nil", kind, i))
		}
	}
	return errors.Join(errs...)
}
