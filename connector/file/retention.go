package file

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
)

// Retention bounds the rotated files a destination keeps. A rotated file
// is one whose name RotatedPath makes from this destination's Path (any
// time, any "-N" suffix); other files are never touched, nor is the file
// being written. Files are pruned at start and after each rotation,
// newest kept first, by the rotation time in their names (not their
// modification times, which a copy or a backup restore changes).
type Retention struct {
	// MaxFiles is the most rotated files kept; the oldest beyond it are
	// deleted. Default 0: no limit by count.
	MaxFiles int `json:"maxFiles"`
	// MaxAge deletes rotated files rotated longer ago than this. Default
	// 0: no limit by age.
	MaxAge time.Duration `json:"maxAge"`
}

func (r Retention) validate() error {
	var errs []error
	if r.MaxFiles < 0 {
		errs = append(errs, &config.FieldError{Path: "retention.maxFiles", Msg: fmt.Sprintf("want 0 or more, got %d", r.MaxFiles)})
	}
	if r.MaxAge < 0 {
		errs = append(errs, &config.FieldError{Path: "retention.maxAge", Msg: fmt.Sprintf("want 0 or more, got %v", r.MaxAge)})
	}
	return errors.Join(errs...)
}

// rotatedLayout is the layout of {time} in rotated names.
const rotatedLayout = "20060102T150405Z"

// pathParts splits Path into the {dir}, {name} and {ext} of RotatedPath.
func (w *writer) pathParts() (dir, name, ext string) {
	dir, base := filepath.Split(w.cfg.Path)
	ext = filepath.Ext(base)
	if w.cfg.Compression == "gzip" && ext == ".gz" {
		ext = filepath.Ext(strings.TrimSuffix(base, ext)) + ext
	}
	return dir, strings.TrimSuffix(base, ext), ext
}

var placeholder = regexp.MustCompile(`\{(dir|name|ext|time)\}`)

// rotatedMatcher returns a glob that finds at least every rotated file
// of this destination and a regexp that tells them apart exactly: its
// first group is the time, its second the "-N" suffix (see renameAway).
func (w *writer) rotatedMatcher() (string, *regexp.Regexp) {
	dir, name, ext := w.pathParts()
	tmpl := w.cfg.RotatedPath
	var glob, re strings.Builder
	suffixAtEnd := !strings.Contains(tmpl, "{ext}")
	suffixDone := false
	literal := func(s string) {
		glob.WriteString(globEscape(s))
		re.WriteString(regexp.QuoteMeta(s))
	}
	suffix := func() {
		glob.WriteString("*")
		re.WriteString(`(?:-([0-9]+))?`)
		suffixDone = true
	}
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(tmpl, -1) {
		literal(tmpl[last:m[0]])
		switch tmpl[m[2]:m[3]] {
		case "dir":
			literal(dir)
		case "name":
			literal(name)
		case "time":
			glob.WriteString("*")
			re.WriteString(`([0-9]{8}T[0-9]{6}Z)`)
		case "ext":
			if !suffixDone {
				suffix()
			}
			literal(ext)
		}
		last = m[1]
	}
	literal(tmpl[last:])
	if suffixAtEnd {
		suffix()
	}
	return glob.String(), regexp.MustCompile("^" + re.String() + "$")
}

// globEscape escapes the metacharacters of filepath.Match in s.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(s)
}

type rotatedFile struct {
	path string
	at   time.Time
	n    int // the "-N" suffix; 0 if none
}

// rotatedFiles returns this destination's rotated files, newest first.
func (w *writer) rotatedFiles() ([]rotatedFile, error) {
	glob, re := w.rotatedMatcher()
	paths, err := filepath.Glob(glob)
	if err != nil {
		return nil, err
	}
	var files []rotatedFile
	for _, p := range paths {
		m := re.FindStringSubmatch(p)
		if m == nil || p == w.cfg.Path {
			continue
		}
		at, err := time.Parse(rotatedLayout, m[1])
		if err != nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
			continue
		}
		files = append(files, rotatedFile{p, at, n})
	}
	slices.SortFunc(files, func(a, b rotatedFile) int {
		return cmp.Or(b.at.Compare(a.at), cmp.Compare(b.n, a.n))
	})
	return files, nil
}

// prune deletes the rotated files that Retention no longer keeps, oldest
// first. It logs what it deletes, and what it fails to list or delete (which does
// not stop the destination: the events are written all the same).
func (w *writer) prune() {
	r := w.cfg.Retention
	if r.MaxFiles == 0 && r.MaxAge == 0 {
		return
	}
	files, err := w.rotatedFiles()
	if err != nil {
		w.o.log.Warn("file: retention: cannot list rotated files", "path", w.cfg.Path, "err", err)
		return
	}
	now := w.o.clock()
	dirs := map[string]bool{}
	// Oldest first: killed half-way, the files left are still the newest,
	// with no hole between them.
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		var why string
		switch {
		case r.MaxFiles > 0 && i >= r.MaxFiles:
			why = "maxFiles"
		case r.MaxAge > 0 && now.Sub(f.at) > r.MaxAge:
			why = "maxAge"
		default:
			continue
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.o.log.Warn("file: retention: cannot delete a rotated file", "path", f.path, "err", err)
			continue
		}
		dirs[filepath.Dir(f.path)] = true
		w.o.log.Info("file: retention: deleted a rotated file", "path", f.path, "rotated", f.at, "reason", why)
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			w.o.log.Warn("file: retention: "+err.Error(), "dir", d)
		}
	}
}
