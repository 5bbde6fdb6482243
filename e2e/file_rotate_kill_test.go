package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFileRotationKill kills sluiced (SIGKILL) inside the file
// destination's rotation, at moments held on purpose with strace, and
// checks that every line the http source answered 200 for is in the union
// of the output files after a restart (the http source answers 200 once
// the file destination has written and fsynced the lines).
//
// A rotation, when a batch would take the file past maxBytes, closes the
// file (whose lines were fsynced before they were acked), renames it,
// syncs the directory, opens a new file at the path, syncs the directory,
// then writes the batch to the new file and fsyncs it.
//
//   - "renamed, not reopened": every rename is held at its end: the test
//     waits for the rotated name while the path is missing, and kills.
//   - "written to the new file, not fsynced": every fsync of the file at
//     the path is held at its start: the batch that rotates is written to
//     the new file, and the test kills once its lines are there, with no
//     200 for them.
//
// The sender then resends the body that got no 200 (duplicates are
// allowed and reported). Each moment runs with the file plain and gzipped.
func TestFileRotationKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	moments := []rotationMoment{
		{"renamed, not reopened",
			func(string) []string {
				return []string{"-e", "trace=/^rename", "-e", "inject=/^rename:delay_exit=30000000"}
			},
			func(_ *testing.T, path string, rotated []string, _ int64) bool {
				_, err := os.Stat(path)
				return len(rotated) > 0 && os.IsNotExist(err)
			}},
		{"written to the new file, not fsynced",
			func(path string) []string {
				return []string{"-P", path, "-e", "trace=fsync", "-e", "inject=fsync:delay_enter=30000000"}
			},
			func(t *testing.T, path string, rotated []string, held int64) bool {
				cur := &dirSeqs{glob: path}
				cur.read(t)
				return len(rotated) > 0 && cur.has(held)
			}},
	}
	// Uncompressed, the file takes the first two bodies exactly: the third,
	// held at the moment, rotates it, whatever batches its events come in.
	// Gzipped, every batch rotates the file; at a start, a file left at the
	// path is renamed away (a gzip member may be torn) rather than appended
	// to. By age (maxAge 1ms), every batch rotates the file too.
	rotations := []struct{ name, compression, file, rotate string }{
		{"none", "none", "out.ndjson", fmt.Sprintf(`"maxBytes": %d`, len(crashBody(0, killBody))+len(crashBody(killBody, killBody)))},
		{"gzip", "gzip", "out.ndjson.gz", `"maxBytes": 1`},
		{"maxAge", "none", "out.ndjson", `"maxAge": "1ms"`},
	}
	for _, r := range rotations {
		for _, tc := range moments {
			t.Run(r.name+"/"+tc.name, func(t *testing.T) { runRotationKill(t, tc, r.compression, r.file, r.rotate) })
		}
	}
}

// rotationMoment is a moment of TestFileRotationKill.
type rotationMoment struct {
	name  string
	trace func(path string) []string // strace's arguments
	// at reports whether sluiced is at the moment, given the rotated
	// files; held is the first seq of the body that rotates.
	at func(t *testing.T, path string, rotated []string, held int64) bool
}

// runRotationKill is one case of TestFileRotationKill: the file
// destination writes to name, rotating as the config fields rotate say.
func runRotationKill(t *testing.T, m rotationMoment, compression, name, rotate string) {
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	outDir := filepath.Join(dir, "out")
	path := filepath.Join(outDir, name)
	out := &dirSeqs{glob: filepath.Join(outDir, "*")}
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"in": {"type": "http", "addr": %q, "format": "ndjson"}},
		"destinations": {"out": {"type": "file", "path": %q, "format": "raw", %s,
			"compression": %q, "batch": {"age": "20ms"}}},
	}`, filepath.Join(dir, "data"), addr, path, rotate, compression)
	d := start(t, dir, config)
	k := newKillSender(t, addr)
	k.send(0)
	k.send(killBody)
	d.trace(t, m.trace(path)...)

	const held = 2 * killBody
	r := postHeld(t, addr, crashBody(held, killBody))
	waitForLong(t, "the moment", 30*time.Second, func() bool {
		rotated, err := filepath.Glob(filepath.Join(outDir, "out-*"))
		must(t, err)
		return m.at(t, path, rotated, held)
	})
	st := r.status(200 * time.Millisecond)
	d.kill()
	if st == 0 {
		st = r.status(time.Second)
	}
	if st != 0 {
		// An error; the test goes on to show what it loses.
		t.Errorf("the body that rotates was answered %d while sluiced was held inside the rotation", st)
	}
	if st == http.StatusOK {
		k.acked = append(k.acked, seqRange(held, killBody)...)
	}

	d = start(t, dir, config)
	if st != http.StatusOK {
		k.send(held) // no 200 came: the sender resends
	}
	k.send(held + killBody)
	k.waitDelivered(out)
	d.stop(t)
	out.read(t)
	files, _ := filepath.Glob(out.glob)
	t.Logf("%d lines acknowledged, %d in %d files, %d duplicates", len(k.acked), len(out.all.seen), len(files), out.all.dups)
}

// dirSeqs counts the seqs of raw lines {"seq":N,...} in the files that
// match glob (a file destination's file and its rotated ones), read
// afresh by each read.
type dirSeqs struct {
	glob string
	all  seqs
}

// read counts the files again. A file whose name ends in .gz is gunzipped
// (its members in turn, up to a torn one).
func (o *dirSeqs) read(t *testing.T) {
	t.Helper()
	files, err := filepath.Glob(o.glob)
	must(t, err)
	o.all = seqs{parse: rawSeq}
	for _, f := range files {
		if !strings.HasSuffix(f, ".gz") {
			o.all.path, o.all.off = f, 0
			o.all.read(t)
			continue
		}
		b, err := os.ReadFile(f)
		must(t, err)
		if len(b) == 0 {
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		must(t, err)
		b, _ = io.ReadAll(zr) // what decompresses before a torn member
		o.all.addLines(t, b)
	}
}

func (o *dirSeqs) has(seq int64) bool { return o.all.has(seq) }
