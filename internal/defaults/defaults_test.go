package defaults_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/defaults"
)

type inner struct{ N int }

type config struct {
	Addr    string
	Wait    time.Duration
	Max     int
	On      *bool
	List    []string
	Inner   inner
	private int
}

func TestFill(t *testing.T) {
	yes := true
	d := config{Addr: "127.0.0.1:1", Wait: time.Second, Max: 7, On: &yes, List: []string{"a"}, Inner: inner{3}, private: 9}
	c := config{Addr: "0.0.0.0:2", Max: 0, Inner: inner{0}}
	defaults.Fill(&c, d)
	if c.Addr != "0.0.0.0:2" || c.Wait != time.Second || c.Max != 7 || c.On != &yes || len(c.List) != 1 || c.Inner.N != 3 || c.private != 0 {
		t.Errorf("Fill gave %+v", c)
	}
	n := 5
	defaults.Fill(&n, 6) // not a struct: nothing happens
	if n != 5 {
		t.Errorf("Fill changed a non-struct: %d", n)
	}
}
