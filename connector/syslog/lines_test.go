package syslog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/event"
)

// startLines runs a source switched to lines mode.
func startLines(t testing.TB, c syslog.Config, opts ...syslog.Option) (*syslog.Source, []net.Addr) {
	t.Helper()
	s, err := syslog.New(c, "test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	if !s.UseLines() {
		t.Fatal("UseLines = false for format none over tcp")
	}
	return s, run(t, s)
}

// send writes in to a new connection in pieces of random sizes (so that
// reads end anywhere, in lines, CRLFs and octet counts), then "END\n",
// and closes it.
func send(t *testing.T, addr net.Addr, in string, rnd *rand.Rand) {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in += "END\n"
	for len(in) > 0 {
		n := min(len(in), 1+rnd.IntN(70000))
		if _, err := c.Write([]byte(in[:n])); err != nil {
			t.Fatal(err)
		}
		in = in[n:]
	}
}

// untilEnd returns the events next returns up to the one whose raw is
// "END", which it leaves out.
func untilEnd(t *testing.T, next func(context.Context) ([]event.Event, error)) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var evs []event.Event
	for {
		got, err := next(ctx)
		if err != nil {
			t.Fatalf("after %d events: %v", len(evs), err)
		}
		for _, ev := range got {
			if string(ev.Raw) == "END" {
				return evs
			}
			evs = append(evs, ev)
		}
	}
}

// In lines mode the source hands over exactly the events it hands over
// one by one: the same raw bytes, flags and sender, in the same order,
// whatever the framing (CRLF, NUL trailers, blank lines, octet counts,
// lines that start with digits, over-long lines, a last line without a
// newline) and wherever reads end; and each run's bytes are its events'
// raw bytes, each followed by a newline, as a raw-format file holds
// them. Over-long lines are truncated and counted the same way.
func TestLinesAreTheEvents(t *testing.T) {
	long := strings.Repeat("x", 700)
	var big strings.Builder // over several framing buffers: views, copies and buffer changes
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; big.Len() < 3<<20; i++ {
		switch k := rnd.IntN(100); {
		case k < 90:
			fmt.Fprintf(&big, "<13>1 - host app - - - line %d %s\n", i, strings.Repeat("y", rnd.IntN(300)))
		case k < 93:
			fmt.Fprintf(&big, "crlf %d\r\n", i)
		case k < 95:
			fmt.Fprintf(&big, "\n\nafter blank lines %d\n", i)
		case k < 97:
			m := fmt.Sprintf("octet %d", i)
			fmt.Fprintf(&big, "%d %s", len(m), m)
		case k < 98:
			fmt.Fprintf(&big, "nul %d\x00", i)
		case k < 99:
			fmt.Fprintf(&big, "203.0.113.%d - - digits first\n", i%256)
		default:
			fmt.Fprintf(&big, "long %d %s\n", i, long)
		}
	}
	for _, tc := range []struct{ name, in string }{
		{"plain", "a\nbb\nccc\n"},
		{"crlf", "a\r\nb\r\nc\n"},
		{"nul", "a\x00b\x00c\n"},
		{"blank lines", "\n\na\n\n\nb\n"},
		{"octet counted", "5 hello3 abc\nplain\n"},
		{"digits first", "203.0.113.9 - - [x] \"GET /\"\n12345\nab\n"},
		{"over-long", "a\n" + long + "\nb\n" + long + "\r\n" + "c\n"},
		{"big", big.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", Format: "none", MaxMessageBytes: 500, ContentType: "ct"}
			oneCounts, linesCounts := &counts{errors: map[string]int{}}, &counts{errors: map[string]int{}}
			one, oneAddrs := start(t, cfg, syslog.WithCounters(oneCounts))
			lines, linesAddrs := startLines(t, cfg, syslog.WithCounters(linesCounts))
			rnd := rand.New(rand.NewPCG(3, 4))
			send(t, oneAddrs[0], tc.in, rnd)
			send(t, linesAddrs[0], tc.in, rnd)

			want := untilEnd(t, func(ctx context.Context) ([]event.Event, error) {
				m, _, err := one.Recv(ctx)
				return []event.Event{m.Value}, err
			})
			runs := 0
			got := untilEnd(t, func(ctx context.Context) ([]event.Event, error) {
				var l event.Lines
				ack, err := lines.RecvLines(ctx, &l)
				if err != nil {
					return nil, err
				}
				ack()
				runs++
				if l.Len() == 0 || l.Ends[l.Len()-1] != len(l.Bytes) || l.Template.Raw != nil {
					t.Fatalf("run of %d lines, %d bytes, ends %v, template raw %q", l.Len(), len(l.Bytes), l.Ends, l.Template.Raw)
				}
				evs := make([]event.Event, l.Len())
				for i := range evs {
					if l.Bytes[l.Ends[i]-1] != '\n' {
						t.Fatalf("line %d of a run does not end in a newline: %q", i, l.Bytes[:l.Ends[i]])
					}
					evs[i] = l.Event(i)
					evs[i].Raw = bytes.Clone(evs[i].Raw) // the run is lent until the next call
				}
				return evs, nil
			})
			if len(got) != len(want) {
				t.Fatalf("lines mode: %d events, one by one: %d", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if string(g.Raw) != string(w.Raw) || g.Flags != w.Flags || g.Source != w.Source || g.SourceType != w.SourceType ||
					g.ContentType != w.ContentType || g.Host == "" || g.ReceivedAt.IsZero() {
					t.Fatalf("event %d in lines mode: raw %.60q flags %v source %q/%q ct %q host %q at %v; one by one: raw %.60q flags %v source %q/%q ct %q",
						i, g.Raw, g.Flags, g.Source, g.SourceType, g.ContentType, g.Host, g.ReceivedAt, w.Raw, w.Flags, w.Source, w.SourceType, w.ContentType)
				}
			}
			if o, l := oneCounts.get("oversized"), linesCounts.get("oversized"); o != l {
				t.Errorf("oversized counted %d times in lines mode, %d one by one", l, o)
			}
			t.Logf("%d events in %d runs", len(got), runs)
		})
	}
}

