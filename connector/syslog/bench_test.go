//go:build unix

package syslog_test

import (
	"bytes"
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
	var load bytes.Buffer
	for i := range 4096 {
		fmt.Fprintf(&load, "<34>1 2026-12-06T13:45:00.123456Z host%d app 1234 ID47 [ex@32473 a=\"1\"] seq=%010d some message text of a typical length for a log line\n", i%7, i)
	}
	lines := bytes.Count(load.Bytes(), []byte("\n"))
	for _, format := range []string{"none", "auto"} {
		b.Run("format="+format, func(b *testing.B) {
			s, addrs := start(b, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", Format: format})
			c, err := net.Dial("tcp", addrs[0].String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := b.Context()
			msgs := make([]sluice.Message[event.Event], sluice.RecvBatchSize)
			acks := make([]func(), len(msgs))
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
				n, err := s.RecvBatch(ctx, msgs, acks)
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
		})
	}
}

// BenchmarkTCPRecvLines is BenchmarkTCPRecvBatch for a source in lines
// mode (format none, UseLines): the passthrough path, runs of lines
// received with RecvLines. Its figures are per line, as there.
func BenchmarkTCPRecvLines(b *testing.B) {
	var load bytes.Buffer
	for i := range 4096 {
		fmt.Fprintf(&load, "<34>1 2026-12-06T13:45:00.123456Z host%d app 1234 ID47 [ex@32473 a=\"1\"] seq=%010d some message text of a typical length for a log line\n", i%7, i)
	}
	lines := bytes.Count(load.Bytes(), []byte("\n"))
	s, addrs := startLines(b, syslog.Config{Addr: "127.0.0.1:0", Network: "tcp", Format: "none"})
	c, err := net.Dial("tcp", addrs[0].String())
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
	var l event.Lines
	for got := 0; got < total; {
		if _, err := s.RecvLines(ctx, &l); err != nil {
			b.Fatal(err)
		}
		got += l.Len()
	}
	b.StopTimer()
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
}
