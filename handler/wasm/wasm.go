// Package wasm runs event handlers compiled to WebAssembly: the "wasm"
// handler. A module is compiled once, instantiated into a pool of
// instances, and called on batches of events through ABI version 3 or 2
// (package abi, docs/wasm.md). Guests in Go use package guest.
//
// A guest has no filesystem, network, arguments or environment; it has the
// clocks, random numbers and a standard error that the host keeps the tail
// of for its error reports. Each instance's memory is capped, and each
// call is bounded by a timeout. A call that traps, runs out of time or
// returns malformed output fails its batch: the batch goes to
// [Options.Failed] with the reason, the instance is replaced, and the
// handler goes on.
package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/abi"
)

type msg = sluice.Message[event.Event]

// Defaults of [Options].
const (
	DefaultTimeout     = time.Second
	DefaultMemoryLimit = 64 << 20
	DefaultInstances   = 2
)

// wazeroChecks makes New use wazero's checks for every module, for
// benchmarks that compare.
var wazeroChecks bool

// pageSize is the size of a WebAssembly memory page.
const pageSize = 64 << 10

// Options configures a [Handler].
type Options struct {
	// Name names the module in failure reasons and logs.
	Name string
	// Config is passed to the guest's init, as JSON; nil passes "null".
	Config []byte
	// Timeout bounds each call into the guest. Default 1s.
	Timeout time.Duration
	// MemoryLimit caps each instance's memory, in bytes, rounded down to
	// 64 KiB pages. Default 64 MiB.
	MemoryLimit uint64
	// Instances is how many calls may run at once, each in its own
	// instance; a caller beyond that waits. Default 2.
	Instances int
	// CacheDir, if set, keeps compiled code across restarts.
	CacheDir string
	// Logger gets failures; nil discards.
	Logger *slog.Logger
	// Routes are the routes the guest may emit events to; an event for
	// another fails its batch.
	Routes []string
	// Route marks m, emitted by the guest, for the named route. Required
	// if Routes is not empty.
	Route func(m msg, route string) msg
	// Failed gets the events of a batch that failed and why, and returns
	// what to hand on instead (such as the events marked for a dead
	// letter) or an error, which is fatal. nil makes every failure fatal.
	Failed func(msgs []msg, reason string) ([]msg, error)
}

// Handler calls a WebAssembly module on batches of events. It is safe for
// concurrent use; Close releases it.
type Handler struct {
	o        Options
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	free     chan *instance
	slots    chan struct{} // one token per live instance
	cfg      wazero.ModuleConfig
	closed   sync.Once
	// instrumented says the module has the interrupt checks of
	// interrupt.go, instead of wazero's.
	instrumented bool
	// version is the module's ABI version: 2 or 3.
	version int
}

