package main

import (
	"os/exec"
	"path/filepath"
	"slices"
)

// addBefore registers, for -before BIN, "sluiced-before" and
// "sluiced-defaults-before": the same subjects run from another build of
// sluiced (such as one of main), for an A/B comparison within one run
// whose replicas interleave with this build's.
func addBefore(bin string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	for _, name := range []string{"sluiced", "sluiced-defaults"} {
		s := *Subjects[name]
		s.Name += "-before"
		s.Work = "as " + name + ", run from " + bin
		s.Prepare = func(*Env) error { return nil }
		s.Version = func(*Env) string { return firstLine(bin, "version") }
		command := Subjects[name].Command
		s.Command = func(env *Env, r Run) (*exec.Cmd, error) {
			cmd, err := command(env, r)
			if err == nil {
				cmd.Path, cmd.Args[0] = bin, bin
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
