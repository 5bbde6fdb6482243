package wasmtest

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/cputime"
)

// PerEvent reports the wall and CPU time per event of a benchmark that
// handled size events per iteration and started at cpu0 (a cputime.Process reading).
func PerEvent(b *testing.B, size int, cpu0 time.Duration) {
	n := float64(b.N * size)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/n, "cpu-ns/event")
}

// Events returns n syslog events of about 120 bytes as the syslog source
// makes them, the redact example's load: one in two with a card number,
// one in ten a DEBUG line. As the source's, the hostname, app name and
// message are views into the raw line.
func Events(n int) []event.Event {
	es := make([]event.Event, n)
	for i := range es {
		text := fmt.Sprintf("user %d checked out order %d with card 4111111111111111 in 35ms", i, 1000+i)
		switch {
		case i%10 == 9:
			text = fmt.Sprintf("DEBUG cache miss for key %d", i)
		case i%2 == 1:
			text = fmt.Sprintf("user %d viewed product %d in 12ms from 10.0.0.%d", i, 5000+i, i%250)
		}
		const head = "<14>1 2026-12-06T09:00:00Z web-1 shop - - - "
		raw := []byte(head + text)
		s := unsafe.String(unsafe.SliceData(raw), len(raw))
		es[i] = event.Event{ReceivedAt: time.Unix(1_780_000_000, 0), Source: "app", SourceType: "syslog", Host: "10.0.0.1", Raw: raw,
			Syslog: event.Syslog{Present: true, Facility: 1, Severity: 6, Version: 1, Hostname: s[27:32], AppName: s[33:37], Message: s[len(head):]}}
	}
	return es
}
