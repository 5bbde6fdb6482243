package journald

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/sluicehq/sluice/event"
)

// MaxFieldBytes is the largest field value [Reader] accepts, text or
// binary; a larger one is an error. journald itself stores at most
// 64 MiB per field by default.
const MaxFieldBytes = 64 << 20

// errFormat is wrapped by every error about malformed input.
var errFormat = errors.New("journald: export format")

// Reader reads entries in the journal export format
// (https://systemd.io/JOURNAL_EXPORT_FORMATS/), as journalctl
// --output=export writes them: fields, one per line as NAME=value, or for
// a value that is not printable text NAME, a newline, the value's length as
// a little-endian uint64, the value and a newline; an empty line ends an
// entry.
type Reader struct {
	r    *bufio.Reader
	line []byte
}

// NewReader returns a Reader that reads from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the fields of the next entry, in input order; a field name
// may occur more than once. Empty lines between entries are skipped. At
// the end of the input it returns io.EOF, or io.ErrUnexpectedEOF if the
// input ends inside an entry; the fields of such an entry are dropped. A
// malformed field is an error; what follows it cannot be trusted.
func (r *Reader) Next() ([]event.Field, error) {
	var fields []event.Field
	for {
		line, err := r.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && len(fields) == 0 && len(line) == 0 {
				return nil, io.EOF
			}
			if errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(line) == 0 {
			if len(fields) == 0 {
				continue
			}
			return fields, nil
		}
		if i := bytes.IndexByte(line, '='); i >= 0 {
			if i == 0 {
				return nil, fmt.Errorf("%w: empty field name", errFormat)
			}
			fields = append(fields, event.Field{Name: string(line[:i]), Value: string(line[i+1:])})
			continue
		}
		name := string(line)
		var size [8]byte
		if _, err := io.ReadFull(r.r, size[:]); err != nil {
			return nil, unexpected(err)
		}
		n := binary.LittleEndian.Uint64(size[:])
		if n > MaxFieldBytes {
			return nil, fmt.Errorf("%w: field %.64q: %d bytes, more than %d", errFormat, name, n, MaxFieldBytes)
		}
		var b bytes.Buffer
		if _, err := io.CopyN(&b, r.r, int64(n)); err != nil {
			return nil, unexpected(err)
		}
		c, err := r.r.ReadByte()
		if err != nil {
			return nil, unexpected(err)
		}
		if c != '\n' {
			return nil, fmt.Errorf("%w: field %.64q: no newline after binary value", errFormat, name)
		}
		fields = append(fields, event.Field{Name: name, Value: b.String()})
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readLine returns the next line without its newline. At the end of the
// input it returns what it read and io.EOF; a line longer than
// MaxFieldBytes is an error.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.r.ReadSlice('\n')
		r.line = append(r.line, chunk...)
		if len(r.line) > MaxFieldBytes+256 {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errFormat, MaxFieldBytes)
		}
		switch {
		case err == nil:
			return r.line[:len(r.line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return r.line, err
		}
	}
}

// AppendExport appends fields to dst as one entry in the export format,
// followed by the empty line that ends it. A value that is not printable
// text (it holds a control character other than tab, or is not valid
// UTF-8) is written in the binary form. Names must be non-empty and hold
// neither '=' nor a newline.
func AppendExport(dst []byte, fields []event.Field) []byte {
	for _, f := range fields {
		if printable(f.Value) {
			dst = append(dst, f.Name...)
			dst = append(dst, '=')
			dst = append(dst, f.Value...)
			dst = append(dst, '\n')
			continue
		}
		dst = appendBinary(dst, f)
	}
	return append(dst, '\n')
}

func appendBinary(dst []byte, f event.Field) []byte {
	dst = append(dst, f.Name...)
	dst = append(dst, '\n')
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(f.Value)))
	dst = append(dst, f.Value...)
	return append(dst, '\n')
}

func printable(s string) bool {
	for _, r := range s {
		if r == 0xfffd || (r < 0x20 && r != '\t') || r == 0x7f {
			return false // 0xfffd: invalid UTF-8, or a real U+FFFD, kept safe either way
		}
	}
	return true
}
