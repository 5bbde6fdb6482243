package gelf_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/gelf"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/event"
)

// The sender-only measurement: a process of its own, in a user and
// network namespace of its own, sends GELF over UDP to an address behind
// an ifb device. Each datagram goes through the kernel's whole transmit
// path (UDP, IP, the qdisc, segmentation) to the device's driver, which
// drops it: no receive path runs, as none runs on the sender's host in a
// deployment. An ifb device drops what it is handed that a tc redirect
// did not bring, and counts it as received and dropped; with
// gso_max_segs 1 the kernel cuts a segmented send into its datagrams in
// software before the driver, as for a card without UDP segmentation
// offload, so the driver's count is one per datagram.
const (
	senderEnv  = "GELF_BENCH_SENDER" // set in the child: its senderSpec as JSON
	senderDev  = "gelfb0"
	senderNet  = "10.99.0.1/24"
	senderPeer = "10.99.0.2:12201" // nothing there: the datagrams end at the device
	// frameHeader is what the device counts of a datagram besides its UDP
	// payload: Ethernet (14), IPv4 (20) and UDP (8) headers.
	frameHeader = 14 + 20 + 8
)

// senderSpec is what the child sends.
type senderSpec struct {
	Compression string
	ChunkSize   int
	Raw         int  // bytes of each event's raw line (padded events)
	Realistic   bool // send storetest.Realistic events instead (Raw unused)
	Offload     bool // leave segmentation to the device, which then counts a segmented send once
}

// senderResult is the child's answer to one round.
type senderResult struct {
	Cost      storetest.Cost
	Datagrams int64 // what the device was handed, equal to what was sent
	Bytes     int64 // their UDP payload bytes (padding included)
	WantBytes int64 // the same events' payload bytes as a receiver got them
	Error     string
}

// sender is the child process, ready for rounds.
type sender struct {
	stdin interface{ Write([]byte) (int, error) }
	out   *bufio.Reader
}

// startSender starts the child in namespaces of its own and waits until
// it is ready; it skips b where namespaces, ip or the ifb driver are
// missing. The child exits when the test ends.
func startSender(tb testing.TB, spec senderSpec) *sender {
	tb.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skipf("the sender-only case needs ip (iproute2) to set up its device: %v", err)
	}
	env, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), senderEnv+"="+string(env))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Skipf("the sender-only case needs a user and network namespace of its own: %v", err)
	}
	tb.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	s := &sender{stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := s.out.ReadString('\n')
	switch {
	case err != nil:
		tb.Fatalf("sender: %v", err)
	case strings.HasPrefix(line, "skip: "):
		tb.Skipf("the sender-only case cannot set up its device: %s", strings.TrimPrefix(line, "skip: "))
	case line != "ready\n":
		tb.Fatalf("sender: %s", line)
	}
	return s
}

// round has the child send n events and returns what it measured.
func (s *sender) round(n int) (senderResult, error) {
	var r senderResult
	if _, err := fmt.Fprintln(s.stdin, n); err != nil {
		return r, err
	}
	line, err := s.out.ReadString('\n')
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return r, fmt.Errorf("sender: %q: %w", line, err)
	}
	if r.Error != "" {
		return r, errors.New(r.Error)
	}
	return r, nil
}

// senderPerEvent is PerEvent for the sender-only case: the child
// measures its own process (events/s, cpu-ns/event, peak-RSS-MiB, and
// allocs/op and B/op, one op being one event); ns/op is the round's time
// seen from here.
func senderPerEvent(b *testing.B, spec senderSpec) {
	s := startSender(b, spec)
	b.ResetTimer()
	r, err := s.round(b.N)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	r.Cost.Report(b)
	b.ReportMetric(float64(r.Cost.Mallocs)/float64(b.N), "allocs/op")
	b.ReportMetric(float64(r.Cost.Bytes)/float64(b.N), "B/op")
	b.ReportMetric(float64(r.Datagrams)/float64(b.N), "datagrams/event")
	b.ReportMetric(float64(r.Bytes)/float64(b.N), "wire-B/event")
}

