package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// network is an enum with UnmarshalText.
type network string

func (n *network) UnmarshalText(b []byte) error {
	switch s := string(b); s {
	case "udp", "tcp", "udp+tcp":
		*n = network(s)
		return nil
	default:
		return errors.New("want udp, tcp or udp+tcp")
	}
}

// level is a json.Unmarshaler that takes a number from 0 to 9.
type level int

func (l *level) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err != nil || n < 0 || n > 9 {
		return fmt.Errorf("level %s is not 0 to 9", b)
	}
	*l = level(n)
	return nil
}

type tlsConfig struct {
	CertFile string `json:"certFile" sluice:"required"`
	KeyFile  string `json:"keyFile"`
	Password Secret `json:"password"`
}

type route struct {
	From []string `json:"from" sluice:"required"`
	To   string   `json:"to"`
}

// Validate checks a route the way a connector's Validate would.
func (r route) Validate() error {
	if r.To == "nowhere" {
		return &FieldError{Path: "to", Msg: "not a destination"}
	}
	return nil
}

type common struct {
	Name  string `json:"name"`
	Debug bool   `json:"debug"`
}

// webConfig has a field of every supported kind.
type webConfig struct {
	common
	Addr           string            `json:"addr" sluice:"required"`
	Port           uint16            `json:"port"`
	MaxConnections int               `json:"maxConnections"`
	Offset         int8              `json:"offset"`
	Ratio          float64           `json:"ratio"`
	Timeout        time.Duration     `json:"timeout"`
	Token          Secret            `json:"token"`
	APIKey         string            `json:"apiKey" sluice:"secret"`
	PIN            int               `json:"pin" sluice:"secret"`
	Network        network           `json:"network"`
	Level          level             `json:"level"`
	Allow          []netip.Prefix    `json:"allow"`
	Tags           []string          `json:"tags"`
	Headers        map[string]string `json:"headers"`
	Limits         map[string]int    `json:"limits"`
	TLS            *tlsConfig        `json:"tls"`
	Routes         []route           `json:"routes"`
	Extra          json.RawMessage   `json:"extra"`
	Any            any               `json:"any"`
	Retries        *int              `json:"retries"`
	Delays         []time.Duration   `json:"delays"`
	Matrix         [][]string        `json:"matrix"`
	Untagged       string
	Ignored        string `json:"-"`
	//lint:ignore U1000 present so that Decode is seen to skip unexported fields
	unexported string
}

// Validate checks the whole config.
func (c *webConfig) Validate() error {
	var errs []error
	if c.Network == "udp" && c.TLS != nil {
		errs = append(errs, &FieldError{Path: "tls", Msg: "not with udp"})
	}
	if c.Name == "invalid" {
		errs = append(errs, errors.New("name is invalid"))
	}
	if c.Name == "nested" {
		errs = append(errs, errors.Join(
			&FieldError{Path: "name", Msg: "one"},
			errors.Join(&FieldError{Path: "routes[0]", Msg: "two"}, &FieldError{Msg: "three"}),
		))
	}
	return errors.Join(errs...)
}

// env is the environment the tests decode with.
var env = map[string]string{
	"PORT":    "8080",
	"HOST":    "example.com",
	"EMPTY":   "",
	"ENABLED": "true",
	"TIMEOUT": "1m30s",
	"RATIO":   "0.5",
	"WORD":    "eighty",
	"BIG":     "70000",
	"LONG":    strings.Repeat("x", 41),
	"PASS":    "hunter2",
	"NET":     "udpp",
	"DOLLAR":  "$HOST",
}

func lookup(name string) (string, bool) {
	v, ok := env[name]
	return v, ok
}

// messages returns the messages of err, which Decode returned, checking
// that each is a *FieldError.
func messages(err error) ([]string, error) {
	if err == nil {
		return nil, nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if fe, ok := err.(*FieldError); ok {
			return []string{fe.Error()}, nil
		}
		return nil, fmt.Errorf("%T is not a *FieldError or a join of them: %v", err, err)
	}
	var msgs []string
	for _, e := range j.Unwrap() {
		fe, ok := e.(*FieldError)
		if !ok {
			return nil, fmt.Errorf("%T is not a *FieldError: %v", e, e)
		}
		msgs = append(msgs, fe.Error())
	}
	return msgs, nil
}
