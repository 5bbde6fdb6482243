package wasm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/abi"
)

// instance is one instantiated module; it serves one call at a time.
type instance struct {
	mod                   api.Module
	mem                   api.Memory
	alloc, initFn, handle api.Function
	stderr                tail
	stack                 [2]uint64
	// buf is the guest's input buffer from alloc, of bufLen bytes: the
	// guest keeps it until the next alloc, which is only for a larger one.
	buf, bufLen uint32
	// stop and tick are the instrumented module's interrupt flag and
	// countdown (interrupt.go), or nil; fired gets a token each time
	// interrupt sets them.
	stop, tick api.MutableGlobal
	fired      chan struct{}
	// timer bounds each call of an instrumented instance: made once and
	// reset per call, where a context with a timeout and an AfterFunc
	// for it cost most of a short call. timedOut says it fired during
	// the last call (or, with wazero's checks, that its context's
	// deadline passed).
	timer    *time.Timer
	timedOut atomic.Bool
	// setting serializes the timer's and the context's interrupts.
	setting sync.Mutex
}

// instantiate starts an instance and passes it the config.
func (h *Handler) instantiate(ctx context.Context) (*instance, error) {
	in := &instance{}
	mod, err := h.rt.InstantiateModule(ctx, h.compiled, h.cfg.WithStderr(&in.stderr))
	if err != nil {
		return nil, fmt.Errorf("start: %v%s", err, in.stderr.suffix())
	}
	in.mod, in.mem = mod, mod.Memory()
	if h.instrumented {
		stop, ok := mod.ExportedGlobal(stopExport).(api.MutableGlobal)
		tick, ok2 := mod.ExportedGlobal(tickExport).(api.MutableGlobal)
		if !ok || !ok2 {
			mod.Close(ctx)
			return nil, fmt.Errorf("start: the instrumented module lacks %s or %s", stopExport, tickExport)
		}
		in.instrumented(stop, tick)
	}
	in.alloc, in.initFn, in.handle = mod.ExportedFunction(abi.ExportAlloc), mod.ExportedFunction(abi.ExportInit), mod.ExportedFunction(abi.ExportHandle)
	cfg := h.o.Config
	if cfg == nil {
		cfg = []byte("null")
	}
	res, reason := in.invoke(ctx, h.o.Timeout, in.initFn, func() uint64 { return uint64(len(cfg)) }, func(b []byte) (int, bool) {
		return copy(b, cfg), len(b) >= len(cfg)
	})
	if reason == "" && res != 0 {
		msg, ok := in.mem.Read(uint32(res>>32), uint32(res))
		if !ok {
			reason = "init returned an error message outside memory"
		} else {
			mod.Close(ctx)
			return nil, &config.FieldError{Path: "config", Msg: fmt.Sprintf("the module rejects it: %s", msg)}
		}
	}
	if reason != "" {
		mod.Close(ctx)
		return nil, fmt.Errorf("init: %s", reason)
	}
	return in, nil
}

// invoke has put write its input into the guest's input buffer and calls
// fn on it, each call bounded by timeout. put returns the size of what it
// wrote, or false if the buffer was too short, after which invoke asks
// alloc for size() bytes and has put write again. It returns fn's result,
// or why the call failed.
func (in *instance) invoke(ctx context.Context, timeout time.Duration, fn api.Function, size func() uint64, put func([]byte) (int, bool)) (uint64, string) {
	in.stderr.reset()
	n, ok := 0, false
	if in.bufLen > 0 {
		view, fits := in.mem.Read(in.buf, in.bufLen)
		if !fits {
			return 0, fmt.Sprintf("malformed output: alloc(%d) returned %d, outside memory", in.bufLen, in.buf)
		}
		n, ok = put(view)
	}
	if !ok {
		need := size()
		if need > math.MaxUint32 {
			return 0, fmt.Sprintf("an input of %d bytes: too large for a 32-bit guest", need)
		}
		// Round up, so that batches a little larger than the last do not
		// call alloc each time.
		want := min(max(need+need/4, 4096), math.MaxUint32)
		in.stack[0] = want
		if err := in.run(ctx, timeout, in.alloc); err != nil {
			return 0, in.why("alloc", err)
		}
		in.buf, in.bufLen = uint32(in.stack[0]), uint32(want)
		view, fits := in.mem.Read(in.buf, in.bufLen) // after alloc: memory may have grown
		if !fits {
			return 0, fmt.Sprintf("malformed output: alloc(%d) returned %d, outside memory", in.bufLen, in.buf)
		}
		if n, ok = put(view); !ok || uint64(n) != need {
			return 0, fmt.Sprintf("the host wrote %d bytes of an input of %d", n, need) // a bug in the host
		}
	}
	in.stack[0], in.stack[1] = uint64(in.buf), uint64(n)
	if err := in.run(ctx, timeout, fn); err != nil {
		return 0, in.why(fn.Definition().Name(), err)
	}
	return in.stack[0], ""
}

