package file_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/sluicetest"
)

func ev(s string) sluice.Message[event.Event] {
	return sluice.Message[event.Event]{Value: event.Event{Raw: []byte(s)}}
}

// tail is a test source that follows the lines of a file.
type tail struct {
	path string
	mu   sync.Mutex
	off  int64
	buf  []string
}

func (t *tail) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	for {
		if err := ctx.Err(); err != nil {
			return sluice.Message[event.Event]{}, nil, err
		}
		t.mu.Lock()
		if len(t.buf) == 0 {
			t.read()
		}
		if len(t.buf) > 0 {
			l := t.buf[0]
			t.buf = t.buf[1:]
			t.mu.Unlock()
			return ev(l), sluice.Noop, nil
		}
		t.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (t *tail) read() {
	f, err := os.Open(t.path)
	if err != nil {
		return
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, t.off, 1<<30))
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		t.off += int64(i + 1)
		for l := range strings.SplitSeq(string(b[:i]), "\n") {
			t.buf = append(t.buf, l)
		}
	}
}

func TestConformance(t *testing.T) {
	sluicetest.Suite[event.Event]{
		Features: sluicetest.Features{ConcurrentSend: true, ConcurrentRecv: true},
		NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
			path := filepath.Join(t.TempDir(), name+".log")
			d, err := file.New(file.Config{Path: path, Format: "raw", Batch: batch.Config{Count: 16, Age: 5 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			return &tail{path: path}, d
		},
		Wrap:   func(p []byte) sluice.Message[event.Event] { return ev(string(p)) },
		Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
	}.Run(t)
}

// start runs d until the test ends and returns a function that stops it
// and waits.
func start(t *testing.T, d *file.Destination) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// lines reads every line of the files matching glob, decompressing .gz.
func lines(t *testing.T, glob string) []string {
	t.Helper()
	paths, _ := filepath.Glob(glob)
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			b, err = io.ReadAll(zr)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			out = append(out, sc.Text())
		}
	}
	return out
}

// sendAll sends n events "e0".."e<n-1>" one per Send and waits for every ack.
func sendAll(t *testing.T, d *file.Destination, n int, check func(i int)) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		if err := d.Send(t.Context(), func() {
			if check != nil {
				check(i)
			}
			wg.Done()
		}, ev(fmt.Sprintf("e%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitWG(t, &wg)
}

func waitWG(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("acks did not arrive")
	}
}

func want(n int) []string {
	var w []string
	for i := range n {
		w = append(w, fmt.Sprintf("e%d", i))
	}
	sort.Strings(w)
	return w
}

func TestAckedMeansOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	var batches atomic.Int64
	d, err := file.New(file.Config{Path: path, Format: "raw"}, file.WithFlushed(func(int, int, time.Duration) { batches.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	start(t, d)
	var missing atomic.Int64
	sendAll(t, d, 5000, func(i int) {
		b, _ := os.ReadFile(path)
		if !bytes.Contains(b, fmt.Appendf(nil, "e%d\n", i)) {
			missing.Add(1)
		}
	})
	if missing.Load() != 0 {
		t.Errorf("%d events were acked before they were in the file", missing.Load())
	}
	got := lines(t, path)
	sort.Strings(got)
	if !slices.Equal(got, want(5000)) {
		t.Errorf("file holds %d lines, want the 5000 sent", len(got))
	}
	if b := batches.Load(); b < 1 || b > 1000 {
		t.Errorf("%d batches (fsyncs) for 5000 events; group commit should need far fewer", b)
	}
}

func TestJSONFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.ndjson")
	d, _ := file.New(file.Config{Path: path})
	stop := start(t, d)
	sendAll(t, d, 2, nil)
	stop()
	got := lines(t, path)
	if len(got) != 2 || !strings.Contains(got[0], `"raw":"e0"`) && !strings.Contains(got[0], `"raw":"e1"`) {
		t.Errorf("got %q", got)
	}
}

func TestJSONRaw(t *testing.T) {
	parsed := event.Event{Raw: []byte("<13>1 - h a - - - hello"),
		Syslog: event.Syslog{Present: true, Facility: 1, Severity: 5, Version: 1, Hostname: "h", AppName: "a", Message: "hello"}}
	failed := event.Event{Raw: []byte("<13>garbage"), Flags: event.ParseError}
	for _, tc := range []struct {
		jsonRaw string
		want    []bool // whether each line has "raw"
	}{
		{"", []bool{true, true}},
		{"always", []bool{true, true}},
		{"unparsed", []bool{false, true}},
	} {
		t.Run(tc.jsonRaw, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.ndjson")
			d, err := file.New(file.Config{Path: path, JSONRaw: tc.jsonRaw})
			if err != nil {
				t.Fatal(err)
			}
			stop := start(t, d)
			acked := make(chan struct{})
			if err := d.Send(t.Context(), func() { close(acked) },
				sluice.Message[event.Event]{Value: parsed}, sluice.Message[event.Event]{Value: failed}); err != nil {
				t.Fatal(err)
			}
			<-acked
			stop()
			got := lines(t, path)
			if len(got) != 2 {
				t.Fatalf("got %d lines: %q", len(got), got)
			}
			for i, l := range got {
				if has := strings.Contains(l, `"raw":`); has != tc.want[i] {
					t.Errorf("line %d has raw = %v, want %v: %s", i, has, tc.want[i], l)
				}
				if !strings.Contains(l, `"message":"hello"`) && i == 0 {
					t.Errorf("line %d lost the parsed message: %s", i, l)
				}
			}
		})
	}
}

func TestRotationBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.log")
	d, _ := file.New(file.Config{Path: path, Format: "raw", MaxBytes: 1000, Batch: batch.Config{Count: 10, Age: time.Millisecond}})
	stop := start(t, d)
	sendAll(t, d, 1000, nil)
	stop()
	rotated, _ := filepath.Glob(filepath.Join(dir, "events-*.log"))
	if len(rotated) < 3 {
		t.Errorf("%d rotated files, want several", len(rotated))
	}
	for _, p := range append(rotated, path) {
		if st, _ := os.Stat(p); st.Size() > 1000 {
			t.Errorf("%s holds %d bytes, over maxBytes 1000", p, st.Size())
		}
	}
	got := lines(t, filepath.Join(dir, "events*.log"))
	sort.Strings(got)
	if !slices.Equal(got, want(1000)) {
		t.Errorf("files hold %d lines, want each of the 1000 once", len(got))
	}
}

func TestGzipSurvivesATornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.ndjson.gz")
	d, _ := file.New(file.Config{Path: path, Format: "raw", Compression: "gzip", Batch: batch.Config{Count: 10, Age: time.Millisecond}})
	stop := start(t, d)
	sendAll(t, d, 100, nil)
	stop()
	got := lines(t, path)
	if len(got) != 100 {
		t.Fatalf("gzip file holds %d lines, want 100", len(got))
	}
	// A crash mid-write leaves a torn member: the complete ones still read.
	b, _ := os.ReadFile(path)
	zr, _ := gzip.NewReader(bytes.NewReader(b[:len(b)-5]))
	partial, err := io.ReadAll(zr)
	if err == nil || bytes.Count(partial, []byte("\n")) < 90 {
		t.Errorf("torn file: read %d lines, err %v; want at least 90 and an error", bytes.Count(partial, []byte("\n")), err)
	}
	// A restart rotates the old file away rather than append after a torn member.
	if err := os.WriteFile(path, b[:len(b)-5], 0o644); err != nil {
		t.Fatal(err)
	}
	d2, _ := file.New(file.Config{Path: path, Format: "raw", Compression: "gzip"})
	stop2 := start(t, d2)
	sendAll(t, d2, 1, nil)
	stop2()
	if got := lines(t, path); len(got) != 1 {
		t.Errorf("new file holds %q, want one line", got)
	}
	if old, _ := filepath.Glob(filepath.Join(dir, "events-*.ndjson.gz")); len(old) != 1 {
		t.Errorf("rotated away: %v", old)
	}
}

