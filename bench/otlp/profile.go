package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// profiled runs work while it takes a CPU profile of the sluiced whose
// admin listener is at admin, then saves its block and mutex profiles
// (empty unless the binary sets their rates) and its allocations, as <name>.<kind>.pb.gz in
// the -profile directory.
func profiled(admin, name string, work func() error) error {
	if err := os.MkdirAll(*profile, 0o755); err != nil {
		return err
	}
	get := func(path, kind string) error {
		resp, err := http.Get("http://" + admin + "/debug/pprof/" + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("pprof %s: %s", path, resp.Status)
		}
		f, err := os.Create(filepath.Join(*profile, name+"."+kind+".pb.gz"))
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(f, resp.Body)
		return err
	}
	// The CPU profile covers the first -profile-seconds of the work: pick
	// -records so that the work lasts longer.
	cpu := make(chan error, 1)
	go func() {
		if os.Getenv("XTRACE") != "" {
			cpu <- get("trace?seconds=1", "trace")
			return
		}
		cpu <- get(fmt.Sprintf("profile?seconds=%d", *profileSecs), "cpu")
	}()
	if err := work(); err != nil {
		return err
	}
	if err := <-cpu; err != nil {
		return err
	}
	for _, kind := range []string{"block", "mutex", "allocs"} {
		if err := get(kind, kind); err != nil {
			return err
		}
	}
	return nil
}
