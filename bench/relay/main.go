// Command relay is the naive Go relay of the benchmark harness: the
// ceiling for framework overhead. Over TCP it accepts connections and
// copies each line (split by bufio.Scanner) to a buffered file; over UDP
// it reads datagrams with recvmmsg(2) (golang.org/x/net/ipv4 ReadBatch)
// and writes each as a line. It does no parsing.
//
//	relay -network tcp -addr 127.0.0.1:6000 -out /dev/shm/out.log
package main

import (
	"bufio"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

func main() {
	network := flag.String("network", "tcp", `"tcp" or "udp"`)
	addr := flag.String("addr", "127.0.0.1:6000", "address to listen on")
	out := flag.String("out", "", "file to append to")
	flag.Parse()
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	w := &syncWriter{w: bufio.NewWriterSize(f, 256<<10)}
	go w.flushEvery(20 * time.Millisecond)
	switch *network {
	case "tcp":
		err = serveTCP(*addr, w)
	case "udp":
		err = serveUDP(*addr, w)
	default:
		log.Fatalf("unknown network %q", *network)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// syncWriter is a buffered writer shared by the connections.
type syncWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

// writeLines writes lines, each followed by '\n', in one critical section.
func (s *syncWriter) writeLines(lines ...[]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range lines {
		s.w.Write(l)
		s.w.WriteByte('\n')
	}
}

func (s *syncWriter) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Flush(); err != nil {
		log.Fatal(err)
	}
}

// flushEvery flushes the buffer periodically, so that an idle relay
// holds nothing back, and on SIGTERM before exiting.
func (s *syncWriter) flushEvery(d time.Duration) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	t := time.NewTicker(d)
	for {
		select {
		case <-t.C:
			s.flush()
		case <-sig:
			s.flush()
			os.Exit(0)
		}
	}
}

func serveTCP(addr string, w *syncWriter) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 256<<10), 1<<20)
			for sc.Scan() {
				w.writeLines(sc.Bytes())
			}
			w.flush()
		}()
	}
}

func serveUDP(addr string, w *syncWriter) error {
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return err
	}
	_ = c.(*net.UDPConn).SetReadBuffer(4 << 20)
	pc := ipv4.NewPacketConn(c)
	msgs := make([]ipv4.Message, 64)
	lines := make([][]byte, len(msgs))
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 64<<10)}
	}
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			return err
		}
		for i := range n {
			lines[i] = msgs[i].Buffers[0][:msgs[i].N]
		}
		w.writeLines(lines[:n]...)
	}
}