// TestGzipLevel checks that compressionLevel reaches the compressor: a
// gzip member's XFL byte says 4 at the fastest level, 2 at the smallest,
// 0 at the others (RFC 1952), and every level reads back the same lines.
func TestGzipLevel(t *testing.T) {
	for _, tc := range []struct {
		level int
		xfl   byte
	}{{0, 0}, {1, 4}, {6, 0}, {9, 2}} {
		t.Run(fmt.Sprint(tc.level), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.ndjson.gz")
			d, err := file.New(file.Config{Path: path, Format: "raw", Compression: "gzip", CompressionLevel: tc.level})
			if err != nil {
				t.Fatal(err)
			}
			stop := start(t, d)
			sendAll(t, d, 100, nil)
			stop()
			got := lines(t, path)
			sort.Strings(got)
			if !slices.Equal(got, want(100)) {
				t.Errorf("file holds %d lines, want the 100 sent", len(got))
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < 10 || b[8] != tc.xfl {
				t.Errorf("gzip header % x: XFL want %d", b[:min(len(b), 10)], tc.xfl)
			}
		})
	}
}

func TestRestartCutsATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	if err := os.WriteFile(path, []byte("a\nb\ntorn li"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := file.New(file.Config{Path: path, Format: "raw"})
	stop := start(t, d)
	sendAll(t, d, 1, nil)
	stop()
	b, _ := os.ReadFile(path)
	if string(b) != "a\nb\ne0\n" {
		t.Errorf("file = %q, want the torn line cut", b)
	}
}

func TestStopFlushesWhatItHolds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	d, _ := file.New(file.Config{Path: path, Format: "raw", Batch: batch.Config{Count: 1000, Age: time.Hour}})
	stop := start(t, d)
	var acked atomic.Int64
	for i := range 10 {
		if err := d.Send(t.Context(), func() { acked.Add(1) }, ev(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if acked.Load() != 10 || len(lines(t, path)) != 10 {
		t.Errorf("after stop: %d acked, %d lines; want 10, 10", acked.Load(), len(lines(t, path)))
	}
	if err := d.Send(t.Context(), nil, ev("late")); !errors.Is(err, sluice.ErrClosed) {
		t.Errorf("Send after stop = %v, want ErrClosed", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  file.Config
		want string
	}{
		{file.Config{}, "file: path: required"},
		{file.Config{Path: "x", Format: "xml"}, `format: want json or raw, got "xml"`},
		{file.Config{Path: "x", Compression: "zip"}, `compression: want none or gzip, got "zip"`},
		{file.Config{Path: "x", JSONRaw: "never"}, `jsonRaw: want always or unparsed, got "never"`},
		{file.Config{Path: "x", RotatedPath: "x.old"}, "rotatedPath: want a path holding {time}"},
		{file.Config{Path: "x", MaxBytes: -1}, "maxBytes: want 0 or more, got -1"},
		{file.Config{Path: "x", Compression: "gzip", CompressionLevel: 10}, "compressionLevel: want 1 to 9, got 10"},
		{file.Config{Path: "x", CompressionLevel: -1}, "compressionLevel: want 1 to 9, got -1"},
	} {
		if _, err := file.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestRotationByAge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.log")
	d, _ := file.New(file.Config{Path: path, Format: "raw", MaxBytes: 0, MaxAge: 10 * time.Millisecond, Batch: batch.Config{Count: 1}})
	stop := start(t, d)
	sendAll(t, d, 1, nil)
	time.Sleep(20 * time.Millisecond) // let the file grow older than maxAge
	sendAll(t, d, 1, nil)
	stop()
	rotated, _ := filepath.Glob(filepath.Join(dir, "events-*.log"))
	if len(rotated) != 1 {
		t.Fatalf("rotated files: %v, want one", rotated)
	}
	if got := lines(t, rotated[0]); len(got) != 1 {
		t.Errorf("rotated file holds %q, want the first event", got)
	}
	if got := lines(t, path); len(got) != 1 {
		t.Errorf("current file holds %q, want the second event", got)
	}
}

// TestOpenFailsRun: a file that cannot be opened fails Run at start; the
// events sent before are neither written nor acked, and the error counts
// them.
func TestOpenFailsRun(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := file.New(file.Config{Path: filepath.Join(notDir, "events.log")})
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Bool
	if err := d.Send(t.Context(), func() { acked.Store(true) }, ev("a"), ev("b")); err != nil {
		t.Fatal(err)
	}
	err = d.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "2 messages not delivered") || errors.Is(err, sluice.ErrUndelivered) {
		t.Errorf("Run = %v, want the open error counting 2 events", err)
	}
	if acked.Load() {
		t.Error("acked events that were never written")
	}
	if err := d.Run(t.Context()); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
}
