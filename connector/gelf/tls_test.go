package gelf_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/gelf"
	"github.com/sluicehq/sluice/connector/gelf/gelftest"
	"github.com/sluicehq/sluice/internal/brokertest"
)

// tlsServer starts a GELF input whose TCP listener takes TLS with a new
// self-signed certificate for 127.0.0.1, and returns it with the
// certificate's file (its own CA).
func tlsServer(t *testing.T) (*gelftest.Server, string) {
	t.Helper()
	certFile, keyFile := brokertest.SelfSigned(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gelftest.NewTLS(t.Cleanup, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	return s, certFile
}

// TestTLS sends over TLS to a real TLS listener: with its CA the messages
// arrive; with another CA every handshake fails, is counted as a failed
// dial and retried while the events wait unacked, and a stop then reports
// them undelivered; with a CA file that cannot be read Run fails at
// start, naming it.
func TestTLS(t *testing.T) {
	s, caFile := tlsServer(t)
	testBatch := batch.Config{Count: 10, Age: 5 * time.Millisecond, StopTimeout: 200 * time.Millisecond, Retry: fastRetry}

	t.Run("trusted", func(t *testing.T) {
		d, err := gelf.New(gelf.Config{ServiceAddr: s.TCPAddr, Network: "tcp", TLS: &gelf.TLSConfig{CAFile: caFile}, Batch: testBatch})
		if err != nil {
			t.Fatal(err)
		}
		run(t, d)
		send(t, d, ev("over tls 1"), ev("over tls 2"))
		got := waitMessages(t, s, 2)
		if got[0].String("short_message") != "over tls 1" || got[1].String("short_message") != "over tls 2" {
			t.Errorf("got %v", got)
		}
	})

	t.Run("unknown authority", func(t *testing.T) {
		otherCA, _ := brokertest.SelfSigned(t, t.TempDir())
		before := len(s.Messages())
		var mu sync.Mutex
		var causes []string
		d, err := gelf.New(gelf.Config{ServiceAddr: s.TCPAddr, Network: "tcp", TLS: &gelf.TLSConfig{CAFile: otherCA}, Batch: testBatch},
			gelf.WithHooks(gelf.Hooks{Failed: func(c string) { mu.Lock(); causes = append(causes, c); mu.Unlock() }}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		acked := make(chan struct{})
		if err := d.Send(ctx, func() { close(acked) }, ev("never trusted")); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(causes)
			mu.Unlock()
			if n >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d failed dials counted, want the handshake retried", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		err = <-done
		select {
		case <-acked:
			t.Error("acked an event no trusted server took")
		default:
		}
		if !errors.Is(err, sluice.ErrUndelivered) {
			t.Errorf("Run = %v, want ErrUndelivered", err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, c := range causes {
			if c != "dial" {
				t.Errorf("cause %q, want dial", c)
			}
		}
		if n := len(s.Messages()); n != before {
			t.Errorf("the server got %d messages from an untrusted connection", n-before)
		}
	})

	t.Run("unreadable CA file", func(t *testing.T) {
		missing := t.TempDir() + "/nope.pem"
		d, err := gelf.New(gelf.Config{ServiceAddr: s.TCPAddr, Network: "tcp", TLS: &gelf.TLSConfig{CAFile: missing}, Batch: testBatch})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Run(ctx); err == nil || !strings.Contains(err.Error(), missing) || ctx.Err() != nil {
			t.Errorf("Run = %v, want a failure at start naming %s", err, missing)
		}
	})
}
