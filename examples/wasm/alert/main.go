// Command alert is a sluice wasm handler: it passes every event on, and
// for each one whose line matches a regular expression it also emits an
// alert event to another route. Its config:
//
//	{"pattern": "regular expression (Go syntax)", "route": "the route that takes alerts"}
//
// Build it as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o alert.wasm
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/handler/wasm/guest"
)

// Config is the handler's "config".
type Config struct {
	Pattern string `json:"pattern"`
	Route   string `json:"route"`
}

var (
	pattern *regexp.Regexp
	route   string
)

func init() {
	guest.Init(configure)
	guest.Handle(handle)
}

func configure(raw []byte) error {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("config: %v", err)
	}
	if c.Pattern == "" || c.Route == "" {
		return errors.New(`config: "pattern" and "route" are required`)
	}
	re, err := regexp.Compile(c.Pattern)
	if err != nil {
		return fmt.Errorf("config.pattern: %v", err)
	}
	pattern, route = re, c.Route
	return nil
}

func handle(e *event.Event, out *guest.Out) error {
	out.Emit(e)
	line := e.Syslog.Message
	if !e.Syslog.Present {
		line = string(e.Raw)
	}
	if !pattern.MatchString(line) {
		return nil
	}
	alert := event.Event{
		Time: e.Timestamp(), ReceivedAt: e.ReceivedAt, Source: e.Source, SourceType: e.SourceType, Host: e.Host,
		Raw: []byte("ALERT " + line),
		Fields: []event.Field{
			{Name: "alert.pattern", Value: pattern.String()},
			{Name: "alert.line", Value: line},
		},
	}
	out.EmitTo(route, &alert)
	return nil
}

func main() {}
