// Command relay is the naive Go relay of the benchmark harness: the
// ceiling for framework overhead. Over TCP it accepts connections and
// copies each line (split by bufio.Scanner) to a buffered file; over UDP
// it reads datagrams with recvmmsg(2) (golang.org/x/net/ipv4 ReadBatch)
// and writes each as a line. It does no parsing. With -out tcp://HOST:PORT
// it writes the lines to one TCP connection instead of a file. With
// -network http it takes POSTs and sends each body unchanged to the -out
// URL (keep-alive connections), answering with the status it got.
//
//	relay -network tcp -addr 127.0.0.1:6000 -out /dev/shm/out.log
//	relay -network tcp -addr 127.0.0.1:6000 -out tcp://127.0.0.1:7000
//	relay -network http -addr 127.0.0.1:6000 -out http://127.0.0.1:7000/
package main

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

func main() {
	network := flag.String("network", "tcp", `"tcp" or "udp"`)
	addr := flag.String("addr", "127.0.0.1:6000", "address to listen on")
	out := flag.String("out", "", "file to append to, tcp://HOST:PORT, or (-network http) the URL to POST to")
	flag.Parse()
	if *network == "http" {
		log.Fatal(serveHTTP(*addr, *out))
	}
	var f io.Writer
	var err error
	if hostPort, ok := strings.CutPrefix(*out, "tcp://"); ok {
		f, err = net.Dial("tcp", hostPort)
	} else {
		f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	}
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

// serveHTTP forwards every POST body, with its Content-Type and
// Content-Encoding, to url and answers with the status it got.
func serveHTTP(addr, url string) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	h := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, k := range []string{"Content-Type", "Content-Encoding"} {
			if v := r.Header.Get(k); v != "" {
				req.Header.Set(k, v)
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	}
	return http.ListenAndServe(addr, http.HandlerFunc(h))
}

func serveUDP(addr string, w *syncWriter) error {
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return err
	}
	readBuffer(c.(*net.UDPConn), 16<<20) // as sluiced's default
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
