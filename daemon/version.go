package daemon

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Version, Commit and Date describe the build. scripts/build sets them
// with -ldflags "-X github.com/sluicehq/sluice/daemon.Version=v1.2.3"
// (and .Commit, .Date); any left empty comes from the binary's build info:
// the module version, and the VCS revision and commit time that "go build"
// records unless -buildvcs=false.
var (
	Version = ""
	Commit  = ""
	Date    = "" // build date, RFC 3339 in UTC
)

// buildInfo is what "sluiced version" prints.
type buildInfo struct {
	version, commit, date, goVersion string
}

// readBuildInfo combines the -X overrides with bi, which may be nil.
func readBuildInfo(bi *debug.BuildInfo) buildInfo {
	b := buildInfo{version: Version, commit: Commit, date: Date, goVersion: runtime.Version()}
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	if b.version == "" && bi.Main.Version != "" {
		b.version = bi.Main.Version
	}
	var revision, modified, vcsTime string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		case "vcs.time":
			vcsTime = s.Value
		}
	}
	if b.commit == "" && revision != "" {
		b.commit = revision
		if modified == "true" {
			b.commit += " (modified)"
		}
	}
	if b.date == "" && vcsTime != "" {
		b.date = vcsTime + " (commit time)"
	}
	if b.version == "" {
		b.version = "(devel)"
	}
	if b.commit == "" {
		b.commit = "unknown"
	}
	if b.date == "" {
		b.date = "unknown"
	}
	return b
}

// write prints b; the first line is "sluiced VERSION", which scripts read.
func (b buildInfo) write(w io.Writer) {
	fmt.Fprintf(w, "sluiced %s\ncommit: %s\nbuilt: %s\ngo: %s %s/%s\n",
		b.version, b.commit, b.date, b.goVersion, runtime.GOOS, runtime.GOARCH)
}

func version() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return readBuildInfo(bi)
}
