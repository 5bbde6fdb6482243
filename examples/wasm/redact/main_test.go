package main

import (
	"bytes"
	"testing"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/examples/wasm/redact/redaction"
	"github.com/sluicehq/sluice/handler/wasm/abi"
	"github.com/sluicehq/sluice/handler/wasm/guest"
	"github.com/sluicehq/sluice/internal/wasmtest"
)

// events returns n syslog events as the syslog source makes them
// (wasmtest.Events), and some of other shapes.
func events(n int) []event.Event {
	es := wasmtest.Events(n)
	return append(es,
		event.Event{Raw: []byte("GET /pay?card=4111111111111111"), HTTP: &event.HTTP{Path: "/pay", Query: "card=4111111111111111",
			UserAgent: "agent/123456789012345"}, Fields: []event.Field{{Name: "n", Value: "1"}, {Name: "acct 000011112222", Value: "x 999999999999"}}},
		event.Event{Raw: []byte("no digits"), Syslog: event.Syslog{Message: "but a DEBUG message"}},
		event.Event{Host: "123456789012", File: event.File{Path: "/var/log/123456789012345.log"}},
	)
}

func batch(es []event.Event) []byte {
	ev := func(i int) *event.Event { return &es[i] }
	b := make([]byte, abi.InputSize(len(es), ev))
	abi.PutInput(b, len(es), ev)
	return b
}

// The guest's output, read as the host reads it, is what the native
// redaction makes of the same events.
func TestGuestIsNative(t *testing.T) {
	es := events(40)
	var got [][]byte
	err := abi.ReadOutput(guest.Process(batch(es)), abi.Version, len(es), func(i int) *event.Event { return &es[i] }, func(o *abi.Output) error {
		got = append(got, o.Event.AppendRecord(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for _, e := range es {
		if redaction.Event(&e) {
			want = append(want, e.AppendRecord(nil))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("event %d:\n%q\nwant\n%q", i, got[i], want[i])
		}
	}
}

// BenchmarkProcess is the guest's own work on a batch of 256 syslog
// events, without a host: run it as a wasm module (GOOS=wasip1
// GOARCH=wasm go test -c, then a WebAssembly runtime) to see what the Go
// guest costs per event inside the module.
func BenchmarkProcess(b *testing.B) {
	in := batch(events(256)[:256])
	for b.Loop() {
		guest.Process(in)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/event")
}
