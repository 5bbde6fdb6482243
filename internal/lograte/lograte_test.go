package lograte

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	r := New(10 * time.Second)
	now := time.Unix(1000, 0)
	r.now = func() time.Time { return now }
	for _, step := range []struct {
		after time.Duration
		msg   string
		n     int
	}{
		{0, "refused", 1000}, // a flood: one line
		{0, "other", 3},      // another kind has its own interval
		{5 * time.Second, "refused", 10},
		{5 * time.Second, "refused", 1}, // the interval is over: one line, 1009 left out
	} {
		now = now.Add(step.after)
		for range step.n {
			r.Log(l, slog.LevelWarn, step.msg, "remote", "x")
		}
	}
	r.Log(l, slog.LevelDebug, "refused") // below the handler's level: nothing, not counted
	want := "level=WARN msg=refused remote=x\n" +
		"level=WARN msg=other remote=x\n" +
		"level=WARN msg=refused remote=x suppressed=1009\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if strings.Count(buf.String(), "\n") != 3 {
		t.Error("flooded")
	}
}
