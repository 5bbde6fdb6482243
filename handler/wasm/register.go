package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// Config is the "wasm" handler's config.
type Config struct {
	// Module is the path of the WebAssembly module, a reactor exporting
	// ABI version 3 or 2 (docs/wasm.md). Required.
	Module string `json:"module" sluice:"required"`
	// Config is passed to the module's init function as JSON. Default
	// null.
	Config json.RawMessage `json:"config"`
	// Timeout bounds each call into the module; a call past it fails its
	// batch. Default 1s.
	Timeout time.Duration `json:"timeout"`
	// MemoryLimit caps the memory of each instance, such as "16MiB"
	// (KiB, MiB, GiB, or bytes without a unit). Default "64MiB".
	MemoryLimit string `json:"memoryLimit"`
	// Instances is how many batches the module may handle at once, each
	// in an instance of its own. Default 2.
	Instances int `json:"instances"`
	// Emit names the routes the module may send events to besides its
	// own; they get them without running their handlers. Default none.
	Emit []string `json:"emit"`

	memoryLimit uint64
}

// Validate checks the limits.
func (c *Config) Validate() error {
	var errs []error
	n, err := parseSize(c.MemoryLimit)
	if err != nil {
		errs = append(errs, &config.FieldError{Path: "memoryLimit", Msg: err.Error()})
	}
	c.memoryLimit = n
	if c.Timeout <= 0 {
		errs = append(errs, &config.FieldError{Path: "timeout", Msg: fmt.Sprintf("want a positive duration, got %v", c.Timeout)})
	}
	if c.Instances < 1 || c.Instances > 1024 {
		errs = append(errs, &config.FieldError{Path: "instances", Msg: fmt.Sprintf("want 1 to 1024, got %d", c.Instances)})
	}
	return errors.Join(errs...)
}

// parseSize parses "16MiB" and the like.
func parseSize(s string) (uint64, error) {
	num, mult := s, uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
	if err != nil || n == 0 || n > (4<<30)/mult {
		return 0, fmt.Errorf(`want a size from 64KiB to 4GiB such as "16MiB", got %q`, s)
	}
	return n * mult, nil
}

// Register registers the "wasm" handler.
func Register(r *daemon.Registry) {
	daemon.RegisterHandler(r, "wasm", "runs a WebAssembly module on batches of events (docs/wasm.md)",
		func() *Config {
			return &Config{Timeout: DefaultTimeout, MemoryLimit: "64MiB", Instances: DefaultInstances}
		},
		build)
}

// daemonHandler is a Handler that may divert events to routes or its dead
// letter.
type daemonHandler struct {
	*Handler
	diverts bool
}

func (h daemonHandler) Diverts() bool { return h.diverts }

// Close releases the module's runtime and instances: the daemon calls it
// once the handler's route is stopped or replaced.
func (h daemonHandler) Close() error { return h.Handler.Close(context.Background()) }

func build(env daemon.Env, c *Config) (sluice.Handler[event.Event, event.Event], error) {
	module, err := os.ReadFile(c.Module)
	if err != nil {
		return nil, &config.FieldError{Path: "module", Msg: err.Error()}
	}
	for i, name := range c.Emit {
		n := 0
		for _, r := range env.Routes {
			if r == name {
				n++
			}
		}
		if n != 1 {
			what := "no route is named"
			if n > 1 {
				what = fmt.Sprintf("%d routes are named", n)
			}
			return nil, &config.FieldError{Path: fmt.Sprintf("emit[%d]", i), Msg: fmt.Sprintf("%s %q", what, name)}
		}
	}
	name := strings.TrimSuffix(filepath.Base(c.Module), ".wasm")
	o := Options{
		Name: name, Config: c.Config, Timeout: c.Timeout, MemoryLimit: c.memoryLimit, Instances: c.Instances,
		CacheDir: filepath.Join(env.DataDir, "wasm-cache"), Logger: env.Logger, Routes: c.Emit,
		Route: func(m msg, route string) msg {
			m.Attributes = m.Attributes.With(daemon.AttrRoute, route)
			return m
		},
	}
	failed := env.Metrics
	if dl := env.DeadLetterName; dl != "" {
		o.Failed = func(msgs []msg, reason string) ([]msg, error) {
			failed.Error("wasm")
			out := make([]msg, len(msgs))
			for i, m := range msgs {
				fields := make([]event.Field, 0, len(m.Value.Fields)+3)
				fields = append(fields, m.Value.Fields...)
				fields = append(fields, event.Field{Name: "deadLetter.from", Value: env.Name},
					event.Field{Name: "deadLetter.module", Value: name}, event.Field{Name: "deadLetter.error", Value: reason})
				m.Value.Fields = fields
				m.Attributes = m.Attributes.With(daemon.AttrDestination, dl)
				out[i] = m
			}
			return out, nil
		}
	} else { // nowhere to put them: fatal, as for a destination
		o.Failed = func(_ []msg, reason string) ([]msg, error) {
			failed.Error("wasm")
			return nil, errors.New(reason)
		}
	}
	h, err := New(context.Background(), module, o)
	if err != nil {
		return nil, err
	}
	return daemonHandler{h, env.DeadLetterName != "" || len(c.Emit) > 0}, nil
}
