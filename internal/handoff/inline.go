package handoff

import (
	"context"
	"slices"
)

// TakeOrRun is Take for a receiver whose next step, once it has items, is
// run(n) with the n items it handed to f. While the queue is empty the
// receiver parks, and a [Queue.Put] that queues a batch meanwhile does
// that step itself, on its own goroutine, instead of waking the receiver:
// it takes up to most items with f, calls run(n), and parks the receiver
// again. At a low rate a batch then goes from the reader that read it to
// its destination without waking another goroutine (each wake-up of a
// parked goroutine can cost a second thread's wake-up too).
//
// TakeOrRun returns as Take does, with items taken on the caller's own
// goroutine (n ≥ 1) for the caller to run itself; or, with n = 0, the
// first error run returned, as it is (run is not called again), ctx's
// error, or io.EOF. It calls f and run on one goroutine at a time, never
// after it has returned: when ctx is done it returns only once a run in
// progress has returned, so run must return promptly when ctx is done.
// The items of one reader's batches are handed over in the order put,
// whether to the caller or to runs.
//
// f is as Take's f; for each take, its calls are followed by run's with
// the total. With several receivers, each parks on its own, and a Put
// serves one of them.
func (q *Queue[T]) TakeOrRun(ctx context.Context, most int, f func(items []T), run func(n int) error) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if most <= 0 {
		return 0, nil
	}
	var w *waiter[T]
	for {
		if err := q.lockWait(ctx); err != nil {
			return 0, err
		}
		n, err := q.takeLocked(ctx, most, f, false)
		q.unlock()
		if n > 0 || err != nil {
			return n, err
		}
		if w == nil {
			w = &waiter[T]{ctx: ctx, most: most, f: f, run: run, back: make(chan error, 1)}
		}
		q.park(w)
		// A Put that queued before it could see w parked leaves its items
		// to w: take them here. (Put counts its items, then looks for a
		// parked receiver; w is parked, then looks at the count: one of
		// the two sees the other.)
		if q.n.Load() > 0 || q.isDone() {
			if q.unpark(w, false) {
				continue
			}
		}
		select {
		case err := <-w.back:
			if err != nil {
				return 0, err
			}
			continue // handed back: something to take
		case <-ctx.Done():
		case <-q.done:
		}
		if !q.unpark(w, true) {
			// A Put is running w's step: it hands w back when done.
			if err := <-w.back; err != nil {
				return 0, err
			}
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		// Closed: take what is left, then io.EOF.
	}
}

// waiter is a receiver parked in TakeOrRun. Its step runs with its own
// ctx, on whichever goroutine serves it.
type waiter[T any] struct {
	ctx  context.Context
	most int
	f    func(items []T)
	run  func(n int) error
	// back hands w back to its goroutine, with run's error or nil; it
	// holds at most one value: w is handed back only while claimed, and
	// claimed only while parked.
	back chan error

	parked  bool // in Queue.parked; guarded by Queue.pmu
	claimed bool // a Put is serving it; guarded by Queue.pmu
	leaving bool // its goroutine wants it back once the Put is done; guarded by Queue.pmu
}

// park adds w to the parked receivers.
func (q *Queue[T]) park(w *waiter[T]) {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	q.add(w)
}

// add puts w among the parked receivers. pmu is held.
func (q *Queue[T]) add(w *waiter[T]) {
	q.parked = append(q.parked, w)
	q.nparked.Add(1)
	w.parked = true
}

// unpark takes w out of the parked receivers and reports true. It reports
// false if w is not parked: a Put has claimed it (then, if leave is set,
// the Put hands w back through w.back when it is done), or has taken it
// out to hand it back.
func (q *Queue[T]) unpark(w *waiter[T], leave bool) bool {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	if !w.parked {
		w.leaving = w.leaving || (leave && w.claimed)
		return false
	}
	i := slices.Index(q.parked, w)
	q.parked = slices.Delete(q.parked, i, i+1)
	q.nparked.Add(-1)
	w.parked = false
	return true
}

// claim takes the receiver that parked last, to serve it, or returns nil.
func (q *Queue[T]) claim() *waiter[T] {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	k := len(q.parked)
	if k == 0 {
		return nil
	}
	w := q.parked[k-1]
	q.parked[k-1] = nil
	q.parked = q.parked[:k-1]
	q.nparked.Add(-1)
	w.parked, w.claimed = false, true
	return w
}

// serve runs the step of a parked receiver, if there is one, on the
// calling goroutine: it takes items for it (waiting for the receivers'
// lock with ctx, the Put's), runs its step and parks it again, or hands
// it back to its goroutine when the step failed, when it wants to leave,
// or when more is queued (a receiver that is not idle runs on its own).
func (q *Queue[T]) serve(ctx context.Context) {
	if q.nparked.Load() == 0 {
		return
	}
	w := q.claim()
	if w == nil {
		return
	}
	n := 0
	var err error
	if q.lockWait(ctx) == nil {
		n, _ = q.takeLocked(w.ctx, w.most, w.f, false) // an error is w's to see: it takes again
		q.unlock()
	} else {
		q.release(w, nil, true) // its goroutine takes them
		return
	}
	if n > 0 {
		err = w.run(n)
	}
	q.release(w, err, false)
}

// release ends a Put's claim on w: w goes back to its goroutine, with err,
// if err is not nil, w is leaving or handBack is set; otherwise it is
// parked again, unless items are queued, which it is handed back to take.
func (q *Queue[T]) release(w *waiter[T], err error, handBack bool) {
	q.pmu.Lock()
	w.claimed = false
	if err != nil || w.leaving || handBack {
		w.leaving = false
		q.pmu.Unlock()
		w.back <- err
		return
	}
	q.add(w)
	q.pmu.Unlock()
	// As in TakeOrRun: items counted before w was parked again, by a Put
	// that found no receiver parked, are w's to take.
	if (q.n.Load() > 0 || q.isDone()) && q.unpark(w, false) {
		w.back <- nil
	}
}

func (q *Queue[T]) isDone() bool {
	select {
	case <-q.done:
		return true
	default:
		return false
	}
}
