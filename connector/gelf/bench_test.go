package gelf_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/connector/gelf"
	"github.com/sluicehq/sluice/event"
)

// BenchmarkPerEvent sends 250-byte events, 100 per Send, through the
// destination's Run until every Send is acked, beside the file
// destination (fsync per batch, its default) doing the same: one op is
// one event. It reports the process's CPU time per event (the in-process
// receivers discard what they read).
func BenchmarkPerEvent(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer u.Close()
	_ = u.SetReadBuffer(8 << 20)
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := u.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	b.Run("file", func(b *testing.B) {
		d, err := file.New(file.Config{Path: filepath.Join(b.TempDir(), "out.ndjson")})
		if err != nil {
			b.Fatal(err)
		}
		perEvent(b, d)
	})
	for _, tc := range []struct{ name, network, addr, comp string }{
		{"gelf/tcp", "tcp", l.Addr().String(), ""},
		{"gelf/udp", "udp", u.LocalAddr().String(), "auto"},
		{"gelf/udp+gzip", "udp", u.LocalAddr().String(), "gzip"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := gelf.New(gelf.Config{ServiceAddr: tc.addr, Network: tc.network, Compression: tc.comp})
			if err != nil {
				b.Fatal(err)
			}
			perEvent(b, d)
		})
	}
}

type runnerDestination interface {
	sluice.Destination[event.Event]
	sluice.Runner
}

func perEvent(b *testing.B, d runnerDestination) {
	const perSend = 100
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	msgs := make([]sluice.Message[event.Event], perSend)
	for i := range msgs {
		raw := bytes.Repeat([]byte("x"), 250)
		copy(raw, "<34>1 2026-11-24T23:00:00Z host app 1234 ID47 - user login failed for alice from 10.0.0."+strconv.Itoa(i))
		msgs[i].Value = event.Event{Time: at, ReceivedAt: at, Source: "bench", SourceType: "syslog", Host: "10.0.0.1", Raw: raw}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	sends := (b.N + perSend - 1) / perSend
	acked := make(chan struct{}, sends)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for range sends {
		if err := d.Send(ctx, func() { acked <- struct{}{} }, msgs...); err != nil {
			b.Fatal(err)
		}
	}
	for range sends {
		<-acked
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime) - syscall.TimevalToNsec(ru0.Utime) +
		syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Stime))
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(sends*perSend), "cpu-ns/event")
	b.ReportMetric(float64(sends*perSend)/b.Elapsed().Seconds(), "events/s")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
