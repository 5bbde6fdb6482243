package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clkTck is sysconf(_SC_CLK_TCK): 100 on every Linux architecture Go
// supports.
const clkTck = 100

// ProcUsage is the CPU time, peak RSS and run-queue wait of a process
// tree.
type ProcUsage struct {
	CPUSeconds float64 // utime+stime of the tree's live processes
	HWMBytes   int64   // sum of VmHWM over the tree
	// RunDelay is how long the tree's live threads were runnable but
	// waited for a CPU, summed (run_delay in /proc/PID/task/*/schedstat):
	// time the subject lost to the scheduler, not to its own waits.
	RunDelay time.Duration
}

// procStat returns the ppid and utime+stime (ticks) of pid.
func procStat(pid int) (ppid int, ticks int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name may contain spaces: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, ut + st, nil
}

// vmHWM returns VmHWM of pid in bytes.
func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// runDelay sums run_delay, the second field of
// /proc/PID/task/TID/schedstat, over the threads of pid.
func runDelay(pid int) time.Duration {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var d time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fs := strings.Fields(string(b)); len(fs) >= 2 {
			ns, _ := strconv.ParseInt(fs[1], 10, 64)
			d += time.Duration(ns)
		}
	}
	return d
}

// Tree returns pid and its descendants.
func Tree(pid int) []int {
	parent := map[int]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if pp, _, err := procStat(p); err == nil {
			parent[p] = pp
		}
	}
	in := map[int]bool{pid: true}
	for changed := true; changed; {
		changed = false
		for p, pp := range parent {
			if in[pp] && !in[p] {
				in[p], changed = true, true
			}
		}
	}
	out := make([]int, 0, len(in))
	for p := range in {
		out = append(out, p)
	}
	return out
}

// Usage sums CPU time, VmHWM and run-queue wait over the tree of pid.
func Usage(pid int) ProcUsage {
	var u ProcUsage
	var ticks int64
	for _, p := range Tree(pid) {
		if _, t, err := procStat(p); err == nil {
			ticks += t
			u.HWMBytes += vmHWM(p)
			u.RunDelay += runDelay(p)
		}
	}
	u.CPUSeconds = float64(ticks) / clkTck
	return u
}

// UDPCounters are the Udp InErrors and RcvbufErrors of /proc/net/snmp.
type UDPCounters struct{ InErrors, RcvbufErrors int64 }

// ReadUDPCounters reads the system-wide UDP error counters.
func ReadUDPCounters() (UDPCounters, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return UDPCounters{}, err
	}
	var head []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, "Udp: ") {
			continue
		}
		f := strings.Fields(line)
		if head == nil {
			head = f
			continue
		}
		var c UDPCounters
		for i := 1; i < len(f) && i < len(head); i++ {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			switch head[i] {
			case "InErrors":
				c.InErrors = v
			case "RcvbufErrors":
				c.RcvbufErrors = v
			}
		}
		return c, nil
	}
	return UDPCounters{}, fmt.Errorf("no Udp line in /proc/net/snmp")
}

// Listening reports whether a socket is bound to port on network ("tcp"
// listening, or "udp" bound), from /proc/net/{tcp,udp}{,6}. It does not
// connect, so a subject that accepts one connection only is not
// disturbed.
func Listening(network string, port int) bool {
	hex := fmt.Sprintf(":%04X", port)
	for _, name := range []string{network, network + "6"} {
		b, err := os.ReadFile("/proc/net/" + name)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 || !strings.HasSuffix(f[1], hex) {
				continue
			}
			if network == "udp" || f[3] == "0A" { // 0A = TCP_LISTEN
				return true
			}
		}
	}
	return false
}
