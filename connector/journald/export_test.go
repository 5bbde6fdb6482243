package journald

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/event"
)

func bin(name, value string) string {
	var b []byte
	b = append(b, name...)
	b = append(b, '\n')
	b = binary.LittleEndian.AppendUint64(b, uint64(len(value)))
	b = append(b, value...)
	return string(append(b, '\n'))
}

func fs(kv ...string) []event.Field {
	var f []event.Field
	for i := 0; i+1 < len(kv); i += 2 {
		f = append(f, event.Field{Name: kv[i], Value: kv[i+1]})
	}
	return f
}

func readAll(in string) ([][]event.Field, error) {
	r := NewReader(strings.NewReader(in))
	var entries [][]event.Field
	for {
		e, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return entries, nil
			}
			return entries, err
		}
		entries = append(entries, e)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    [][]event.Field
		wantErr error // matched with errors.Is; nil: no error
	}{
		{name: "empty", in: ""},
		{name: "only blank lines", in: "\n\n\n"},
		{name: "one text entry", in: "__CURSOR=s=1\nMESSAGE=hello world\nPRIORITY=6\n\n",
			want: [][]event.Field{fs("__CURSOR", "s=1", "MESSAGE", "hello world", "PRIORITY", "6")}},
		{name: "value with =", in: "MESSAGE=a=b==c\n\n", want: [][]event.Field{fs("MESSAGE", "a=b==c")}},
		{name: "empty value", in: "MESSAGE=\n\n", want: [][]event.Field{fs("MESSAGE", "")}},
		{name: "two entries and blank lines between", in: "\nA=1\n\n\n\nB=2\nB=3\n\n",
			want: [][]event.Field{fs("A", "1"), fs("B", "2", "B", "3")}},
		{name: "binary field", in: "A=1\n" + bin("MESSAGE", "line1\nline2\x00\xff") + "B=2\n\n",
			want: [][]event.Field{fs("A", "1", "MESSAGE", "line1\nline2\x00\xff", "B", "2")}},
		{name: "binary field holding an empty line", in: bin("MESSAGE", "\n\n") + "\n",
			want: [][]event.Field{fs("MESSAGE", "\n\n")}},
		{name: "empty binary field", in: bin("MESSAGE", "") + "\n", want: [][]event.Field{fs("MESSAGE", "")}},
		{name: "entry cut before its end", in: "A=1\n\nB=2\n", want: [][]event.Field{fs("A", "1")}, wantErr: io.ErrUnexpectedEOF},
		{name: "line cut", in: "A=1\n\nB=2", want: [][]event.Field{fs("A", "1")}, wantErr: io.ErrUnexpectedEOF},
		{name: "binary length cut", in: "MESSAGE\n\x05\x00", wantErr: io.ErrUnexpectedEOF},
		{name: "binary value cut", in: "MESSAGE\n\x05\x00\x00\x00\x00\x00\x00\x00ab", wantErr: io.ErrUnexpectedEOF},
		{name: "binary without its newline", in: "MESSAGE\n\x02\x00\x00\x00\x00\x00\x00\x00abX\n", wantErr: errFormat},
		{name: "binary too large", in: "MESSAGE\n\xff\xff\xff\xff\xff\xff\xff\xff", wantErr: errFormat},
		{name: "empty name", in: "=x\n\n", wantErr: errFormat},
		{name: "long text line", in: "MESSAGE=" + strings.Repeat("x", 200<<10) + "\n\n",
			want: [][]event.Field{fs("MESSAGE", strings.Repeat("x", 200<<10))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(tc.in)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("got error %v, want %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAppendExport(t *testing.T) {
	tests := []struct {
		name   string
		fields []event.Field
		want   string
	}{
		{name: "text", fields: fs("A", "1", "MESSAGE", "hi\tthere"), want: "A=1\nMESSAGE=hi\tthere\n\n"},
		{name: "newline is binary", fields: fs("MESSAGE", "a\nb"), want: bin("MESSAGE", "a\nb") + "\n"},
		{name: "invalid UTF-8 is binary", fields: fs("MESSAGE", "\xff"), want: bin("MESSAGE", "\xff") + "\n"},
		{name: "UTF-8 is text", fields: fs("MESSAGE", "héllo"), want: "MESSAGE=héllo\n\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendExport(nil, tc.fields)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzExport checks the export parser. Invariants:
//   - Reader never panics, whatever the input, and every read ends;
//   - the entries it reads, written again with AppendExport, read back
//     the same;
//   - an entry list built from the input (names from a fixed set, values
//     from the input's bytes, so binary values too), written with
//     AppendExport and, for half the fields, in the binary form whatever
//     the value, reads back the same.
func FuzzExport(f *testing.F) {
	f.Add([]byte("__CURSOR=s=1\nMESSAGE=hello\n\n"))
	f.Add([]byte("A=1\n" + bin("MESSAGE", "a\nb\x00") + "\n\nB=2\n\n"))
	f.Add([]byte("MESSAGE\n\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Add([]byte("MESSAGE\n\x01\x00\x00\x00\x00\x00\x00\x00\n\n\n"))
	f.Add([]byte("=\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _ := readAll(string(data))
		var out []byte
		for _, e := range got {
			out = AppendExport(out, e)
		}
		again, err := readAll(string(out))
		if err != nil || !reflect.DeepEqual(got, again) {
			t.Fatalf("re-read: got %q (%v), want %q", again, err, got)
		}

		entries := build(data)
		out = out[:0]
		for i, e := range entries {
			if i%2 == 1 {
				for _, fl := range e {
					out = appendBinary(out, fl)
				}
				out = append(out, '\n')
				continue
			}
			out = AppendExport(out, e)
		}
		back, err := readAll(string(out))
		if err != nil || !reflect.DeepEqual(back, entries) {
			t.Fatalf("round trip: got %q (%v), want %q", back, err, entries)
		}
	})
}

// build makes a list of entries from data: 0x00 ends a value, 0x01 ends an
// entry; names cycle through a fixed set.
func build(data []byte) [][]event.Field {
	names := []string{"MESSAGE", "__CURSOR", "_SYSTEMD_UNIT", "PRIORITY", "X"}
	var entries [][]event.Field
	var cur []event.Field
	for i, chunk := range bytes.Split(data, []byte{1}) {
		for j, v := range bytes.Split(chunk, []byte{0}) {
			cur = append(cur, event.Field{Name: names[(i+j)%len(names)], Value: string(v)})
		}
		entries = append(entries, cur)
		cur = nil
	}
	return entries
}
