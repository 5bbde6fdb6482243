// Package gelftest is an in-process Graylog GELF input for tests, UDP and
// TCP, written to the GELF 1.1 specification and Graylog's inputs:
//
//   - UDP: a datagram is a whole message, or a chunk: magic bytes 0x1e
//     0x0f, an 8-byte message id, a sequence number and a count (1 to
//     128). Chunks are reassembled by id in sequence order; a message
//     whose chunks do not all arrive within 5 seconds is dropped, as
//     Graylog does. A message is gzip (starting 0x1f 0x8b), zlib (0x78)
//     or plain JSON.
//   - TCP: messages separated by a NUL byte, uncompressed, at most 2 MiB
//     each (Graylog's default max_message_size); TLS with [NewTLS].
//   - Every message must be a JSON object with "version" "1.1", a
//     non-empty "host" and "short_message", a numeric "timestamp" and
//     "level" if present, and additional fields named "_" and
//     [A-Za-z0-9_.-] other than "_id". Others are counted as rejected
//     with the reason, as Graylog logs and drops them.
//   - After the object only JSON whitespace may follow (a UDP datagram
//     may end in padding spaces). This is stricter than Graylog, whose
//     JSON parser ignores what follows the object, so that a sender's
//     padding is checked to be whitespace.
package gelftest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"sync"
	"time"
)

// Limits of Graylog's GELF inputs.
const (
	MaxChunks      = 128
	ChunkTimeout   = 5 * time.Second
	MaxMessageSize = 2 << 20
)

// Message is a decoded GELF message.
type Message map[string]any

// String returns the value of a string field, or "".
func (m Message) String(key string) string {
	s, _ := m[key].(string)
	return s
}

// Server is a running GELF input on 127.0.0.1. Its methods are safe for
// concurrent use.
type Server struct {
	// UDPAddr and TCPAddr are the addresses it listens on.
	UDPAddr, TCPAddr string

	udp *net.UDPConn
	tcp net.Listener
	wg  sync.WaitGroup

	mu       sync.Mutex
	msgs     []Message
	rejected []string
	chunks   map[[8]byte]*partial
	expired  int
	onMsg    func()
	forward  func(Message)
	conns    map[net.Conn]bool
}

type partial struct {
	count int
	parts [][]byte
	have  int
	first time.Time
}

// New starts a Server; it is closed by cleanup.
func New(cleanup func(func())) (*Server, error) { return NewTLS(cleanup, nil) }

// NewTLS starts a Server whose TCP input takes TLS with tc, as Graylog's
// GELF TCP input does with tls_enable (nil: plain TCP); it is closed by
// cleanup.
func NewTLS(cleanup func(func()), tc *tls.Config) (*Server, error) {
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	_ = u.SetReadBuffer(8 << 20)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		u.Close()
		return nil, err
	}
	if tc != nil {
		l = tls.NewListener(l, tc)
	}
	s := &Server{UDPAddr: u.LocalAddr().String(), TCPAddr: l.Addr().String(), udp: u, tcp: l,
		chunks: map[[8]byte]*partial{}, conns: map[net.Conn]bool{}}
	s.wg.Add(2)
	go s.readUDP()
	go s.accept()
	cleanup(s.Close)
	return s, nil
}

// Close stops the listeners and closes the connections, and waits for
// the goroutines.
func (s *Server) Close() {
	s.udp.Close()
	s.tcp.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Messages returns the messages received, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Rejected returns the reasons of the messages rejected.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

// Incomplete returns how many chunked messages are waiting for chunks,
// or were dropped for want of them.
func (s *Server) Incomplete() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.chunks) + s.expired
}

// OnNextMessage calls f once, from the receiving goroutine, after the
// next message is stored.
func (s *Server) OnNextMessage(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onMsg = f
}

// Forward calls f with every message stored from now on, from the
// receiving goroutine, outside the server's lock.
func (s *Server) Forward(f func(Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forward = f
}

func (s *Server) readUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, _, err := s.udp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		s.datagram(append([]byte(nil), buf[:n]...))
	}
}