// run calls fn on in.stack, for at most timeout and until ctx is done.
// If the module is instrumented, in.timer or ctx sets its interrupt flag,
// so that the call traps at its next check; the flag is clear again when
// run returns.
func (in *instance) run(ctx context.Context, timeout time.Duration, fn api.Function) error {
	in.timedOut.Store(false)
	if in.stop == nil { // wazero's checks watch ctx
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err := fn.CallWithStack(cctx, in.stack[:])
		if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
			in.timedOut.Store(true)
		}
		return err
	}
	var stopped func() bool
	if ctx.Done() != nil { // context.Background's is nil: it is never done
		stopped = context.AfterFunc(ctx, in.interrupt)
	}
	in.timer.Reset(timeout)
	err := fn.CallWithStack(ctx, in.stack[:])
	// Each of the timer and ctx that fired sends one token.
	fired := 0
	if !in.timer.Stop() {
		fired++
	}
	if stopped != nil && !stopped() {
		fired++
	}
	if fired > 0 {
		for range fired {
			<-in.fired
		}
		in.stop.Set(0)
	}
	return err
}

// instrumented sets the interrupt flag and countdown of an instrumented
// instance, and makes its timer.
func (in *instance) instrumented(stop, tick api.MutableGlobal) {
	in.stop, in.tick, in.fired = stop, tick, make(chan struct{}, 1)
	in.timer = time.AfterFunc(time.Hour, in.expire)
	in.timer.Stop()
}

// expire is in.timer's function: the call ran past its timeout.
func (in *instance) expire() {
	in.timedOut.Store(true)
	in.interrupt()
}

func (in *instance) interrupt() {
	in.setting.Lock()
	defer in.setting.Unlock()
	in.stop.Set(1)
	in.tick.Set(1)
	in.fired <- struct{}{}
}

// why says why a call failed: a timeout, an exit or a trap, with what the
// guest wrote to standard error.
func (in *instance) why(fn string, err error) string {
	var exit *sys.ExitError
	switch {
	case in.timedOut.Load(), errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		return fmt.Sprintf("timeout: %s ran past its deadline", fn)
	case errors.As(err, &exit):
		return fmt.Sprintf("%s exited with code %d%s", fn, exit.ExitCode(), in.stderr.suffix())
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	return fmt.Sprintf("trap in %s: %s%s", fn, first, in.stderr.suffix())
}

// call runs one batch. It returns the output, or why the batch failed, or
// an error if ctx is done; and whether the instance may serve again (not
// after a trap, a timeout or malformed output, which may leave it in any
// state).
func (in *instance) call(ctx context.Context, h *Handler, msgs []msg) (out []msg, reason string, sound bool, err error) {
	ev := func(i int) *event.Event { return &msgs[i].Value }
	res, reason := in.invoke(ctx, h.o.Timeout, in.handle, func() uint64 { return uint64(abi.InputSize(len(msgs), ev)) },
		func(b []byte) (int, bool) { return abi.PutInput(b, len(msgs), ev) })
	if ctx.Err() != nil {
		return nil, "", false, ctx.Err()
	}
	if reason != "" {
		return nil, reason, false, nil
	}
	view, ok := in.mem.Read(uint32(res>>32), uint32(res))
	if !ok {
		return nil, fmt.Sprintf("malformed output: %d bytes at %d, outside memory", uint32(res), res>>32), false, nil
	}
	// Output events share this copy, not guest memory, which the next
	// call reuses.
	b := slices.Clone(view)
	var r abi.Outputs
	count, err := r.Reset(b, h.version, len(msgs), ev)
	// Each event is read into its place in out: an event is large, and
	// each copy of it in the heap costs write barriers while the GC runs.
	out = make([]msg, 0, min(count, max(len(b)-8, 0)/abi.MinOutput))
	for range count {
		if err != nil {
			break
		}
		if len(out) == cap(out) {
			err = fmt.Errorf("output %d: truncated at byte %d", len(out), len(b))
			break
		}
		out = out[:len(out)+1]
		m := &out[len(out)-1]
		var from uint32
		var route string
		if from, route, _, err = r.Next(&m.Value); err != nil {
			break
		}
		if from != abi.NoInput {
			src := &msgs[from]
			m.Key, m.Topic, m.Attributes = src.Key, src.Topic, src.Attributes
		}
		if route != "" {
			if !slices.Contains(h.o.Routes, route) {
				err = fmt.Errorf("emits to route %q, which is not in the handler's emit list %q", route, h.o.Routes)
				break
			}
			*m = h.o.Route(*m, route)
		}
	}
	if err == nil {
		err = r.End()
	}
	switch {
	case errors.Is(err, abi.ErrGuest):
		return nil, err.Error(), true, nil // the guest said so: it is sound
	case err != nil:
		return nil, "malformed output: " + err.Error(), false, nil
	}
	return out, "", true, nil
}

// tail keeps the first bytes a guest writes to standard error during a
// call: where Go writes a panic's message.
type tail struct{ b []byte }

const tailMax = 512

func (t *tail) Write(p []byte) (int, error) {
	if n := tailMax - len(t.b); n > 0 {
		t.b = append(t.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

func (t *tail) reset() { t.b = t.b[:0] }

// suffix returns ": " and the first lines written, or "".
func (t *tail) suffix() string {
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return ""
	}
	var lines []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" && len(lines) < 2 {
			lines = append(lines, l)
		}
	}
	return ": " + strings.Join(lines, " | ")
}
