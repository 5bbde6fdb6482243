package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// cacheDir is where peers fetched or built by the harness are kept
// between invocations: $XDG_CACHE_HOME/sluice-bench or ~/.cache/sluice-bench.
func cacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "sluice-bench"), nil
}

// BenthosVersion is the pinned Benthos core version (BENCH.md 2.4).
const BenthosVersion = "v4.76.0"

// benthosSubject is Benthos core, built once from the module proxy in a
// temporary module (about 30 s to minutes) and cached; $BENTHOS names a
// binary to use instead.
func benthosSubject() *Subject {
	var path string
	return &Subject{
		Name: "benthos",
		Work: "socket_server (lines) → [parse_log syslog_rfc5424 when parsing] → file (lines), or socket (tcp, lines) in p2t; p6: http_server → http_client (POST, batches of 1000 or 5 ms archived as lines: NDJSON)",
		Prepare: func(env *Env) error {
			if p := os.Getenv("BENTHOS"); p != "" {
				path = p
				return nil
			}
			cache, err := cacheDir()
			if err != nil {
				return err
			}
			path = filepath.Join(cache, "benthos-"+BenthosVersion)
			if _, err := os.Stat(path); err == nil {
				return nil
			}
			tmp, err := os.MkdirTemp("", "sluice-bench-benthos-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			pkg := "github.com/redpanda-data/benthos/v4/cmd/benthos"
			for _, args := range [][]string{
				{"mod", "init", "benchbenthos"},
				{"get", pkg + "@" + BenthosVersion},
				{"build", "-o", path, pkg},
			} {
				cmd := exec.Command("go", args...)
				cmd.Dir = tmp
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("skipped: building Benthos failed: go %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 500))
				}
			}
			return nil
		},
		Supports: func(c Case) string {
			if c.Sink == SinkHTTP {
				return ""
			}
			if c.Network != "tcp" || c.Framing != FramingLF {
				return "newline-framed TCP only here"
			}
			return ""
		},
		Version: func(*Env) string { return "benthos " + BenthosVersion },
		Command: func(env *Env, r Run) (*exec.Cmd, error) {
			procs := ""
			if r.Case.Parse {
				procs = `pipeline:
  processors:
    - parse_log:
        format: syslog_rfc5424
`
			}
			output := fmt.Sprintf(`  file:
    path: %q
    codec: lines
`, r.Out)
			if r.Case.Sink == SinkTCP {
				output = fmt.Sprintf(`  socket:
    network: tcp
    address: %s
    codec: lines
`, r.Sink)
			}
			cfg := fmt.Sprintf(`http:
  enabled: false
logger:
  level: WARN
input:
  socket_server:
    network: tcp
    address: 127.0.0.1:%d
%soutput:
%s`, r.Port, procs, output)
			if r.Case.Sink == SinkHTTP {
				// The input's requests are split into one message per
				// line; the output batches them and archives each batch
				// as lines, one NDJSON body per POST.
				cfg = fmt.Sprintf(`http:
  enabled: false
logger:
  level: WARN
input:
  http_server:
    address: 127.0.0.1:%d
    path: /
    allowed_verbs: [POST]
  processors:
    - unarchive:
        format: lines
output:
  http_client:
    url: http://%s/
    verb: POST
    headers:
      Content-Type: application/x-ndjson
    max_in_flight: 8
    batching:
      count: 1000
      period: 5ms
      processors:
        - archive:
            format: lines
`, r.Port, r.Sink)
			}
			conf := filepath.Join(r.Dir, "benthos.yaml")
			if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
				return nil, err
			}
			return exec.Command(path, "-c", conf), nil
		},
	}
}

