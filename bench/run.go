package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Result is the outcome of one replica of one subject on one case.
type Result struct {
	Subject string
	Case    string
	Replica int
	Dir     string        // the subject's directory (removed unless kept)
	Lines   int           // lines sent
	Bytes   int64         // bytes sent
	E2E     time.Duration // first byte sent → file holds every line (or the last growth)
	Acked   time.Duration // HTTP: first byte sent → last 200 (Direct subjects: E2E)
	Retries int           // HTTP requests retried after a 503
	CPU     float64       // subject CPU seconds over the run
	HWM     int64         // subject peak RSS, bytes
	Queued  time.Duration // subject threads' time runnable but waiting for a CPU (ProcUsage.RunDelay)
	Verdict Verdict
	UDP     UDPCounters // deltas of /proc/net/snmp (UDP cases)
	Latency Latency     // with -rate: send → sink receipt (or first seen in the file)
	RSS     []RSSSample // memory cases
	Err     error
}

// Delivered is the number of distinct lines the subject wrote.
func (r Result) Delivered() int { return r.Lines - r.Verdict.Missing }

// RunOptions tune a replica.
type RunOptions struct {
	OutDir  string        // tmpfs directory for the subjects' temp dirs
	DiskDir string        // directory on a disk for the subjects' temp dirs in Disk cases
	Rate    float64       // lines/s; 0 = as fast as possible
	Timeout time.Duration // per replica
	Pin     bool          // run the subject under taskset -c 0
	Nice    int           // if not 0, run the subject under nice -n Nice
	// Prealloc allocates a file sink's pages before the subject starts
	// (see preallocate): writing then costs the copy only.
	Prealloc bool
	Keep     bool // keep the subject's directory
	// Soak and SoakRate are the length and rate (lines/s) of a soak.
	Soak     time.Duration
	SoakRate float64
}

// logBuffer collects a subject's output.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort returns a port free on 127.0.0.1 for both TCP and UDP.
func freePort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port")
}