// TestSenderCountsEveryDatagram checks the sender-only case's check: the
// device's count must equal the datagrams a receiver gets for the same
// events, chunks included; with segmentation left to the device, which
// then counts a segmented send of up to 64 datagrams once, the round
// must fail.
func TestSenderCountsEveryDatagram(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec senderSpec
		per  int64 // datagrams per event
	}{
		{"one datagram each", senderSpec{Compression: "none", ChunkSize: 8192, Raw: 250}, 1},
		{"chunked", senderSpec{Compression: "none", ChunkSize: 1420, Raw: 3000}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := startSender(t, tc.spec).round(1000)
			if err != nil {
				t.Fatal(err)
			}
			if r.Datagrams != 1000*tc.per {
				t.Errorf("device got %d datagrams, want %d", r.Datagrams, 1000*tc.per)
			}
			// Events of one size: no padding, so the device's bytes are
			// exactly what a receiver got.
			if r.Bytes != r.WantBytes {
				t.Errorf("device got %d payload bytes, want %d", r.Bytes, r.WantBytes)
			}
		})
	}
	t.Run("offload", func(t *testing.T) {
		spec := senderSpec{Compression: "none", ChunkSize: 8192, Raw: 250, Offload: true}
		_, err := startSender(t, spec).round(1000)
		if err == nil || !strings.Contains(err.Error(), "device was handed") {
			t.Fatalf("got %v, want the device's count to differ", err)
		}
	})
}

// senderChild is the child: it sets up its device, learns how many
// datagrams each event makes, says "ready", then runs a round for each
// count read from stdin, answering each with a senderResult.
func senderChild() {
	var spec senderSpec
	if err := json.Unmarshal([]byte(os.Getenv(senderEnv)), &spec); err != nil {
		fmt.Println("error:", err)
		return
	}
	if err := setupDevice(spec.Offload); err != nil {
		fmt.Println("skip:", err)
		return
	}
	cfg := gelf.Config{Compression: spec.Compression, ChunkSize: spec.ChunkSize}
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	msgs := storetest.Padded(100, at)
	if spec.Realistic {
		msgs = storetest.Realistic(storetest.Pool, at)
	}
	for i := range msgs {
		if spec.Realistic {
			break
		}
		msgs[i].Value.Raw = append(msgs[i].Value.Raw, make([]byte, max(0, spec.Raw-len(msgs[i].Value.Raw)))...)
		for k := 250; k < len(msgs[i].Value.Raw); k++ {
			msgs[i].Value.Raw[k] = 'a' + byte(k*7%26)
		}
	}
	per, perBytes, err := datagramsPerEvent(cfg, msgs)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, _ := strconv.Atoi(in.Text())
		r, err := senderRound(cfg, msgs, per, perBytes, n)
		if err != nil {
			r.Error = err.Error()
		}
		out, _ := json.Marshal(r)
		fmt.Printf("%s\n", out)
	}
}