func (s *Server) datagram(b []byte) {
	if len(b) < 2 || b[0] != 0x1e || b[1] != 0x0f {
		s.message(b, true)
		return
	}
	if len(b) < 12 {
		s.reject("chunk shorter than its header")
		return
	}
	var id [8]byte
	copy(id[:], b[2:10])
	seq, count := int(b[10]), int(b[11])
	if count < 1 || count > MaxChunks || seq >= count {
		s.reject(fmt.Sprintf("chunk %d of %d: want a count of 1 to %d", seq, count, MaxChunks))
		return
	}
	s.mu.Lock()
	now := time.Now()
	for k, p := range s.chunks {
		if now.Sub(p.first) > ChunkTimeout {
			delete(s.chunks, k)
			s.expired++
		}
	}
	p := s.chunks[id]
	if p == nil {
		p = &partial{count: count, parts: make([][]byte, count), first: now}
		s.chunks[id] = p
	}
	if p.count != count {
		s.mu.Unlock()
		s.reject("chunks of one message disagree on the count")
		return
	}
	if p.parts[seq] == nil {
		p.parts[seq] = b[12:]
		p.have++
	}
	if p.have < p.count {
		s.mu.Unlock()
		return
	}
	delete(s.chunks, id)
	s.mu.Unlock()
	s.message(bytes.Join(p.parts, nil), true)
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.readTCP(c)
	}
}

func (s *Server) readTCP(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReader(c)
	for {
		frame, err := r.ReadSlice(0)
		if errors.Is(err, bufio.ErrBufferFull) {
			// A frame longer than the buffer: gather it.
			big := append([]byte(nil), frame...)
			for errors.Is(err, bufio.ErrBufferFull) && len(big) <= MaxMessageSize {
				frame, err = r.ReadSlice(0)
				big = append(big, frame...)
			}
			frame = big
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return // a frame cut by the end of the connection is not a message
		}
		if len(frame) > MaxMessageSize+1 {
			s.reject(fmt.Sprintf("TCP message over %d bytes", MaxMessageSize))
			return
		}
		s.message(append([]byte(nil), frame[:len(frame)-1]...), false)
	}
}

var fieldName = regexp.MustCompile(`^_[\w.\-]*$`)

// message decodes (if compressed, over UDP) and checks one message.
func (s *Server) message(b []byte, udp bool) {
	if udp && len(b) >= 2 {
		var zr io.ReadCloser
		var err error
		switch {
		case b[0] == 0x1f && b[1] == 0x8b:
			zr, err = gzip.NewReader(bytes.NewReader(b))
		case b[0] == 0x78 && binary.BigEndian.Uint16(b)%31 == 0:
			zr, err = zlib.NewReader(bytes.NewReader(b))
		}
		if err != nil {
			s.reject("bad compressed message: " + err.Error())
			return
		}
		if zr != nil {
			b, err = io.ReadAll(io.LimitReader(zr, MaxMessageSize+1))
			if err != nil {
				s.reject("bad compressed message: " + err.Error())
				return
			}
		}
	}
	var m Message
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		s.reject("not a JSON object: " + err.Error())
		return
	}
	if rest := b[d.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) > 0 {
		s.reject(fmt.Sprintf("%d bytes after the JSON object, not all JSON whitespace", len(rest)))
		return
	}
	if reason := check(m); reason != "" {
		s.reject(reason)
		return
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	f, fwd := s.onMsg, s.forward
	s.onMsg = nil
	s.mu.Unlock()
	if fwd != nil {
		fwd(m)
	}
	if f != nil {
		f()
	}
}

func check(m Message) string {
	if m["version"] != "1.1" {
		return fmt.Sprintf("version %v, want 1.1", m["version"])
	}
	if m.String("host") == "" {
		return "no host"
	}
	if m.String("short_message") == "" {
		return "no short_message"
	}
	for _, k := range []string{"timestamp", "level"} {
		if v, ok := m[k]; ok {
			if _, ok := v.(json.Number); !ok {
				return k + " is not a number"
			}
		}
	}
	for k := range m {
		switch k {
		case "version", "host", "short_message", "full_message", "timestamp", "level", "facility", "line", "file":
			continue
		}
		if !fieldName.MatchString(k) || k == "_id" {
			return fmt.Sprintf("field %q: additional fields are _[A-Za-z0-9_.-]*, not _id", k)
		}
	}
	return ""
}

func (s *Server) reject(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected = append(s.rejected, reason)
}
