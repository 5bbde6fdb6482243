package stdio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/stdio"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/sluicetest"
)

// The printer writes raw lines into an OS pipe and the scanner reads them
// back: a real round trip through the kernel.
func TestConformance(t *testing.T) {
	sluicetest.Suite[event.Event]{
		Features: sluicetest.Features{Ordered: true, ConcurrentRecv: true, ConcurrentSend: true},
		NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close(); w.Close() })
			src, err := stdio.NewScanner(stdio.ScannerConfig{}, name, r)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := stdio.NewPrinter(stdio.PrinterConfig{Format: "raw"}, w)
			if err != nil {
				t.Fatal(err)
			}
			return src, dst
		},
		Wrap: func(p []byte) sluice.Message[event.Event] {
			return sluice.Message[event.Event]{Value: event.Event{Raw: p}}
		},
		Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
	}.Run(t)
}

func scanAll(t *testing.T, input string, max int) []event.Event {
	t.Helper()
	s, err := stdio.NewScanner(stdio.ScannerConfig{MaxLineBytes: max}, "in", strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for {
		m, ack, err := s.Recv(t.Context())
		if errors.Is(err, io.EOF) {
			return evs
		}
		if err != nil {
			t.Fatal(err)
		}
		ack()
		evs = append(evs, m.Value)
	}
}

func TestScanner(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		max   int
		want  []string
		split []bool
	}{
		{"lines", "a\nb\n", 0, []string{"a", "b"}, nil},
		{"no final newline", "a\nb", 0, []string{"a", "b"}, nil},
		{"crlf", "a\r\nb\r\n", 0, []string{"a", "b"}, nil},
		{"empty lines skipped", "\n\na\n\n", 0, []string{"a"}, nil},
		{"empty input", "", 0, nil, nil},
		{"long line split", "abcdefg\nxy\n", 3, []string{"abc", "def", "g", "xy"}, []bool{true, true, false, false}},
		{"exactly max", "abc\n", 3, []string{"abc"}, []bool{false}},
		{"long line beyond the read buffer", strings.Repeat("x", 200_000) + "\n", 150_000, []string{strings.Repeat("x", 150_000), strings.Repeat("x", 50_000)}, []bool{true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := scanAll(t, tc.input, tc.max)
			if len(evs) != len(tc.want) {
				t.Fatalf("got %d events, want %d", len(evs), len(tc.want))
			}
			for i, ev := range evs {
				if string(ev.Raw) != tc.want[i] {
					t.Errorf("event %d = %.20q, want %.20q", i, ev.Raw, tc.want[i])
				}
				if ev.Source != "in" || ev.SourceType != "scanner" || ev.ReceivedAt.IsZero() {
					t.Errorf("event %d: source %q type %q receivedAt %v", i, ev.Source, ev.SourceType, ev.ReceivedAt)
				}
				if tc.split != nil && ev.Flags.Has(event.Split) != tc.split[i] {
					t.Errorf("event %d: split = %v, want %v", i, ev.Flags.Has(event.Split), tc.split[i])
				}
			}
		})
	}
}

func TestPrinter(t *testing.T) {
	ev := event.Event{Source: "s", Raw: []byte("hello")}
	for _, tc := range []struct{ format, want string }{
		{"raw", "hello\nhello\n"},
		{"json", `{"ts":"0001-01-01T00:00:00Z","receivedAt":"0001-01-01T00:00:00Z","source":"s","raw":"hello"}` + "\n" +
			`{"ts":"0001-01-01T00:00:00Z","receivedAt":"0001-01-01T00:00:00Z","source":"s","raw":"hello"}` + "\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var buf bytes.Buffer
			p, err := stdio.NewPrinter(stdio.PrinterConfig{Format: tc.format}, &buf)
			if err != nil {
				t.Fatal(err)
			}
			acked := 0
			m := sluice.Message[event.Event]{Value: ev}
			if err := p.Send(t.Context(), func() { acked++ }, m, m); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want || acked != 1 {
				t.Errorf("wrote %q, acked %d; want %q, 1", buf.String(), acked, tc.want)
			}
		})
	}
	if _, err := stdio.NewPrinter(stdio.PrinterConfig{Format: "xml"}, io.Discard); err == nil || !strings.Contains(err.Error(), `want json or raw, got "xml"`) {
		t.Errorf("bad format: %v", err)
	}
}

