package daemon

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestOnlyUndelivered: sluiced exits 3 (ExitUndelivered) only when every
// error of the run reports events left undelivered; any failure among
// them exits 1.
func TestOnlyUndelivered(t *testing.T) {
	undelivered := fmt.Errorf("destination s3: batch: 5 messages: %w", sluice.ErrUndelivered)
	failure := errors.New("destination file: fsync: input/output error")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"one report", undelivered, true},
		{"joined reports", errors.Join(undelivered, fmt.Errorf("drain timed out: %w", sluice.ErrUndelivered)), true},
		{"a report inside a join", errors.Join(errors.Join(undelivered)), true},
		{"a failure", failure, false},
		{"a failure and a report", errors.Join(failure, undelivered), false},
		{"an empty join", errors.Join(nil, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := onlyUndelivered(tc.err); got != tc.want {
				t.Errorf("onlyUndelivered(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