// RunReplica starts s fresh, sends load, waits for the output, stops s
// and checks the output.
func RunReplica(env *Env, s *Subject, c Case, load *Load, replica int, o RunOptions) (res Result) {
	res = Result{Subject: s.Name, Case: c.Name, Replica: replica, Lines: load.Lines(), Bytes: int64(len(load.Buf))}
	base := o.OutDir
	if c.Disk {
		base = o.DiskDir
	}
	dir, err := os.MkdirTemp(base, "sluice-bench-"+s.Name+"-")
	if err != nil {
		res.Err = err
		return res
	}
	res.Dir = dir
	if !o.Keep {
		defer os.RemoveAll(dir)
	}
	if s.Direct != nil {
		out := filepath.Join(dir, "out.log")
		if res.E2E, res.CPU, err = s.Direct(Run{Case: c, Dir: dir, Out: out}, load); err != nil {
			res.Err = err
			return res
		}
		res.Acked = res.E2E
		res.Verdict, res.Err = Check(out, load.Lines())
		return res
	}
	port, err := freePort()
	if err != nil {
		res.Err = err
		return res
	}
	r := Run{Case: c, Port: port, Dir: dir, Out: filepath.Join(dir, "out.log")}
	if o.Prealloc && c.Sink == SinkFile && !c.Disk && c.RSS == "" {
		// Twice the input holds any subject's output (JSON is ~1.6x).
		if err := preallocate(r.Out, 2*int64(len(load.Buf))+1<<20); err != nil {
			// Not every filesystem can (overlayfs): measure without.
			fmt.Fprintf(os.Stderr, "bench: cannot preallocate %s, going on without: %v\n", r.Out, err)
		}
	}
	var stamps *Stamps
	if o.Rate > 0 {
		stamps = NewStamps(load.Lines())
	}
	var sink *Sink
	if c.Sink != SinkFile {
		if sink, err = StartSink(c.Sink, NewTally(load.Lines(), stamps)); err != nil {
			res.Err = err
			return res
		}
		defer sink.Close()
		r.Sink = sink.Addr
	}
	cmd, err := s.Command(env, r)
	if err != nil {
		res.Err = err
		return res
	}
	if o.Pin {
		cmd.Args = append([]string{"taskset", "-c", "0"}, cmd.Args...)
		cmd.Path, err = exec.LookPath("taskset")
		if err != nil {
			res.Err = err
			return res
		}
	}
	if o.Nice != 0 {
		cmd.Args = append([]string{"nice", "-n", fmt.Sprint(o.Nice)}, cmd.Args...)
		if cmd.Path, err = exec.LookPath("nice"); err != nil {
			res.Err = err
			return res
		}
	}
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		res.Err = err
		return res
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stop(cmd, exited)
	fail := func(err error) Result {
		res.Err = fmt.Errorf("%w; output:\n%s", err, tail(logs.String(), 2000))
		return res
	}

	// Ready: port bound and, for some subjects, a log line.
	deadline := time.Now().Add(20 * time.Second)
	network := c.Network
	if network == "http" {
		network = "tcp"
	}
	for !Listening(network, port) || (s.ReadyLog != "" && !strings.Contains(logs.String(), s.ReadyLog)) {
		select {
		case err := <-exited:
			exited <- err
			return fail(fmt.Errorf("%s exited before it was ready: %v", s.Name, err))
		default:
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("%s not ready after 20s", s.Name))
		}
		time.Sleep(10 * time.Millisecond)
	}

	pid := cmd.Process.Pid
	if c.RSS != "" {
		if res.RSS, res.Verdict, err = runRSS(c, pid, port, r.Out, load, o.SoakRate, o.Soak); err != nil {
			return fail(err)
		}
		return res
	}
	before := Usage(pid)
	udpBefore, _ := ReadUDPCounters()
	var poller Poller = sink.tally()
	interval := 2 * time.Millisecond
	var tail *FileTail
	if sink == nil {
		w := &Watcher{Path: r.Out, Stamps: stamps}
		defer w.Close()
		poller = w
		if stamps != nil {
			// Latency: read the file as soon as it grows.
			if tail, err = StartFileTail(w); err != nil {
				warnOnce(fmt.Sprintf("no inotify (%v): the output file is polled every %v, so its latencies are late by up to that much", err, fileLatencyPoll))
				interval = fileLatencyPoll
			} else {
				defer tail.Close()
				if err := tail.RealtimeErr(); err != nil {
					warnOnce("the file sink runs at normal priority, so it may see lines late: " + err.Error())
				}
				poller = tail
			}
		}
	}
	if stamps != nil {
		// No collection while latency is measured: its stop-the-world
		// pauses would hold the generator and the sink.
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
	}
	sent := make(chan struct{})
	// Sample the peak RSS while the run goes on, for subjects that exit
	// by themselves at the end of their input (socat).
	var lastHWM, lastDelay atomic.Int64
	sampling := make(chan struct{})
	defer close(sampling)
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if u := Usage(pid); u.HWMBytes > 0 {
				lastHWM.Store(u.HWMBytes)
				lastDelay.Store(int64(u.RunDelay))
			}
			select {
			case <-sampling:
				return
			case <-t.C:
			}
		}
	}()
	var st SendStats
	var sendErr error
	go func() {
		defer close(sent)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if c.Network == "http" {
			st, sendErr = SendHTTP(load, HTTPOptions{URL: "http://" + addr + "/", Clients: c.Conns, Batch: c.Batch, Rate: o.Rate, Stamps: stamps})
			return
		}
		st, sendErr = Send(load, SendOptions{Network: c.Network, Addr: addr, Conns: c.Conns, Rate: o.Rate, Stamps: stamps})
	}()
	quiet := 5 * time.Second
	if c.Network == "udp" {
		quiet = 2 * time.Second
	}
	_, at, waitErr := WaitLines(poller, WaitOptions{Want: load.Lines(), Interval: interval, Quiet: quiet, Timeout: o.Timeout}, sent)
	after := Usage(pid)
	_, _, aliveErr := procStat(pid)
	<-sent
	udpAfter, _ := ReadUDPCounters()
	res.E2E = at.Sub(st.First)
	if c.Network == "http" {
		res.Acked, res.Retries = st.Last.Sub(st.First), st.Retries
	}
	res.CPU = after.CPUSeconds - before.CPUSeconds
	res.HWM = after.HWMBytes
	res.Queued = after.RunDelay - before.RunDelay
	res.UDP = UDPCounters{InErrors: udpAfter.InErrors - udpBefore.InErrors, RcvbufErrors: udpAfter.RcvbufErrors - udpBefore.RcvbufErrors}
	if sendErr != nil {
		return fail(fmt.Errorf("send: %w", sendErr))
	}
	if waitErr != nil {
		return fail(waitErr)
	}
	stop(cmd, exited)
	if aliveErr != nil {
		// The subject exited by itself once its input ended (socat does):
		// its rusage from wait4(2) gives the CPU time.
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.CPU = time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds() - before.CPUSeconds
		}
		// ru_maxrss would include the harness's own memory from before
		// exec(2), so the sampled VmHWM is used instead.
		res.HWM = lastHWM.Load()
		res.Queued = time.Duration(lastDelay.Load()) - before.RunDelay
	}
	if sink != nil {
		// What the subject sent while stopping counts too.
		sink.Drain(5 * time.Second)
		res.Verdict = sink.Tally.Verdict()
		if err := sink.Err(); err != nil {
			return fail(err)
		}
	} else if res.Verdict, err = Check(r.Out, load.Lines()); err != nil {
		return fail(err)
	}
	if stamps != nil {
		tail.Close() // its Stamps are complete once it stopped
		res.Latency = stamps.Latency()
	}
	return res
}

// fileLatencyPoll is how often the output file is read when latency is
// measured (-rate) and inotify is missing: a line's receive time is when
// a poll first sees it, so file-sink latencies are late by up to this
// much (plus the read).
const fileLatencyPoll = 250 * time.Microsecond

// stop sends SIGTERM, then SIGKILL after 10 s. It may be called twice.
func stop(cmd *exec.Cmd, exited chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		exited <- <-exited
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