// The jsonRaw events: a parsed syslog line, a line no handler parsed, and
// one whose parse failed.
var (
	parsedEv = event.Event{Source: "s", Raw: []byte("<13>1 - h app - - - hi"),
		Syslog: event.Syslog{Present: true, Facility: 1, Severity: 5, Version: 1, Hostname: "h", AppName: "app", Message: "hi"}}
	unparsedEv = event.Event{Source: "s", Raw: []byte("plain")}
	failedEv   = event.Event{Source: "s", Raw: []byte("<13 broken"), Flags: event.ParseError}
)

func TestPrinterJSONRaw(t *testing.T) {
	const (
		parsedRaw = `{"ts":"0001-01-01T00:00:00Z","receivedAt":"0001-01-01T00:00:00Z","source":"s","raw":"<13>1 - h app - - - hi","syslog":{"facility":1,"severity":5,"version":1,"hostname":"h","appName":"app","message":"hi"}}`
		parsedNo  = `{"ts":"0001-01-01T00:00:00Z","receivedAt":"0001-01-01T00:00:00Z","source":"s","syslog":{"facility":1,"severity":5,"version":1,"hostname":"h","appName":"app","message":"hi"}}`
		unparsed  = `{"ts":"0001-01-01T00:00:00Z","receivedAt":"0001-01-01T00:00:00Z","source":"s","raw":"plain"}`
		failed    = `{"ts":"0001-01-01T00:00:00Z","receivedAt":"0001-01-01T00:00:00Z","source":"s","raw":"<13 broken","flags":["parseError"]}`
	)
	for _, tc := range []struct {
		name, jsonRaw string
		want          []string // lines for parsedEv, unparsedEv, failedEv
	}{
		{"default", "", []string{parsedRaw, unparsed, failed}},
		{"always", "always", []string{parsedRaw, unparsed, failed}},
		{"unparsed", "unparsed", []string{parsedNo, unparsed, failed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p, err := stdio.NewPrinter(stdio.PrinterConfig{Format: "json", JSONRaw: tc.jsonRaw}, &buf)
			if err != nil {
				t.Fatal(err)
			}
			msgs := []sluice.Message[event.Event]{{Value: parsedEv}, {Value: unparsedEv}, {Value: failedEv}}
			if err := p.Send(t.Context(), nil, msgs...); err != nil {
				t.Fatal(err)
			}
			if want := strings.Join(tc.want, "\n") + "\n"; buf.String() != want {
				t.Errorf("wrote\n%s\nwant\n%s", buf.String(), want)
			}
		})
	}
	// Format raw ignores jsonRaw: the original bytes are the line.
	var buf bytes.Buffer
	p, err := stdio.NewPrinter(stdio.PrinterConfig{Format: "raw", JSONRaw: "unparsed"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(t.Context(), nil, sluice.Message[event.Event]{Value: parsedEv}); err != nil {
		t.Fatal(err)
	}
	if want := "<13>1 - h app - - - hi\n"; buf.String() != want {
		t.Errorf("raw wrote %q, want %q", buf.String(), want)
	}
}

func TestPrinterConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  stdio.PrinterConfig
		want []string
	}{
		{"format", stdio.PrinterConfig{Format: "xml", JSONRaw: "always"}, []string{`format: want json or raw, got "xml"`}},
		{"jsonRaw", stdio.PrinterConfig{Format: "json", JSONRaw: "never"}, []string{`jsonRaw: want always or unparsed, got "never"`}},
		{"both", stdio.PrinterConfig{Format: "xml", JSONRaw: "Unparsed"}, []string{`format: want json or raw, got "xml"`, `jsonRaw: want always or unparsed, got "Unparsed"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			verr := c.Validate()
			_, nerr := stdio.NewPrinter(tc.cfg, io.Discard)
			for _, err := range []error{verr, nerr} {
				if err == nil {
					t.Fatal("got nil, want an error")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("got %v, want %q", err, w)
					}
				}
			}
		})
	}
	c := stdio.PrinterConfig{Format: "json", JSONRaw: "unparsed"}
	if err := c.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPrinterWriteErrorIsNotAcked(t *testing.T) {
	p, _ := stdio.NewPrinter(stdio.PrinterConfig{}, failWriter{})
	acked := false
	err := p.Send(context.Background(), func() { acked = true }, sluice.Message[event.Event]{Value: event.Event{Raw: []byte("x")}})
	if err == nil || acked {
		t.Errorf("Send = %v, acked %v; want an error and no ack", err, acked)
	}
}
