package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

// validates reports whether sluiced binary bin accepts config cfg.
func validates(bin, cfg string) bool {
	f, err := os.CreateTemp("", "sluiced-*.hujson")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(cfg)
	if err = errors.Join(err, f.Close()); err != nil {
		return false
	}
	return exec.Command(bin, "validate", f.Name()).Run() == nil
}

// dropSetting removes setting from the config file of cmd, a sluiced
// run, for a build older than the setting.
func dropSetting(cmd *exec.Cmd, setting string) error {
	path := cmd.Args[slices.Index(cmd.Args, "--config")+1]
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, bytes.Replace(b, []byte(setting), nil, 1), 0o644)
}

// addBefore registers, for -before BIN, "sluiced-before" and
// "sluiced-defaults-before": the same subjects run from another build of
// sluiced (such as one of main), for an A/B comparison within one run
// whose replicas interleave with this build's. A build that does not know
// the syslog queueSize setting runs the tuned profile without it.
func addBefore(bin string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	knowsQueueSize := validates(bin, `{"sources": {"in": {"type": "syslog"`+tunedSyslog+`}}, "destinations": {"out": {"type": "printer"}}}`)
	for _, name := range []string{"sluiced", "sluiced-defaults"} {
		s := *Subjects[name]
		s.Name += "-before"
		s.Work = "as " + name + ", run from " + bin
		s.Prepare = func(*Env) error { return nil }
		s.Version = func(*Env) string { return firstLine(bin, "version") }
		command := Subjects[name].Command
		s.Command = func(env *Env, r Run) (*exec.Cmd, error) {
			cmd, err := command(env, r)
			if err != nil {
				return nil, err
			}
			cmd.Path, cmd.Args[0] = bin, bin
			if name == "sluiced" && !knowsQueueSize {
				// bin's tuned profile as it was: its queue is its own constant.
				err = dropSetting(cmd, tunedSyslog)
			}
			return cmd, err
		}
		Subjects[s.Name] = &s
		if slices.Contains(DefaultSubjects, name) {
			DefaultSubjects = append(DefaultSubjects, s.Name)
		}
		for i, c := range Cases {
			if slices.Contains(c.Subjects, name) {
				Cases[i].Subjects = append(c.Subjects, s.Name)
			}
		}
	}
	return nil
}
