package file_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/event"
)

// SendLines writes a run's bytes as they are in format raw, and as
// events in format json, in order with what Send writes; each run is
// acked only once its lines are in the file, whole.
func TestSendLines(t *testing.T) {
	for _, format := range []string{"raw", "json"} {
		t.Run(format, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			d, err := file.New(file.Config{Path: path, Format: format, MaxBytes: 0,
				Batch: batch.Config{Count: 3, Age: time.Millisecond, Parallelism: 1, Eager: true}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()

			var mu sync.Mutex
			var problems []string
			var acks sync.WaitGroup
			var want []string
			send := func(lines ...string) {
				l := &event.Lines{Template: event.Event{Source: "s", SourceType: "test"}}
				for _, s := range lines {
					l.Bytes = append(append(l.Bytes, s...), '\n')
					l.Ends = append(l.Ends, len(l.Bytes))
				}
				want = append(want, lines...)
				acks.Add(1)
				if err := d.SendLines(ctx, func() {
					defer acks.Done()
					b, _ := os.ReadFile(path)
					for _, s := range lines {
						if !bytes.Contains(b, []byte(s)) {
							mu.Lock()
							problems = append(problems, "acked before "+s+" was in the file")
							mu.Unlock()
						}
					}
				}, l); err != nil {
					t.Fatal(err)
				}
			}
			send("run 1 line 1", "run 1 line 2", "run 1 line 3", "run 1 line 4", "run 1 line 5")
			acks.Add(1)
			want = append(want, "an event")
			if err := d.Send(ctx, acks.Done, ev("an event")); err != nil {
				t.Fatal(err)
			}
			send("run 2 line 1")
			acks.Wait()
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if len(got) != len(want) {
				t.Fatalf("%d lines in the file, want %d: %q", len(got), len(want), got)
			}
			for i := range want {
				if format == "raw" && got[i] != want[i] || format == "json" && !strings.Contains(got[i], `"raw":"`+want[i]+`"`) {
					t.Errorf("line %d = %q, want %q", i, got[i], want[i])
				}
			}
			if format == "json" && !strings.Contains(got[0], `"source":"s"`) {
				t.Errorf("the template's fields are not written: %q", got[0])
			}
		})
	}
}
