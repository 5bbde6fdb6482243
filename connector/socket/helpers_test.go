package socket_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/syslog/framing"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/retry"
)

// fastRetry keeps failure tests short.
var fastRetry = retry.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}

func ev(s string) sluice.Message[event.Event] {
	return sluice.Message[event.Event]{Value: event.Event{Raw: []byte(s), SourceType: "test"}}
}

// receiver is a TCP (or TLS) server that reads frames from every
// connection with the syslog source's framing reader and records them.
type receiver struct {
	ln   net.Listener
	wg   sync.WaitGroup
	once sync.Once
	// readBuffer, if set, is the SO_RCVBUF of accepted connections: a
	// small one stops the kernel from taking in a large write whole.
	readBuffer int
	// onConn, if set, is called with each accepted connection's index
	// (from 0) and decides how many frames to read from it before closing
	// it (with unread data, so with a reset); -1 reads them all.
	onConn func(i int) int
	// onFrame, if set, is called with each frame, in the reading goroutine.
	onFrame func(string)

	mu       sync.Mutex
	frames   []string
	conns    map[net.Conn]struct{}
	accepted int
	errs     []error
}

// listen starts a receiver on addr ("127.0.0.1:0" for any port), TLS if
// tc is set, after calling setup on it; it stops when the test ends.
func listen(t *testing.T, addr string, tc *tls.Config, setup ...func(*receiver)) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	r := &receiver{ln: ln, conns: map[net.Conn]struct{}{}}
	for _, f := range setup {
		f(r)
	}
	r.wg.Go(r.accept)
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) addr() string { return r.ln.Addr().String() }

func (r *receiver) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok && r.readBuffer > 0 {
			_ = tc.SetReadBuffer(r.readBuffer)
		}
		r.mu.Lock()
		i := r.accepted
		r.accepted++
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		limit := -1
		if r.onConn != nil {
			limit = r.onConn(i)
		}
		r.wg.Go(func() { r.read(c, limit) })
	}
}

// read records the frames of c, up to limit of them if limit >= 0.
func (r *receiver) read(c net.Conn, limit int) {
	defer func() {
		_ = c.Close()
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
	}()
	z := framing.NewReader(c, 1<<20)
	for n := 0; limit < 0 || n < limit; n++ {
		msg, truncated, err := z.Next()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !isEOF(err) {
				r.mu.Lock()
				r.errs = append(r.errs, err)
				r.mu.Unlock()
			}
			return
		}
		if truncated {
			r.mu.Lock()
			r.errs = append(r.errs, errors.New("truncated frame"))
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.frames = append(r.frames, string(msg))
		r.mu.Unlock()
		if r.onFrame != nil {
			r.onFrame(string(msg))
		}
	}
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

// closeConns closes the connections accepted so far, with a reset if rst.
func (r *receiver) closeConns(rst bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		if rst {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
		_ = c.Close()
	}
}

// stop closes the listener and every connection, and waits for the
// goroutines.
func (r *receiver) stop() {
	r.once.Do(func() {
		_ = r.ln.Close()
		r.closeConns(false)
		r.wg.Wait()
	})
}

// got returns the frames received so far, and the connections accepted.
func (r *receiver) got() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.frames...), r.accepted
}

// check reports framing errors the receiver met.
func (r *receiver) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		t.Errorf("receiver: %v", err)
	}
}

// waitFrames waits until the receiver holds at least n frames.
func (r *receiver) waitFrames(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	waitFor(t, 10*time.Second, func() bool {
		got, _ = r.got()
		return len(got) >= n
	})
	return got
}

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// run runs d until the test ends, or until the returned stop is called,
// which returns Run's error.
func run(t *testing.T, d sluice.Runner) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// causes records the Failed hook's causes.
type causes struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *causes) add(cause string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[cause]++
}

func (c *causes) get(cause string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[cause]
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and
// "receiver.test" to dir and returns the server's TLS config and the
// certificate file, to use as caFile.
func selfSigned(t *testing.T, dir string) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "receiver.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"receiver.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, caFile
}