// New compiles module and starts its first instance, whose init gets
// o.Config. A module that is not WebAssembly, lacks an export of ABI
// version 3 or 2, or needs more memory than the limit gives a
// *config.FieldError for "module" (or "memoryLimit"); an init that fails,
// one for "config".
func New(ctx context.Context, module []byte, o Options) (*Handler, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MemoryLimit == 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.Instances <= 0 {
		o.Instances = DefaultInstances
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	pages := o.MemoryLimit / pageSize
	if pages == 0 || pages > 65536 {
		return nil, &config.FieldError{Path: "memoryLimit", Msg: fmt.Sprintf("want 64KiB to 4GiB, got %d bytes", o.MemoryLimit)}
	}
	// The timeout's checks: in the module if it can be instrumented,
	// else wazero's, which cost more (interrupt.go).
	instrumented, err := instrument(module)
	if wazeroChecks {
		err = errUninstrumented
	}
	if err == nil {
		module = instrumented
	} else {
		o.Logger.Debug("wasm: the module's calls are bounded by wazero's checks", "module", o.Name, "reason", err)
	}
	rc := wazero.NewRuntimeConfig().WithCloseOnContextDone(err != nil).WithMemoryLimitPages(uint32(pages))
	if o.CacheDir != "" {
		if cache, err := wazero.NewCompilationCacheWithDir(o.CacheDir); err != nil {
			o.Logger.Warn("wasm: compiling without a cache", "dir", o.CacheDir, "err", err)
		} else {
			rc = rc.WithCompilationCache(cache)
		}
	}
	h := &Handler{o: o, rt: wazero.NewRuntimeWithConfig(ctx, rc), instrumented: err == nil,
		free: make(chan *instance, o.Instances), slots: make(chan struct{}, o.Instances)}
	open.Add(1)
	if err := h.start(ctx, module); err != nil {
		h.Close(ctx)
		return nil, err
	}
	return h, nil
}

func (h *Handler) start(ctx context.Context, module []byte) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, h.rt); err != nil {
		return err
	}
	c, err := compile(ctx, h.rt, module)
	if err != nil {
		if strings.Contains(err.Error(), "over limit") { // wazero checks the memory's minimum here
			return &config.FieldError{Path: "memoryLimit", Msg: fmt.Sprintf("the module needs more memory than the limit of %d KiB: %v", h.o.MemoryLimit>>10, err)}
		}
		return &config.FieldError{Path: "module", Msg: fmt.Sprintf("not a valid WebAssembly module: %v", err)}
	}
	h.compiled = c
	if h.version, err = checkExports(c); err != nil {
		return &config.FieldError{Path: "module", Msg: err.Error()}
	}
	for _, f := range c.ImportedFunctions() {
		if mod, name, _ := f.Import(); mod != wasi_snapshot_preview1.ModuleName {
			return &config.FieldError{Path: "module", Msg: fmt.Sprintf("imports %s.%s; a guest may import only %s", mod, name, wasi_snapshot_preview1.ModuleName)}
		}
	}
	if m := c.ExportedMemories()[abi.ExportMemory]; m.Min() > uint32(h.o.MemoryLimit/pageSize) {
		return &config.FieldError{Path: "memoryLimit", Msg: fmt.Sprintf("the module needs at least %d KiB of memory, more than the limit of %d KiB",
			uint64(m.Min())*pageSize>>10, h.o.MemoryLimit>>10)}
	}
	start := "_initialize" // a reactor's: Go's -buildmode=c-shared
	if _, ok := c.ExportedFunctions()[start]; !ok {
		start = ""
		if _, ok := c.ExportedFunctions()["_start"]; ok {
			return &config.FieldError{Path: "module", Msg: "the module is a command (it exports _start), not a reactor: build it with -buildmode=c-shared"}
		}
	}
	h.cfg = wazero.NewModuleConfig().WithName("").WithStartFunctions(start).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	// The first instance proves that the module starts with its config.
	h.slots <- struct{}{}
	in, err := h.instantiate(ctx)
	if err != nil {
		<-h.slots
		return err
	}
	h.free <- in
	return nil
}

