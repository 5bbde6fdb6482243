package abi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/abi"
	"github.com/sluicehq/sluice/internal/cputime"
	"github.com/sluicehq/sluice/internal/wasmtest"
)

// syslogBatch returns n syslog events of about 120 bytes, the message
// sharing the raw line's bytes.
func syslogBatch(n int) []event.Event {
	es := make([]event.Event, n)
	for i := range es {
		text := fmt.Sprintf("user %d checked out order %d with card 4111111111111111 in 35ms", i, 1000+i)
		raw := []byte("<14>1 2026-12-06T09:00:00Z web-1 shop - - - " + text)
		es[i] = event.Event{ReceivedAt: time.Unix(1_780_000_000, 0), Source: "app", SourceType: "syslog", Host: "10.0.0.1", Raw: raw,
			Syslog: event.Syslog{Present: true, Facility: 1, Severity: 6, Version: 1, Hostname: "web-1", AppName: "shop", Message: string(raw[len(raw)-len(text):])}}
	}
	return es
}

// The host's side of a batch of 256: writing the input, and reading an
// output that keeps every event or patches its raw line and message.
func BenchmarkHost(b *testing.B) {
	es := syslogBatch(256)
	ev := func(i int) *event.Event { return &es[i] }
	buf := make([]byte, abi.InputSize(len(es), ev))
	b.Run("input", func(b *testing.B) {
		cpu0 := cputime.Process()
		for b.Loop() {
			abi.PutInput(buf[:abi.InputSize(len(es), ev)], len(es), ev)
		}
		wasmtest.PerEvent(b, len(es), cpu0)
	})
	abi.PutInput(buf, len(es), ev)
	var in abi.Input
	if err := in.Reset(buf); err != nil {
		b.Fatal(err)
	}
	keep, patch := &abi.Writer{}, &abi.Writer{}
	keep.Reset()
	patch.Reset()
	for i := range in.Len() {
		var e event.Event
		if err := in.Event(i, &e); err != nil {
			b.Fatal(err)
		}
		keep.Emit(&in, uint32(i), "", &e)
		e.Raw = append([]byte(nil), e.Raw[:60]...)
		e.Syslog.Message = e.Syslog.Message[:20] + "x"
		patch.Emit(&in, uint32(i), "", &e)
	}
	for _, w := range []struct {
		name string
		w    *abi.Writer
	}{{"keep", keep}, {"patch", patch}} {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			out := make([]event.Event, 0, len(es))
			cpu0 := cputime.Process()
			for b.Loop() {
				out = out[:0]
				if err := abi.ReadOutput(w.w.Bytes(), abi.Version, len(es), ev, func(o *abi.Output) error {
					out = append(out, o.Event)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			wasmtest.PerEvent(b, len(es), cpu0)
		})
	}
}
