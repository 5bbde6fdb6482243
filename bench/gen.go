package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// Seed is the fixed seed of every load: the same flags give the same bytes.
const Seed = 42

// Load is a pre-built set of frames: frame i is Buf[Ends[i-1]:Ends[i]]
// (Buf[:Ends[0]] for the first). Every frame carries "seq=%010d" with its
// index, so the oracle can find it again in any output.
type Load struct {
	Buf  []byte
	Ends []int
}

// Lines is the number of frames.
func (l *Load) Lines() int { return len(l.Ends) }

// Frame returns frame i.
func (l *Load) Frame(i int) []byte {
	return l.Buf[l.Start(i):l.Ends[i]]
}

// Start returns the offset of frame i in Buf.
func (l *Load) Start(i int) int {
	if i == 0 {
		return 0
	}
	return l.Ends[i-1]
}

// Span returns frames [i, j) as one slice.
func (l *Load) Span(i, j int) []byte { return l.Buf[l.Start(i):l.Ends[j-1]] }

// Formats of generated lines.
const (
	Format5424  = "5424"   // RFC 5424, ~250 B, modelled on lading's syslog5424
	Format3164  = "3164"   // RFC 3164 (BSD syslog)
	FormatNginx = "nginx"  // nginx "combined" access log lines
	Format1K    = "1k"     // RFC 5424 lines padded to 1 KiB
	FormatJSON  = "ndjson" // JSON objects of exactly 250 B (NDJSON for the HTTP case)
)

// Framings of a stream.
const (
	FramingLF    = "lf"    // non-transparent: each message ends with '\n'
	FramingOctet = "octet" // octet counting: "LEN SP MSG" (RFC 6587 3.4.1)
	FramingNone  = "none"  // datagrams: no trailer
)

