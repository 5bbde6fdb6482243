package gelf

import (
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchWriter sends datagrams on a connected UDP socket, many per system
// call where the platform has sendmmsg.
type batchWriter struct {
	c    net.Conn
	p4   *ipv4.PacketConn
	p6   *ipv6.PacketConn
	msgs []ipv4.Message // ipv6.Message is the same type
}

func newBatchWriter(c net.Conn) *batchWriter {
	w := &batchWriter{c: c}
	if pc, ok := c.(net.PacketConn); ok {
		if a, ok := c.RemoteAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
			w.p6 = ipv6.NewPacketConn(pc)
		} else {
			w.p4 = ipv4.NewPacketConn(pc)
		}
	}
	return w
}

// write sends the datagrams of b (datagram k ends at ends[k]) and
// returns how many were sent before an error.
func (w *batchWriter) write(b []byte, ends []int) (int, error) {
	w.msgs = w.msgs[:0]
	from := 0
	for _, e := range ends {
		w.msgs = append(w.msgs, ipv4.Message{Buffers: [][]byte{b[from:e]}})
		from = e
	}
	sent := 0
	for sent < len(w.msgs) {
		var n int
		var err error
		switch {
		case w.p4 != nil:
			n, err = w.p4.WriteBatch(w.msgs[sent:], 0)
		case w.p6 != nil:
			n, err = w.p6.WriteBatch(w.msgs[sent:], 0)
		default:
			_, err = w.c.Write(w.msgs[sent].Buffers[0])
			n = 1
		}
		if err != nil {
			return sent, err
		}
		sent += n
	}
	return sent, nil
}