// setupDevice brings up lo and the ifb device with its address.
func setupDevice(offload bool) error {
	cmds := [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", senderDev, "mtu", "65535", "type", "ifb"}, // as lo's: no IP fragments
		{"link", "set", senderDev, "addrgenmode", "none"},         // no IPv6 address: nothing else is sent on it
		{"addr", "add", senderNet, "dev", senderDev},
		{"link", "set", senderDev, "up"},
	}
	if !offload {
		cmds = append(cmds, []string{"link", "set", senderDev, "gso_max_segs", "1"})
	}
	for _, args := range cmds {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// datagramsPerEvent sends msgs once to a UDP socket on lo, in the
// batches of storetest.PerSend events that Measure gives, and returns how
// many datagrams each made, as the receiver counts them: one, or the
// count in its chunks' header; and their payload bytes. Each batch is
// read before the next is sent: the socket's buffer holds one.
func datagramsPerEvent(cfg gelf.Config, msgs []sluice.Message[event.Event]) (per, bytes []int64, err error) {
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, err
	}
	defer u.Close()
	_ = u.SetReadBuffer(8 << 20)
	cfg.ServiceAddr = u.LocalAddr().String()
	per, bytes = make([]int64, len(msgs)), make([]int64, len(msgs))
	buf := make([]byte, 65536)
	for from := 0; from < len(msgs); from += storetest.PerSend {
		batch := msgs[from:min(from+storetest.PerSend, len(msgs))]
		d, err := gelf.New(cfg)
		if err != nil {
			return nil, nil, err
		}
		if _, err := storetest.Measure(d, batch, len(batch)); err != nil {
			return nil, nil, err
		}
		_ = u.SetReadDeadline(time.Now().Add(30 * time.Second))
		for i := from; i < from+len(batch); i++ {
			n, err := u.Read(buf)
			if err != nil {
				return nil, nil, fmt.Errorf("event %d: %w", i, err)
			}
			per[i], bytes[i] = 1, int64(n)
			if n > 12 && buf[0] == 0x1e && buf[1] == 0x0f { // a message's chunks come in a row
				per[i] = int64(buf[11])
				for range per[i] - 1 {
					n, err := u.Read(buf)
					if err != nil {
						return nil, nil, fmt.Errorf("event %d: %w", i, err)
					}
					bytes[i] += int64(n)
				}
			}
		}
	}
	return per, bytes, nil
}

// senderRound sends n events to senderPeer and checks that the device
// was handed exactly the datagrams they make; it reports their payload
// bytes, and those a receiver got for the same events (equal unless the
// padding of segmented sends differs with how events were batched).
func senderRound(cfg gelf.Config, msgs []sluice.Message[event.Event], per, perBytes []int64, n int) (senderResult, error) {
	var r senderResult
	var want int64
	for i := range n % len(msgs) {
		want += per[i]
		r.WantBytes += perBytes[i]
	}
	for i, p := range per {
		want += p * int64(n/len(msgs))
		r.WantBytes += perBytes[i] * int64(n/len(msgs))
	}
	cfg.ServiceAddr = senderPeer
	d, err := gelf.New(cfg)
	if err != nil {
		return r, err
	}
	before, err := deviceCounts()
	if err != nil {
		return r, err
	}
	if r.Cost, err = storetest.Measure(d, msgs, n); err != nil {
		return r, err
	}
	// A datagram may wait in the qdisc a moment after its send returned:
	// wait for the count to reach want, or to stand still for 5 s.
	var got [3]int64
	for last, still := got, time.Now(); ; time.Sleep(time.Millisecond) {
		after, err := deviceCounts()
		if err != nil {
			return r, err
		}
		got = [3]int64{after[0] - before[0], after[1] - before[1], after[2] - before[2]}
		if got != last {
			last, still = got, time.Now()
		}
		if got[0] >= want || time.Since(still) > 5*time.Second {
			break
		}
	}
	r.Datagrams, r.Bytes = got[0], got[2]-frameHeader*got[0]
	if got[0] != want || got[1] != want {
		return r, fmt.Errorf("%d events make %d datagrams; the device was handed %d and dropped %d", n, want, got[0], got[1])
	}
	return r, nil
}

// deviceCounts returns the packets senderDev was handed and dropped,
// and the bytes it was handed (headers included), from this network
// namespace's /proc/net/dev (an ifb device counts them as received).
func deviceCounts() ([3]int64, error) {
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		return [3]int64{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, stats, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != senderDev {
			continue
		}
		f := strings.Fields(stats) // rx bytes, packets, errs, drop, ...
		if len(f) < 4 {
			break
		}
		p, err1 := strconv.ParseInt(f[1], 10, 64)
		d, err2 := strconv.ParseInt(f[3], 10, 64)
		n, err3 := strconv.ParseInt(f[0], 10, 64)
		return [3]int64{p, d, n}, errors.Join(err1, err2, err3)
	}
	return [3]int64{}, fmt.Errorf("%s not in /proc/net/dev", senderDev)
}
