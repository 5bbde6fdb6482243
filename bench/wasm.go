package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The "pw" case: the p1 pipeline with a handler on its route, the redact
// example (examples/wasm/redact) run three ways: as a wasm module
// (sluiced-wasm), as the same Go code compiled into the daemon
// (sluiced-redact), and not at all (sluiced, the baseline). The load's
// lines have no run of 12 digits and no DEBUG, so every line comes out,
// unchanged, and the oracle checks them as in p1; the handler still reads
// every string of every event.
func init() {
	Cases = append(Cases, Case{Name: "pw", Desc: "as p1, with the redact example on the route: a wasm module, or the same Go code as a native handler",
		Network: "tcp", Framing: FramingLF, Conns: 1, Parse: true, Subjects: []string{"sluiced-wasm", "sluiced-redact", "sluiced"}})
	Subjects["sluiced-wasm"] = redactSubject("sluiced-wasm", true)
	Subjects["sluiced-redact"] = redactSubject("sluiced-redact", false)
}

// redactSubject is sluiced as in p1 with the redact example as a wasm
// handler, or as the native "redact" handler of bench/redactd.
func redactSubject(name string, wasm bool) *Subject {
	bin, work := "redactd", "as sluiced in p1, with the redact example as a native handler (bench/redactd)"
	if wasm {
		bin, work = "sluiced", "as sluiced in p1, with the redact example as a wasm handler (GOOS=wasip1 -buildmode=c-shared, 2 instances, compiled once: its cache is shared by the replicas)"
	}
	return &Subject{
		Name: name,
		Work: work,
		Prepare: func(env *Env) error {
			if !wasm {
				return goBuild(env, bin, "./bench/redactd")
			}
			if err := goBuild(env, bin, "./cmd/sluiced"); err != nil {
				return err
			}
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(env.BinDir, "redact.wasm"), "./examples/wasm/redact")
			cmd.Dir = env.ModRoot
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("GOOS=wasip1 GOARCH=wasm go build examples/wasm/redact: %v\n%s", err, out)
			}
			if err := os.MkdirAll(filepath.Join(env.BinDir, "wasm-cache"), 0o755); err != nil {
				return err
			}
			// Compile the module into the shared cache now, so that no
			// replica's start (bounded by the harness) pays for it:
			// validate compiles into <dataDir>/wasm-cache.
			cfg := filepath.Join(env.BinDir, "warm.hujson")
			if err := os.WriteFile(cfg, fmt.Appendf(nil, `{"dataDir": %q, "sources": {"in": {"type": "syslog", "addr": "127.0.0.1:0"}},
  "destinations": {"out": {"type": "file", "path": %q}},
  "routes": [{"name": "main", "from": ["in"], "to": ["out"], "handlers": [{"type": "wasm", "module": %q}]}]}`,
				env.BinDir, filepath.Join(env.BinDir, "warm.out"), filepath.Join(env.BinDir, "redact.wasm")), 0o644); err != nil {
				return err
			}
			if out, err := exec.Command(filepath.Join(env.BinDir, bin), "validate", cfg).CombinedOutput(); err != nil {
				return fmt.Errorf("sluiced validate, to compile redact.wasm: %v\n%s", err, out)
			}
			return nil
		},
		Supports: func(c Case) string {
			if c.Sink != "" && c.Sink != SinkFile {
				return "writes a file only"
			}
			return ""
		},
		Version: func(env *Env) string {
			return firstLine(filepath.Join(env.BinDir, bin), "version")
		},
		ReadyLog: "msg=running",
		Command: func(env *Env, r Run) (*exec.Cmd, error) {
			format, parse := "raw", "none"
			if r.Case.Parse {
				format, parse = "json", "auto"
			}
			data := filepath.Join(r.Dir, "data")
			handler := `{"type": "redact"}`
			if wasm {
				handler = fmt.Sprintf(`{"type": "wasm", "module": %q}`, filepath.Join(env.BinDir, "redact.wasm"))
				if err := os.MkdirAll(data, 0o755); err != nil {
					return nil, err
				}
				if err := os.Symlink(filepath.Join(env.BinDir, "wasm-cache"), filepath.Join(data, "wasm-cache")); err != nil {
					return nil, err
				}
			}
			cfg := fmt.Sprintf(`{
  "dataDir": %q,
  "sources": {"in": {"type": "syslog", "addr": "127.0.0.1:%d", "network": %q, "format": %q, "maxMessageBytes": 65536}},
  "destinations": {"out": {"type": "file", "path": %q, "format": %q, "jsonRaw": "unparsed", "fsync": false, "maxBytes": 0}},
  "routes": [{"name": "main", "from": ["in"], "to": ["out"], "handlers": [%s]}],
}
`, data, r.Port, r.Case.Network, parse, r.Out, format, handler)
			cmd, err := sluicedCommand(env, r, cfg)
			if err == nil && !wasm {
				cmd.Path, cmd.Args[0] = filepath.Join(env.BinDir, bin), filepath.Join(env.BinDir, bin)
			}
			return cmd, err
		},
	}
}
