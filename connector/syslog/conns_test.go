package syslog

import (
	"net"
	"testing"
	"time"
)

// At the limit, add evicts the connection that has waited longest in a
// read, and refuses the new one only when none waits.
func TestConnsAdd(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name    string
		waiting []time.Duration // per connection: how long it has waited; 0 not reading
		max     int
		evict   int // index of the connection evicted; -1 none
		ok      bool
	}{
		{"under the limit", []time.Duration{time.Second}, 2, -1, true},
		{"longest wait evicted", []time.Duration{time.Second, time.Minute, 0, 2 * time.Second}, 4, 1, true},
		{"busy ones are kept", []time.Duration{0, 0, time.Millisecond}, 3, 2, true},
		{"all busy: refused", []time.Duration{0, 0}, 2, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := &conns{set: map[*conn]struct{}{}}
			var all []*conn
			for _, w := range tc.waiting {
				a, b := net.Pipe()
				defer b.Close()
				c := newConn(a)
				if w > 0 {
					c.waiting.Store(now.Add(-w).UnixNano())
				}
				all = append(all, c)
				cs.set[c] = struct{}{}
			}
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			c := newConn(a)
			evicted, idle, ok := cs.add(c, tc.max, now)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			_, added := cs.set[c]
			if added != ok {
				t.Errorf("new connection in the set: %v, want %v", added, ok)
			}
			if tc.evict < 0 {
				if evicted != nil {
					t.Errorf("evicted a connection that waited %v", idle)
				}
				return
			}
			want := all[tc.evict]
			if evicted != want || idle != tc.waiting[tc.evict] || !want.evicted.Load() {
				t.Errorf("evicted %p after %v, want %p after %v, flagged", evicted, idle, want, tc.waiting[tc.evict])
			}
			if _, in := cs.set[want]; in || len(cs.set) != tc.max {
				t.Errorf("set has %d connections (evicted one in it: %v), want %d", len(cs.set), in, tc.max)
			}
			if _, err := want.raw.Write([]byte("x")); err == nil {
				t.Error("the evicted connection is still open")
			}
		})
	}
}
