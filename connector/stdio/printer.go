// Package stdio provides the daemon's standard-stream connectors: the
// "scanner" source, one event per line of standard input, and the
// "printer" destination, one line per event on standard output. Both work
// on any io.Reader or io.Writer.
package stdio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/daemon/config"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// PrinterConfig configures a [Printer].
type PrinterConfig struct {
	// Format is "json" for one JSON object per event (NDJSON) or "raw" for
	// the event's original bytes. Default "json".
	Format string `json:"format"`
	// JSONRaw says which events keep their original bytes ("raw") in
	// format json: "always" (default) or "unparsed" (only those whose
	// fields were not parsed from them; a parsed syslog line is then
	// about half as long).
	JSONRaw string `json:"jsonRaw"`
}

// Validate checks Format and JSONRaw.
func (c *PrinterConfig) Validate() error {
	var errs []error
	if c.Format != "json" && c.Format != "raw" {
		errs = append(errs, config.Want("format", "json or raw", c.Format))
	}
	if _, err := event.JSONRaw(c.JSONRaw); err != nil {
		errs = append(errs, &config.FieldError{Path: "jsonRaw", Msg: err.Error()})
	}
	return errors.Join(errs...)
}

// Printer is a destination that writes each event as a line. Send writes
// and flushes the whole call before it acks, so an ack means the bytes
// were handed to the writer (for a pipe or terminal, as durable as it
// gets). Send is safe for concurrent use; lines of one call stay together.
type Printer struct {
	format string
	json   event.JSONOptions
	file   *os.File // w, when it is a file: a blocked write ends with ctx
	mu     sync.Mutex
	w      *bufio.Writer
	wr     func() io.Writer // the underlying writer
	buf    []byte
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(c PrinterConfig, w io.Writer) (*Printer, error) {
	if c.Format == "" {
		c.Format = "json"
	}
	if c.JSONRaw == "" {
		c.JSONRaw = "always"
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("printer: %w", err)
	}
	jo, _ := event.JSONRaw(c.JSONRaw)
	f, _ := w.(*os.File)
	return &Printer{format: c.Format, json: jo, file: f, w: bufio.NewWriterSize(w, 64<<10), wr: func() io.Writer { return w }}, nil
}

// Send writes msgs, one line each, flushes, and acks.
func (p *Printer) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("printer: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.file != nil {
		// A write blocked on a full pipe ends when ctx does.
		stop := context.AfterFunc(ctx, func() { _ = p.file.SetWriteDeadline(time.Now()) })
		defer func() {
			if !stop() {
				_ = p.file.SetWriteDeadline(time.Time{})
			}
		}()
	}
	for i := range msgs {
		b := p.buf[:0]
		if p.format == "raw" {
			b = append(b, msgs[i].Value.Raw...)
		} else {
			b = msgs[i].Value.AppendJSONWith(b, p.json)
		}
		b = append(b, '\n')
		p.buf = b
		if _, err := p.w.Write(b); err != nil {
			return p.fail(ctx, err)
		}
	}
	if err := p.w.Flush(); err != nil {
		return p.fail(ctx, err)
	}
	sluice.Ack(ack)
	return nil
}

// fail reports a write error, as ctx's error if ctx ended it. The writer
// is reset: what it held is lost, and was never acked.
func (p *Printer) fail(ctx context.Context, err error) error {
	p.w.Reset(p.wr())
	if ctx.Err() != nil {
		return fmt.Errorf("printer: write: %w", errors.Join(ctx.Err(), err))
	}
	return fmt.Errorf("printer: write: %w", err)
}

var _ sluice.Destination[event.Event] = (*Printer)(nil)
