package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestHTTPSink posts NDJSON, a gzipped JSON array of sluiced-style events
// (the line in "raw") and a duplicate, and checks the oracle's verdict and
// the receive times.
func TestHTTPSink(t *testing.T) {
	st := NewStamps(6)
	s, err := StartSink(SinkHTTP, NewTally(6, st))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	post := func(body []byte, gz bool) {
		t.Helper()
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(body)
			zw.Close()
			body = b.Bytes()
		}
		req, _ := http.NewRequest(http.MethodPost, s.URL(), bytes.NewReader(body))
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %s", resp.Status)
		}
	}
	post([]byte("{\"msg\":\"seq=0000000000 a\"}\n{\"msg\":\"seq=0000000001 b\"}"), false)
	post([]byte(`[{"raw":"{\"msg\":\"seq=0000000003 c\"}","fields":{"msg":"seq=0000000003 c"}}, {"raw":"seq=0000000002"}]`), true)
	post([]byte("seq=0000000001 again\n"), false)
	s.Drain(time.Second)
	v := s.Tally.Verdict()
	want := Verdict{Lines: 5, Missing: 2, Duplicates: 1, Reordered: 2, Bytes: v.Bytes}
	if v != want {
		t.Fatalf("verdict %+v, want %+v", v, want)
	}
	if st.Recv[0] == 0 || st.Recv[3] == 0 || st.Recv[4] != 0 {
		t.Fatalf("receive times %v", st.Recv)
	}
}

// TestTCPSink sends lines over two connections, one line split across
// writes and a last line without its newline.
func TestTCPSink(t *testing.T) {
	s, err := StartSink(SinkTCP, NewTally(4, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, parts := range [][]string{{"seq=0000000000\nseq=00000", "00001\n"}, {"seq=0000000002\nseq=0000000003"}} {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			fmt.Fprint(c, p)
			time.Sleep(10 * time.Millisecond)
		}
		c.Close()
	}
	s.Drain(time.Second)
	if v := s.Tally.Verdict(); v.Lines != 4 || v.Missing != 0 || v.Duplicates != 0 || v.NoSeq != 0 {
		t.Fatalf("verdict %+v", v)
	}
}

func TestLatency(t *testing.T) {
	st := &Stamps{Sent: make([]int64, 1000), Recv: make([]int64, 1000)}
	for i := range st.Sent {
		st.Sent[i], st.Recv[i] = 1, 1+int64(i+1)*int64(time.Microsecond)
	}
	st.Recv[999] = 0 // never received
	l := st.Latency()
	if l.N != 999 || l.P50 != 500*time.Microsecond || l.P99 != 990*time.Microsecond || l.Max != 999*time.Microsecond || l.LateP99 != 0 {
		t.Fatalf("%+v", l)
	}
	// Paced: each line sent 2 µs after it was due, the last 100 µs.
	st.Due = make([]int64, 1000)
	for i := range st.Due {
		st.Sent[i] = 1000 + int64(i)*100 + 2000
		st.Due[i] = 1000 + int64(i)*100
	}
	st.Sent[999] += 98000
	if l := st.Latency(); l.LateP99 != 2*time.Microsecond {
		t.Fatalf("generator late p99 %v, want 2µs", l.LateP99)
	}
}

// TestPaced sends 2000 frames at 100k/s: every frame is sent once, in
// order, never before it is due, each stamped.
func TestPaced(t *testing.T) {
	st := NewStamps(2000)
	next := 0
	err := paced(0, 2000, 100_000, st, func(i, j int) error {
		if i != next || j <= i {
			t.Fatalf("send(%d, %d) after frames up to %d", i, j, next)
		}
		next = j
		return nil
	})
	if err != nil || next != 2000 {
		t.Fatalf("paced: %v, sent %d of 2000", err, next)
	}
	for i := range st.Sent {
		if st.Sent[i] == 0 || st.Due[i] == 0 || st.Sent[i] < st.Due[i] {
			t.Fatalf("frame %d: sent at %d, due at %d", i, st.Sent[i], st.Due[i])
		}
	}
}
