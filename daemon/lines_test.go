package daemon_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A syslog source of unparsed lines hands runs of lines to the route
// (daemon.LineSource); whether a run goes to the destinations whole or
// as events, every line is written once, in order, as it came, and every
// metric counts lines, not runs.
func TestLinesArriveAndAreCountedOneByOne(t *testing.T) {
	for _, tc := range []struct {
		name   string
		route  string // the route's fields besides from and to
		to     []string
		json   bool // the destinations write format json
		passed int  // lines that pass the route
	}{
		{name: "whole runs", to: []string{"a"}},
		{name: "whole runs to two destinations", to: []string{"a", "b"}},
		{name: "a condition: events", route: `"if": "!(raw contains \"skip\")", `, to: []string{"a"}, passed: -1},
		{name: "a handler: events", route: `"handlers": [{"type": "drop", "if": "raw contains \"skip\""}], `, to: []string{"a"}, passed: -1},
		{name: "format json", to: []string{"a"}, json: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			adminAddr, syslogAddr := freeAddr(t), freeAddr(t)
			format := "raw"
			if tc.json {
				format = "json"
			}
			var dests, to []string
			for _, d := range tc.to {
				dests = append(dests, fmt.Sprintf(`%q: {"type": "file", "path": %q, "format": %q, "batch": {"count": 100}}`, d, filepath.Join(dir, d), format))
				to = append(to, fmt.Sprintf("%q", d))
			}
			cfg := fmt.Sprintf(`{
				"dataDir": %q,
				"admin": {"addr": %q},
				"sources": {"sys": {"type": "syslog", "network": "tcp", "addr": %q, "format": "none"}},
				"destinations": {%s},
				"routes": [{"from": ["sys"], %s"to": [%s]}],
			}`, dir, adminAddr, syslogAddr, strings.Join(dests, ", "), tc.route, strings.Join(to, ", "))
			stop := start(t, cfg, testRegistry(&ackLog{}))
			defer func() {
				if err := stop(); err != nil {
					t.Errorf("Run = %v", err)
				}
			}()
			var in strings.Builder
			var want []string
			const n = 30000
			rawBytes := 0
			for i := range n {
				line := fmt.Sprintf("line %d %s", i, strings.Repeat("z", i%50))
				if i%1000 == 7 {
					line += " skip"
				}
				rawBytes += len(line)
				if i%997 == 3 {
					fmt.Fprintf(&in, "%s\r\n", line) // a copied run
				} else {
					fmt.Fprintf(&in, "%s\n", line)
				}
				if tc.passed == 0 || !strings.Contains(line, "skip") {
					want = append(want, line)
				}
			}
			conn := dial(t, syslogAddr)
			if _, err := conn.Write([]byte(in.String())); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			waitFor(t, func() bool { return scrapeAll(t, adminAddr)[`sluice_acked_total{kind="source",name="sys"}`] >= n })

			for _, d := range tc.to {
				b, err := os.ReadFile(filepath.Join(dir, d))
				if err != nil {
					t.Fatal(err)
				}
				got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
				if len(got) != len(want) {
					t.Fatalf("%s holds %d lines, want %d", d, len(got), len(want))
				}
				for i := range want {
					if tc.json && !strings.Contains(got[i], fmt.Sprintf(`"raw":%q`, want[i])) || !tc.json && got[i] != want[i] {
						t.Fatalf("%s line %d = %.80q, want %.80q", d, i, got[i], want[i])
					}
				}
			}
			page := scrapeAll(t, adminAddr)
			counts := map[string]int{
				`sluice_events_in_total{kind="source",name="sys"}`:     n,
				`sluice_bytes_in_total{kind="source",name="sys"}`:      rawBytes,
				`sluice_acked_total{kind="source",name="sys"}`:         n,
				`sluice_events_in_total{kind="route",name="route-0"}`:  n,
				`sluice_events_out_total{kind="route",name="route-0"}`: len(want),
			}
			for _, d := range tc.to {
				counts[`sluice_events_in_total{kind="destination",name="`+d+`"}`] = len(want)
				counts[`sluice_acked_total{kind="destination",name="`+d+`"}`] = len(want)
			}
			for series, want := range counts {
				if got := page[series]; got != float64(want) {
					t.Errorf("%s = %v, want %d", series, got, want)
				}
			}
		})
	}
}

// dial connects to addr, retrying while nothing listens there yet.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	waitFor(t, func() bool {
		var err error
		c, err = net.Dial("tcp", addr)
		return err == nil
	})
	return c
}

// waitFor polls ok until it holds, or fails the test after a minute.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
