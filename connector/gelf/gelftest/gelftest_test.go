package gelftest

import (
	"net"
	"testing"
	"time"
)

// TestTrailingBytes checks what may follow a UDP message's JSON object:
// JSON whitespace (a sender's padding) is accepted, anything else
// rejected.
func TestTrailingBytes(t *testing.T) {
	const msg = `{"version":"1.1","host":"h","short_message":"m","timestamp":1}`
	for _, tc := range []struct {
		name, after string
		ok          bool
	}{
		{"nothing", "", true},
		{"spaces", "        ", true},
		{"JSON whitespace", " \t\r\n ", true},
		{"a letter", "   x", false},
		{"a second object", `{"version":"1.1"}`, false},
		{"a NUL", "\x00", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(t.Cleanup)
			if err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("udp", s.UDPAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte(msg + tc.after)); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for len(s.Messages())+len(s.Rejected()) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the datagram was neither taken nor rejected")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if got := len(s.Messages()) == 1; got != tc.ok {
				t.Errorf("accepted: %t, want %t (rejected: %q)", got, tc.ok, s.Rejected())
			}
		})
	}
}