// syslogNGSubject is syslog-ng from Debian's syslog-ng-core. It conflicts
// with rsyslog as a package, so unless syslog-ng is on PATH the harness
// fetches the .deb with apt-get download and unpacks it (dpkg-deb -x) in
// its cache; its shared libraries libivykis0, libnet1 and libpcre3 must
// be installed. $SYSLOG_NG_ROOT names an unpacked tree to use instead.
func syslogNGSubject() *Subject {
	var bin, root string
	return &Subject{
		Name: "syslog-ng",
		Work: "network() source (RFC 5424 with flags(syslog-protocol), or no-parse for passthrough) → file() with its default template, or $MSG; p2t: network() destination, tcp, template $MSG\\n; the log path has flags(flow-control), so a full destination queue slows the source instead of dropping messages (the others' behaviour)",
		Prepare: func(env *Env) error {
			if p, err := exec.LookPath("syslog-ng"); err == nil {
				bin = p
				return nil
			}
			root = os.Getenv("SYSLOG_NG_ROOT")
			if root == "" {
				cache, err := cacheDir()
				if err != nil {
					return err
				}
				root = filepath.Join(cache, "syslog-ng-core")
			}
			bin = filepath.Join(root, "usr/sbin/syslog-ng")
			if _, err := os.Stat(bin); err != nil {
				if err := fetchSyslogNG(root); err != nil {
					return err
				}
			}
			out, err := syslogNGCmd(bin, root, "--version").CombinedOutput()
			if err != nil {
				return fmt.Errorf("skipped: syslog-ng does not start (apt-get install libivykis0 libnet1 libpcre3?): %v: %s", err, tail(string(out), 300))
			}
			return nil
		},
		Supports: func(c Case) string { return "" },
		Version: func(*Env) string {
			out, _ := syslogNGCmd(bin, root, "--version").CombinedOutput()
			s, _, _ := strings.Cut(string(out), "\n")
			return strings.TrimSpace(s)
		},
		Command: func(env *Env, r Run) (*exec.Cmd, error) {
			flags, tmpl := "syslog-protocol", ""
			if !r.Case.Parse {
				flags, tmpl = "no-parse", ` template("${MSG}\n")`
			}
			cfg := fmt.Sprintf(`@version: 3.38
options { stats-freq(0); };
source s_in { network(ip("127.0.0.1") port(%d) transport("%s") flags(%s) log-msg-size(65536)); };
destination d_out { %s };
log { source(s_in); destination(d_out); flags(flow-control); };
`, r.Port, r.Case.Network, flags, fmt.Sprintf("file(%q%s);", r.Out, tmpl))
			if r.Case.Sink == SinkTCP {
				host, port, _ := strings.Cut(r.Sink, ":")
				cfg = strings.Replace(cfg, fmt.Sprintf("file(%q%s);", r.Out, tmpl),
					fmt.Sprintf("network(%q port(%s) transport(\"tcp\")%s);", host, port, tmpl), 1)
			}
			conf := filepath.Join(r.Dir, "syslog-ng.conf")
			if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
				return nil, err
			}
			return syslogNGCmd(bin, root, "-F", "-f", conf,
				"--persist-file", filepath.Join(r.Dir, "syslog-ng.persist"),
				"--pidfile", filepath.Join(r.Dir, "syslog-ng.pid"),
				"--control", filepath.Join(r.Dir, "syslog-ng.ctl")), nil
		},
	}
}

// syslogNGCmd runs bin; with root set, against the libraries and modules
// of the unpacked tree.
func syslogNGCmd(bin, root string, args ...string) *exec.Cmd {
	if root == "" {
		return exec.Command(bin, args...)
	}
	mods := filepath.Join(root, "usr/lib/syslog-ng")
	if m, _ := filepath.Glob(filepath.Join(mods, "3.*")); len(m) > 0 {
		mods = m[0]
	}
	cmd := exec.Command(bin, append([]string{"--module-path", mods}, args...)...)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(root, "usr/lib/syslog-ng")+":"+filepath.Join(root, "usr/lib"))
	return cmd
}

// fetchSyslogNG unpacks Debian's syslog-ng-core into root.
func fetchSyslogNG(root string) error {
	tmp, err := os.MkdirTemp("", "sluice-bench-syslog-ng-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dl := exec.Command("apt-get", "download", "syslog-ng-core")
	dl.Dir = tmp
	if out, err := dl.CombinedOutput(); err != nil {
		return fmt.Errorf("skipped: apt-get download syslog-ng-core: %v: %s", err, tail(string(out), 300))
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "syslog-ng-core_*.deb"))
	if len(debs) == 0 {
		return errors.New("skipped: apt-get download syslog-ng-core fetched nothing")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		return fmt.Errorf("skipped: dpkg-deb -x: %v: %s", err, out)
	}
	return nil
}