var (
	hostnames = []string{"web-01", "web-02", "db-primary", "cache-7", "edge.example.com", "k8s-node-12", "ingest-3", "lb-a"}
	appnames  = []string{"nginx", "sshd", "kernel", "postgres", "app", "cron", "dockerd", "haproxy", "systemd"}
	msgids    = []string{"-", "ID47", "TCPIN", "TCPOUT", "AUTH", "REQ", "GC"}
	sdIDs     = []string{"exampleSDID@32473", "origin", "meta", "timeQuality"}
	sdKeys    = []string{"iut", "eventSource", "eventID", "ip", "sequenceId", "tzKnown", "language"}
	months    = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	methods   = []string{"GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD"}
	paths     = []string{"/", "/index.html", "/api/v1/items", "/login", "/static/app.js", "/healthz", "/search"}
	agents    = []string{"Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "Go-http-client/1.1", "kube-probe/1.31"}
	statuses  = []int{200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500, 503}
)

// printable is the alphabet of random message text: printable ASCII
// without '=', so that "seq=" never appears by chance, and without '"'
// and '\\', which some subjects escape.
const printable = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_/()[]{}!?#%&*+<>@|~^"

// baseTime is the timestamp of frame 0; frame i is baseTime + i ms.
var baseTime = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// BuildLoad pre-builds n frames of format with framing, from Seed.
func BuildLoad(format, framing string, n int) (*Load, error) {
	r := rand.New(rand.NewPCG(Seed, Seed))
	var gen func(r *rand.Rand, dst []byte, seq int) []byte
	avg := 250
	switch format {
	case Format5424:
		gen = gen5424
	case Format3164:
		gen, avg = gen3164, 160
	case FormatNginx:
		gen, avg = genNginx, 200
	case Format1K:
		gen, avg = gen1K, 1030
	case FormatJSON:
		gen = genJSON
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
	switch framing {
	case FramingLF, FramingOctet, FramingNone:
	default:
		return nil, fmt.Errorf("unknown framing %q", framing)
	}
	l := &Load{Buf: make([]byte, 0, n*(avg+8)), Ends: make([]int, 0, n)}
	var msg []byte
	for i := range n {
		msg = gen(r, msg[:0], i)
		switch framing {
		case FramingLF:
			l.Buf = append(append(l.Buf, msg...), '\n')
		case FramingOctet:
			l.Buf = strconv.AppendInt(l.Buf, int64(len(msg)), 10)
			l.Buf = append(append(l.Buf, ' '), msg...)
		case FramingNone:
			l.Buf = append(l.Buf, msg...)
		}
		l.Ends = append(l.Ends, len(l.Buf))
	}
	return l, nil
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func appendText(r *rand.Rand, dst []byte, n int) []byte {
	for range n {
		dst = append(dst, printable[r.IntN(len(printable))])
	}
	return dst
}

func appendSeq(dst []byte, seq int) []byte {
	return fmt.Appendf(dst, "seq=%010d", seq)
}

// gen5424 follows lading's syslog5424 payload: random PRI, RFC 3339
// timestamp, hostname, app-name, procid and msgid from small vocabularies,
// structured data one time in three, and a random printable message.
func gen5424(r *rand.Rand, dst []byte, seq int) []byte {
	return gen5424Len(r, dst, seq, 120+r.IntN(130))
}

func gen5424Len(r *rand.Rand, dst []byte, seq, textLen int) []byte {
	ts := baseTime.Add(time.Duration(seq) * time.Millisecond)
	dst = fmt.Appendf(dst, "<%d>1 ", r.IntN(192))
	dst = ts.AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
	dst = fmt.Appendf(dst, " %s %s %d %s ", pick(r, hostnames), pick(r, appnames), 1+r.IntN(65535), pick(r, msgids))
	if r.IntN(3) == 0 {
		dst = append(dst, '[')
		dst = append(dst, pick(r, sdIDs)...)
		for range 1 + r.IntN(3) {
			dst = fmt.Appendf(dst, " %s=\"%d\"", pick(r, sdKeys), r.IntN(100000))
		}
		dst = append(dst, "] "...)
	} else {
		dst = append(dst, "- "...)
	}
	dst = append(appendSeq(dst, seq), ' ')
	return appendText(r, dst, textLen)
}

// gen1K is an RFC 5424 line of exactly 1024 bytes.
func gen1K(r *rand.Rand, dst []byte, seq int) []byte {
	start := len(dst)
	dst = gen5424Len(r, dst, seq, 0)
	if pad := 1024 - (len(dst) - start); pad > 0 {
		dst = appendText(r, dst, pad)
	}
	return dst
}

// jsonLen is the size of a FormatJSON event, without its newline.
const jsonLen = 250

var levels = []string{"debug", "info", "info", "info", "warn", "error"}

// genJSON is a JSON object of exactly jsonLen bytes whose "msg" starts
// with the sequence number: {"ts":...,"host":...,"app":...,"level":...,"msg":"seq=... text"}.
// The text alphabet needs no JSON escaping.
func genJSON(r *rand.Rand, dst []byte, seq int) []byte {
	start := len(dst)
	ts := baseTime.Add(time.Duration(seq) * time.Millisecond)
	dst = append(dst, `{"ts":"`...)
	dst = ts.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = fmt.Appendf(dst, `","host":%q,"app":%q,"level":%q,"msg":"`, pick(r, hostnames), pick(r, appnames), pick(r, levels))
	dst = append(appendSeq(dst, seq), ' ')
	dst = appendText(r, dst, max(0, jsonLen-(len(dst)-start)-2))
	return append(dst, `"}`...)
}

func gen3164(r *rand.Rand, dst []byte, seq int) []byte {
	ts := baseTime.Add(time.Duration(seq) * time.Millisecond)
	dst = fmt.Appendf(dst, "<%d>%s %2d %s %s %s[%d]: ", r.IntN(192), months[ts.Month()-1], ts.Day(),
		ts.Format("15:04:05"), pick(r, hostnames), pick(r, appnames), 1+r.IntN(65535))
	dst = append(appendSeq(dst, seq), ' ')
	return appendText(r, dst, 60+r.IntN(80))
}

func genNginx(r *rand.Rand, dst []byte, seq int) []byte {
	ts := baseTime.Add(time.Duration(seq) * time.Millisecond)
	dst = fmt.Appendf(dst, "10.%d.%d.%d - - [%s] \"%s %s?", r.IntN(256), r.IntN(256), r.IntN(256),
		ts.Format("02/Jan/2006:15:04:05 -0700"), pick(r, methods), pick(r, paths))
	dst = appendSeq(dst, seq)
	return fmt.Appendf(dst, " HTTP/1.1\" %d %d \"-\" \"%s\"", pick(r, statuses), r.IntN(100000), pick(r, agents))
}

// SendOptions says how the load is sent.
type SendOptions struct {
	Network string  // "tcp" or "udp"
	Addr    string  // host:port of the subject
	Conns   int     // connections (TCP) or sockets (UDP); the load is split in contiguous ranges
	Rate    float64 // lines per second over all connections; 0 is as fast as possible
	Chunk   int     // TCP write size in bytes (64 KiB by default)
	Stamps  *Stamps // if set, gets the send time of every frame
}

// SendStats is what Send reports.
type SendStats struct {
	First    time.Time // just before the first byte was written
	Last     time.Time // after the last write returned (HTTP: when the last 200 came)
	Bytes    int64
	Requests int // HTTP requests that got 200
	Retries  int // HTTP requests retried after a 503
}

// Send writes the whole load to the subject and closes the connections.
func Send(l *Load, o SendOptions) (SendStats, error) {
	if o.Conns < 1 {
		o.Conns = 1
	}
	if o.Chunk <= 0 {
		o.Chunk = 64 << 10
	}
	type conn interface{ Close() error }
	conns := make([]conn, o.Conns)
	var pcs []*ipv4.PacketConn
	var dst *net.UDPAddr
	for i := range conns {
		switch o.Network {
		case "tcp":
			c, err := net.Dial("tcp", o.Addr)
			if err != nil {
				return SendStats{}, err
			}
			conns[i] = c
		case "udp":
			var err error
			if dst, err = net.ResolveUDPAddr("udp4", o.Addr); err != nil {
				return SendStats{}, err
			}
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				return SendStats{}, err
			}
			_ = c.(*net.UDPConn).SetWriteBuffer(4 << 20)
			conns[i] = c
			pcs = append(pcs, ipv4.NewPacketConn(c))
		default:
			return SendStats{}, fmt.Errorf("unknown network %q", o.Network)
		}
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	n := l.Lines()
	var wg sync.WaitGroup
	errs := make([]error, o.Conns)
	st := SendStats{First: time.Now()}
	for i := range o.Conns {
		lo, hi := i*n/o.Conns, (i+1)*n/o.Conns
		rate := o.Rate / float64(o.Conns)
		wg.Go(func() {
			if o.Network == "tcp" {
				errs[i] = sendTCP(conns[i].(net.Conn), l, lo, hi, o.Chunk, rate, o.Stamps)
			} else {
				errs[i] = sendUDP(pcs[i], dst, l, lo, hi, rate, o.Stamps)
			}
		})
	}
	wg.Wait()
	st.Last = time.Now()
	st.Bytes = int64(len(l.Buf))
	for _, err := range errs {
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// pacer sleeps so that line count sent by time t keeps to rate lines/s.
type pacer struct {
	start time.Time
	rate  float64
}

func (p pacer) wait(sent int) {
	if p.rate <= 0 {
		return
	}
	due := p.start.Add(time.Duration(float64(sent) / p.rate * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
}

// paced sends frames [lo, hi) at rate lines/s: frame i is due at
// start + (i-lo)/rate. At each wake-up send(i, j) writes every frame due
// by then (one, when the generator keeps up: no chunking), and st gets
// the moment just before that write as their send time and their due
// time, so that the report can show how late the generator was. It waits
// in nanosleep(2) on a real-time thread (realtime), and falls back to
// normal priority, with a warning, where that is refused.
func paced(lo, hi int, rate float64, st *Stamps, send func(i, j int) error) error {
	if err := realtime(); err != nil {
		warnOnce("the generator runs at normal priority, so its sends may be late: " + err.Error())
	}
	interval := float64(time.Second) / rate
	start := time.Now()
	for i := lo; i < hi; {
		due := time.Duration(float64(i-lo) * interval)
		if d := due - time.Since(start); d > 0 {
			sleepFor(d)
		}
		j := max(i+1, min(hi, lo+1+int(float64(time.Since(start))/interval)))
		st.markDue(i, j, start, interval, lo)
		if err := send(i, j); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// sendTCP writes frames [lo, hi): paced (rate > 0), each frame when it is
// due; else in chunks of at most chunk bytes cut at frame boundaries.
func sendTCP(c net.Conn, l *Load, lo, hi, chunk int, rate float64, st *Stamps) error {
	if rate > 0 {
		if err := paced(lo, hi, rate, st, func(i, j int) error {
			_, err := c.Write(l.Span(i, j))
			return err
		}); err != nil {
			return err
		}
		return c.(*net.TCPConn).CloseWrite()
	}
	for i := lo; i < hi; {
		j := i + 1
		start := l.Start(i)
		for j < hi && l.Ends[j]-start <= chunk {
			j++
		}
		st.mark(i, j)
		if _, err := c.Write(l.Span(i, j)); err != nil {
			return err
		}
		i = j
	}
	return c.(*net.TCPConn).CloseWrite()
}

// sendUDP sends frames [lo, hi) as datagrams, up to 64 per sendmmsg(2):
// paced (rate > 0), those due at each wake-up.
func sendUDP(pc *ipv4.PacketConn, dst *net.UDPAddr, l *Load, lo, hi int, rate float64, st *Stamps) error {
	msgs := make([]ipv4.Message, 64)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
		msgs[i].Addr = dst
	}
	send := func(i, j int) error {
		for ; i < j; i += len(msgs) {
			k := min(len(msgs), j-i)
			for m := range k {
				msgs[m].Buffers[0] = l.Frame(i + m)
			}
			for sent := 0; sent < k; {
				n, err := pc.WriteBatch(msgs[sent:k], 0)
				if err != nil {
					return err
				}
				sent += n
			}
		}
		return nil
	}
	if rate > 0 {
		return paced(lo, hi, rate, st, send)
	}
	for i := lo; i < hi; i += len(msgs) {
		j := min(i+len(msgs), hi)
		st.mark(i, j)
		if err := send(i, j); err != nil {
			return err
		}
	}
	return nil
}

var warned sync.Map

// warnOnce prints msg to stderr once per invocation.
func warnOnce(msg string) {
	if _, dup := warned.LoadOrStore(msg, true); !dup {
		fmt.Fprintln(os.Stderr, "bench: warning:", msg)
	}
}
