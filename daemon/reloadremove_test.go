package daemon_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// A reload that removes a destination with a disk buffer whose spool
// still holds events (its endpoint down) cannot deliver them: they were
// acknowledged to their source when spooled, so no source reads them
// again, and no destination of the new config reads that spool. They must
// not go quietly: the reload says so at ERROR, with the count and the
// directory, and a later config that brings the destination back
// delivers them, none missing.
func TestReloadRemovingADiskBuffer(t *testing.T) {
	dir := t.TempDir()
	in, aPath := filepath.Join(dir, "in.log"), filepath.Join(dir, "a.ndjson")
	const n = 50
	var lines []byte
	for i := range n {
		lines = fmt.Appendf(lines, "seq=%d\n", i)
	}
	if err := os.WriteFile(in, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	coll := &collector{got: map[int]int{}}
	coll.down.Store(true)
	srv := httptest.NewServer(coll)
	defer srv.Close()
	admin := freeAddr(t)
	data := filepath.Join(dir, "data")
	config := func(withB bool) []byte {
		b := ""
		if withB {
			b = fmt.Sprintf(`"b": {"type": "http", "url": %q, "buffer": {"type": "disk"},
				"batch": {"age": "5ms", "stopTimeout": "300ms", "retry": {"initial": "10ms", "max": "50ms"}}},`, srv.URL)
		}
		return fmt.Appendf(nil, `{
			"dataDir": %q, "shutdownTimeout": "2s", "admin": {"addr": %q},
			"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms", "checkpointInterval": "50ms"}},
			"destinations": {%s "a": {"type": "counted", "path": %q, "maxBytes": 0, "batch": {"age": "5ms"}}},
		}`, data, admin, in, b, aPath)
	}
	var lc lifecycle
	var logs syncBuf
	dm := runDaemon(t, config(true), lc.registry(), &logs)
	waitLong(t, "a to write every line and b's spool to hold every line", func() bool {
		return len(seqCounts(t, aPath)) == n && metric(t, admin, `sluice_spool_records{buffer="b"}`) == n
	})
	if err := dm.Reload(t.Context(), config(false)); err != nil {
		t.Fatal(err)
	}
	spoolDir := filepath.Join(data, "spool", "b")
	want := regexp.MustCompile(`level=ERROR msg="reload: a removed disk buffer left events in its spool[^"]*" buffer=b dir=` +
		regexp.QuoteMeta(spoolDir) + ` records=` + fmt.Sprint(n))
	if !want.MatchString(logs.String()) {
		t.Errorf("no ERROR naming b's spool %s and its %d events", spoolDir, n)
	}
	coll.down.Store(false)
	if err := dm.Reload(t.Context(), config(true)); err != nil {
		t.Fatal(err)
	}
	waitLong(t, "b's endpoint to get every line", func() bool { return len(coll.counts()) == n })
	if missing, _ := exactlyOnce(coll.counts(), n); missing > 0 {
		t.Errorf("b's endpoint: %d of %d lines missing", missing, n)
	}
}
