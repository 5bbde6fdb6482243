package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

func init() {
	Subjects["sluiced-defaults"] = sluicedDefaultsSubject()
	DefaultSubjects = append(DefaultSubjects, "sluiced-defaults")
}

// sluicedDefaultsSubject is sluiced as users run it: the syslog source and
// the file destination with nothing set but what the load needs (address,
// network, path; passthrough needs format none → raw). So the file
// destination fsyncs each batch and, in format json, keeps each event's
// raw line. The one departure is maxBytes 0: the default rotates every
// 100 MiB, and the harness reads one file. The "sluiced" subject is the
// tuned profile (fsync off, jsonRaw unparsed).
func sluicedDefaultsSubject() *Subject {
	s := sluicedSubject()
	s.Name = "sluiced-defaults"
	s.Work = "syslog source → file destination with the daemon's defaults (fsync per batch, format json with the raw line kept; passthrough: format none → raw), maxBytes 0 so that the output is one file"
	s.Supports = func(c Case) string {
		if c.Sink != SinkFile || c.Network != "tcp" && c.Network != "udp" {
			return "syslog → file cases only"
		}
		return ""
	}
	s.Command = func(env *Env, r Run) (*exec.Cmd, error) {
		src, dst := `"type": "syslog"`, `"type": "file"`
		if !r.Case.Parse {
			src, dst = src+`, "format": "none"`, dst+`, "format": "raw"`
		}
		cfg := fmt.Sprintf(`{
  "dataDir": %q,
  "sources": {"in": {%s, "addr": "127.0.0.1:%d", "network": %q}},
  "destinations": {"out": {%s, "path": %q, "maxBytes": 0}},
}
`, filepath.Join(r.Dir, "data"), src, r.Port, r.Case.Network, dst, r.Out)
		return sluicedCommand(env, r, cfg)
	}
	return s
}