// checkExports returns the ABI version of c (3, or 2 if it exports
// abi.ExportABIv2 instead of abi.ExportABI), or reports the exports that
// c lacks or has with the wrong signature.
func checkExports(c wazero.CompiledModule) (version int, err error) {
	fns := c.ExportedFunctions()
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	version, marker := abi.Version, abi.ExportABI
	if _, v3 := fns[abi.ExportABI]; !v3 {
		if _, v2 := fns[abi.ExportABIv2]; v2 {
			version, marker = 2, abi.ExportABIv2
		}
	}
	var bad []string
	for _, want := range []struct {
		name        string
		params, res []api.ValueType
	}{
		{marker, nil, nil},
		{abi.ExportAlloc, []api.ValueType{i32}, []api.ValueType{i32}},
		{abi.ExportInit, []api.ValueType{i32, i32}, []api.ValueType{i64}},
		{abi.ExportHandle, []api.ValueType{i32, i32}, []api.ValueType{i64}},
	} {
		f, ok := fns[want.name]
		switch {
		case !ok:
			bad = append(bad, "lacks the export "+want.name)
		case !slices.Equal(f.ParamTypes(), want.params) || !slices.Equal(f.ResultTypes(), want.res):
			bad = append(bad, fmt.Sprintf("export %s has the wrong signature %v → %v", want.name, names(f.ParamTypes()), names(f.ResultTypes())))
		}
	}
	if _, ok := c.ExportedMemories()[abi.ExportMemory]; !ok {
		bad = append(bad, "lacks the export memory")
	}
	if _, v1 := fns["sluice_abi_v1"]; v1 {
		return 0, errors.New("speaks ABI version 1, which this sluiced no longer reads: rebuild it with the current guest SDK (docs/wasm.md)")
	}
	if len(bad) > 0 {
		return 0, fmt.Errorf("not a sluice handler of ABI version %d or 2 (docs/wasm.md): %s", abi.Version, strings.Join(bad, "; "))
	}
	return version, nil
}

func names(ts []api.ValueType) []string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = api.ValueTypeName(t)
	}
	return s
}

// Close releases the handler's instances and compiled code. Calls in
// flight fail, and so do later ones. Close may be called more than once.
func (h *Handler) Close(ctx context.Context) error {
	var err error
	h.closed.Do(func() {
		err = h.rt.Close(ctx)
		open.Add(-1)
	})
	return err
}

// open counts the Handlers made and not closed.
var open atomic.Int64

// OpenHandlers returns how many Handlers New made that are not closed:
// each holds a runtime and its instances, so a count that only grows is
// a leak.
func OpenHandlers() int { return int(open.Load()) }

// Handle handles one message, as a batch of one.
func (h *Handler) Handle(ctx context.Context, m msg) ([]msg, error) {
	return h.HandleBatch(ctx, []msg{m})
}

// HandleBatch calls the module once on msgs and returns its output. A
// failed call hands msgs to Options.Failed. It returns an error only if
// ctx is done, or Failed returns one.
func (h *Handler) HandleBatch(ctx context.Context, msgs []msg) ([]msg, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	in, err := h.acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return h.fail(msgs, err.Error())
	}
	out, reason, sound, err := in.call(ctx, h, msgs)
	if sound {
		h.free <- in
	} else {
		h.discard(in)
	}
	switch {
	case err != nil:
		return nil, err
	case reason != "":
		return h.fail(msgs, reason)
	}
	return out, nil
}

func (h *Handler) fail(msgs []msg, reason string) ([]msg, error) {
	reason = fmt.Sprintf("wasm module %s: %s", h.o.Name, reason)
	h.o.Logger.Warn("wasm: batch failed", "module", h.o.Name, "events", len(msgs), "reason", reason)
	if h.o.Failed == nil {
		return nil, errors.New(reason)
	}
	return h.o.Failed(msgs, reason)
}

// acquire returns a free instance, or starts one if fewer than Instances
// live, or waits.
func (h *Handler) acquire(ctx context.Context) (*instance, error) {
	select {
	case in := <-h.free:
		return in, nil
	default:
	}
	select {
	case in := <-h.free:
		return in, nil
	case h.slots <- struct{}{}:
		in, err := h.instantiate(ctx)
		if err != nil {
			<-h.slots
			return nil, err
		}
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// discard closes a failed instance and frees its slot.
func (h *Handler) discard(in *instance) {
	in.mod.Close(context.Background())
	<-h.slots
}

// compile is rt.CompileModule, with a panic of wazero's as an error:
// v1.12.0's validation panics on a function whose type index is past
// the type section.
func compile(ctx context.Context, rt wazero.Runtime, module []byte) (c wazero.CompiledModule, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero: %v", p)
		}
	}()
	return rt.CompileModule(ctx, module)
}
