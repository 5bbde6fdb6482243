package stdio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/memory"
)

// ScannerConfig configures a [Scanner].
type ScannerConfig struct {
	// MaxLineBytes is the longest line kept whole; a longer line is split
	// into events of this size, each flagged "split". Default 1 MiB.
	MaxLineBytes int `json:"maxLineBytes"`
}

// Scanner is a source of one event per line of a reader, such as standard
// input; empty lines are skipped, and a final line without a newline is
// an event too. It is a [sluice.Runner]: Run reads lines until EOF or until ctx is
// done, and then Recv returns what was read and io.EOF. Acks do nothing:
// a stream cannot be replayed. Recv is safe for concurrent use.
type Scanner struct {
	name  string
	r     io.Reader
	max   int
	q     *memory.Queue[event.Event]
	clock func() time.Time
}

// NewScanner returns a Scanner reading r; name is the source's name in the
// events it makes.
func NewScanner(c ScannerConfig, name string, r io.Reader) (*Scanner, error) {
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = 1 << 20
	}
	if c.MaxLineBytes < 1 {
		return nil, errors.New("scanner: maxLineBytes must be positive")
	}
	return &Scanner{name: name, r: r, max: c.MaxLineBytes, q: memory.New[event.Event](1024), clock: time.Now}, nil
}

// Run reads lines until EOF, a read error, or ctx is done. Lines read
// before then are all delivered by Recv.
func (s *Scanner) Run(ctx context.Context) error {
	defer s.q.Close()
	// A blocked read of a pipe or terminal ends when ctx does, where the
	// reader supports deadlines.
	if f, ok := s.r.(*os.File); ok {
		stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
		defer stop()
	}
	br := bufio.NewReaderSize(s.r, 64<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		full := len(chunk) > 0 && chunk[len(chunk)-1] == '\n'
		if full {
			chunk = chunk[:len(chunk)-1]
		}
		line = append(line, chunk...)
		for len(line) > s.max {
			if s.emit(ctx, line[:s.max], event.Split) != nil {
				return nil // stopped: what was read is delivered
			}
			line = append(line[:0], line[s.max:]...)
		}
		ended := err != nil && !errors.Is(err, bufio.ErrBufferFull)
		if full || ended {
			if raw := bytes.TrimSuffix(line, []byte("\r")); len(raw) > 0 {
				if s.emit(ctx, raw, 0) != nil {
					return nil
				}
			}
			line = line[:0]
		}
		switch {
		case !ended:
		case errors.Is(err, io.EOF), ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("scanner: read: %w", err)
		}
	}
}

func (s *Scanner) emit(ctx context.Context, raw []byte, flags event.Flags) error {
	now := s.clock()
	ev := event.Event{ReceivedAt: now, Source: s.name, SourceType: "scanner", Raw: bytes.Clone(raw), Flags: flags | event.NoTime}
	return s.q.Send(ctx, nil, sluice.Message[event.Event]{Value: ev})
}

// Recv returns the next line's event. After Run has returned, it returns
// the lines left, then io.EOF.
func (s *Scanner) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	m, _, err := s.q.Recv(ctx)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return m, nil, io.EOF
		}
		return m, nil, fmt.Errorf("scanner: %w", err)
	}
	return m, sluice.Noop, nil
}

var (
	_ sluice.Source[event.Event] = (*Scanner)(nil)
	_ sluice.Runner              = (*Scanner)(nil)
)
