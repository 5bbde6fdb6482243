// Package brokertest starts real brokers for tests: Debian's mosquitto
// and nats-server, each on a free loopback port with a generated config
// and its state in the test's temporary directory. A test whose broker is
// not installed skips, unless SLUICE_E2E=1 (as in CI), where it fails.
package brokertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/syncbuf"
)

// Need returns the path of program, looked up in PATH and in /usr/sbin,
// skipping the test if it is missing (failing it under SLUICE_E2E=1).
func Need(t testing.TB, program string) string {
	t.Helper()
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", program); isExec(p) {
		return p
	}
	if os.Getenv("SLUICE_E2E") == "1" {
		t.Fatalf("%s is not installed (SLUICE_E2E=1 requires it; apt-get install mosquitto mosquitto-clients nats-server)", program)
	}
	t.Skipf("%s is not installed; set SLUICE_E2E=1 to make this a failure", program)
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

// FreePort returns a TCP port free on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Broker is a broker process the test started.
type Broker struct {
	// Addr is host:port.
	Addr string
	// Dir holds its config, state and log.
	Dir  string
	args []string
	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{}
	log  syncbuf.Buffer
}

// Mosquitto starts mosquitto with persistence on, on a free port (or on
// port, if not 0), with extra lines appended to its config. The defaults
// set here are those docs/ask users to set: max_queued_messages 0 (no
// limit: mosquitto's default of 1000 drops the rest of what is published
// while sluiced is down) and max_inflight_messages 1000.
func Mosquitto(t testing.TB, port int, extra ...string) *Broker {
	t.Helper()
	bin := Need(t, "mosquitto")
	if port == 0 {
		port = FreePort(t)
	}
	dir := t.TempDir()
	conf := strings.Join(append([]string{
		fmt.Sprintf("listener %d 127.0.0.1", port),
		"allow_anonymous true",
		"persistence true",
		"persistence_location " + dir + "/",
		"autosave_interval 1",
		"max_queued_messages 0",
		"max_inflight_messages 1000",
		"user root",
		"log_dest stderr",
		"log_type error",
		"log_type warning",
	}, extra...), "\n") + "\n"
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &Broker{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, args: []string{bin, "-c", path}}
	b.Start(t)
	t.Cleanup(b.Stop)
	return b
}

// NATS starts Debian's nats-server with JetStream on a free port, its
// store in the test's directory.
func NATS(t testing.TB, extra ...string) *Broker {
	t.Helper()
	bin := Need(t, "nats-server")
	port := FreePort(t)
	dir := t.TempDir()
	b := &Broker{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir,
		args: append([]string{bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", dir}, extra...)}
	b.Start(t)
	t.Cleanup(b.Stop)
	return b
}

// Start starts the broker (again) and waits until it accepts connections.
func (b *Broker) Start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(b.args[0], b.args[1:]...)
	cmd.Stdout, cmd.Stderr = &b.log, &b.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.mu.Lock()
	b.cmd, b.done = cmd, done
	b.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", b.Addr)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited at start: %s", filepath.Base(b.args[0]), b.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within 10s: %s", filepath.Base(b.args[0]), b.Addr, b.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the broker with SIGTERM (it saves its state) and waits.
func (b *Broker) Stop() {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Log returns what the broker wrote to stdout and stderr.
func (b *Broker) Log() string { return b.log.String() }

// SelfSigned writes a certificate for 127.0.0.1, its own CA, and its key
// to dir.
func SelfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