// UseLines is refused where events are parsed or datagrams read.
func TestUseLinesOnlyForUnparsedStreams(t *testing.T) {
	for _, tc := range []struct {
		format, network string
		want            bool
	}{
		{"none", "tcp", true},
		{"none", "unix", true},
		{"auto", "tcp", false},
		{"rfc5424", "tcp", false},
		{"none", "udp", false},
		{"none", "udp+tcp", false},
		{"none", "unixgram", false},
	} {
		addr := "127.0.0.1:0"
		if strings.HasPrefix(tc.network, "unix") {
			addr = t.TempDir() + "/s"
		}
		s, err := syslog.New(syslog.Config{Addr: addr, Network: tc.network, Format: tc.format}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if got := s.UseLines(); got != tc.want {
			t.Errorf("format %s, network %s: UseLines = %v, want %v", tc.format, tc.network, got, tc.want)
		}
	}
}

// The runs a stopped source held are received before io.EOF.
func TestLinesDrainAtStop(t *testing.T) {
	s, err := syslog.New(syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", Format: "none"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	s.UseLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	addrs, err := s.Addrs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "line %d\n", i)
	}
	if _, err := c.Write([]byte(in.String())); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Wait until the queue is full or every line read, without taking
	// any: then stop, and everything read must still come out.
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	var l event.Lines
	if _, err := s.RecvLines(rctx, &l); err != nil {
		t.Fatal(err)
	}
	got := l.Len()
	time.Sleep(100 * time.Millisecond) // let the reader queue what it can; the count below does not depend on it
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for {
		_, err := s.RecvLines(rctx, &l)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after %d lines: %v", got, err)
			}
			break
		}
		for i := range l.Len() {
			if want := fmt.Sprintf("line %d", got+i); string(l.Raw(i)) != want {
				t.Fatalf("line %d = %q, want %q", got+i, l.Raw(i), want)
			}
		}
		got += l.Len()
	}
	if got == 0 || got > n {
		t.Fatalf("%d lines received", got)
	}
	t.Logf("%d of %d lines read before the stop, all received", got, n)
}
