package daemon

import (
	"runtime/debug"
	"strings"
	"testing"
)

// What "sluiced version" says comes from the -X overrides first, then the
// build info, then "unknown": never an empty field.
func TestReadBuildInfo(t *testing.T) {
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name                  string
		x                     [3]string // Version, Commit, Date set with -X
		bi                    *debug.BuildInfo
		version, commit, date string
	}{
		{"nothing", [3]string{}, nil, "(devel)", "unknown", "unknown"},
		{"go build -buildvcs=false", [3]string{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)", "unknown", "unknown"},
		{"build info", [3]string{}, vcs, "v1.2.3", "0123abcd (modified)", "2026-12-01T10:00:00Z (commit time)"},
		{"-X wins", [3]string{"v9.9.9", "feedbeef", "2026-12-06T08:00:00Z"}, vcs, "v9.9.9", "feedbeef", "2026-12-06T08:00:00Z"},
		{"-X version only", [3]string{"v9.9.9", "", ""}, vcs, "v9.9.9", "0123abcd (modified)", "2026-12-01T10:00:00Z (commit time)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := [3]string{Version, Commit, Date}
			Version, Commit, Date = tc.x[0], tc.x[1], tc.x[2]
			defer func() { Version, Commit, Date = saved[0], saved[1], saved[2] }()
			b := readBuildInfo(tc.bi)
			if b.version != tc.version || b.commit != tc.commit || b.date != tc.date {
				t.Errorf("got %q, %q, %q; want %q, %q, %q", b.version, b.commit, b.date, tc.version, tc.commit, tc.date)
			}
			var out strings.Builder
			b.write(&out)
			if first, _, _ := strings.Cut(out.String(), "\n"); first != "sluiced "+tc.version {
				t.Errorf("first line %q, want %q", first, "sluiced "+tc.version)
			}
		})
	}
}
