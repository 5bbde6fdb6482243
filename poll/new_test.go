package poll_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/poll"
	"github.com/sluicehq/sluice/retry"
)

func TestNew(t *testing.T) {
	ok := newScripted(t)
	tests := []struct {
		name    string
		cfg     poll.Config
		nilPoll bool
		nilFunc bool
		wantErr string // "" for none
	}{
		{name: "zero config"},
		{name: "all set", cfg: poll.Config{Interval: time.Minute, Max: 10,
			Retry: retry.Policy{Initial: time.Second, Max: time.Minute, Multiplier: 1.5, MaxAttempts: 3}}},
		{name: "initial above the default max", cfg: poll.Config{Retry: retry.Policy{Initial: time.Hour}}},
		{name: "nil poller", nilPoll: true, wantErr: "poller is nil"},
		{name: "nil PollFunc", nilFunc: true, wantErr: "poller is nil"},
		{name: "negative interval", cfg: poll.Config{Interval: -1}, wantErr: "interval -1ns is negative"},
		{name: "negative max", cfg: poll.Config{Max: -1}, wantErr: "max -1 is negative"},
		{name: "invalid retry policy", cfg: poll.Config{Retry: retry.Policy{Multiplier: 0.5}}, wantErr: "retry.multiplier: want"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p poll.Poller[string] = ok
			switch {
			case tc.nilPoll:
				p = nil
			case tc.nilFunc:
				p = poll.PollFunc[string](nil)
			}
			s, err := poll.New(tc.cfg, p, nil, poll.WithLogger(nil))
			if tc.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("New() = %v, %v; want a Source", s, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "poll: new: ") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New() error = %v, want poll: new: … %s", err, tc.wantErr)
			}
			if err := tc.cfg.Validate(); !tc.nilPoll && !tc.nilFunc && err == nil {
				t.Errorf("Validate() = nil, want an error")
			}
		})
	}
}

func TestNewReportsEveryError(t *testing.T) {
	_, err := poll.New[string](poll.Config{Interval: -1, Max: -1}, nil)
	for _, want := range []string{"poller is nil", "interval", "max -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New() error = %v, want it to mention %q", err, want)
		}
	}
}

func TestMax(t *testing.T) {
	for _, tc := range []struct {
		max, want int
	}{{0, poll.DefaultMax}, {7, 7}} {
		p := newScripted(t)
		s, err := poll.New[string](poll.Config{Max: tc.max}, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Recv(t.Context()); !errors.Is(err, io.EOF) {
			t.Fatalf("Recv: %v, want io.EOF", err)
		}
		if got := p.maxes; len(got) != 1 || got[0] != tc.want {
			t.Errorf("Max %d: Poll called with max %v, want [%d]", tc.max, got, tc.want)
		}
	}
}
