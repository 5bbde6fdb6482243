//go:build unix

package syslog_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/cputime"
)

// BenchmarkTCPRecvBatch measures the source's cost per event, from the
// socket to a processor's slice: one TCP connection of RFC 5424 lines,
// received with RecvBatch 256 at a time (the Processor's size), unparsed
// (format none: the passthrough case) and parsed. allocs/op and B/op are
// per event, and so is cpu-ns/op, the process's CPU time (the sender's
// included): on a shared machine it moves less than ns/op.
func BenchmarkTCPRecvBatch(b *testing.B) {
	for _, format := range []string{"none", "auto"} {
		b.Run("format="+format, func(b *testing.B) {
			s, addrs := start(b, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", Format: format})
			msgs := make([]sluice.Message[event.Event], sluice.RecvBatchSize)
			acks := make([]func(), len(msgs))
			benchTCP(b, addrs[0].String(), func(ctx context.Context) (int, error) { return s.RecvBatch(ctx, msgs, acks) })
		})
	}
}

// BenchmarkTCPRecvLines is BenchmarkTCPRecvBatch for a source in lines
// mode (format none, UseLines): the passthrough path, runs of lines
// received with RecvLines. Its figures are per line, as there.
func BenchmarkTCPRecvLines(b *testing.B) {
	s, addrs := startLines(b, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", Format: "none"})
	var l event.Lines
	benchTCP(b, addrs[0].String(), func(ctx context.Context) (int, error) {
		_, err := s.RecvLines(ctx, &l)
		return l.Len(), err
	})
}

// benchTCP sends b.N RFC 5424 lines (rounded up to whole loads of 4,096)
// over one TCP connection to addr while recv, which returns how many
// lines it took, receives them all; it reports the process's CPU time
// per line as cpu-ns/op.
func benchTCP(b *testing.B, addr string, recv func(context.Context) (int, error)) {
	var load bytes.Buffer
	for i := range 4096 {
		fmt.Fprintf(&load, "<34>1 2026-12-06T13:45:00.123456Z host%d app 1234 ID47 [ex@32473 a=\"1\"] seq=%010d some message text of a typical length for a log line\n", i%7, i)
	}
	lines := bytes.Count(load.Bytes(), []byte("\n"))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := b.Context()
	sent := make(chan error, 1)
	b.SetBytes(int64(load.Len() / lines))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	go func() {
		var err error
		for n := 0; n < b.N && err == nil; n += lines {
			_, err = c.Write(load.Bytes())
		}
		sent <- err
	}()
	total := (b.N + lines - 1) / lines * lines
	for got := 0; got < total; {
		n, err := recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		got += n
	}
	b.StopTimer()
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
}
