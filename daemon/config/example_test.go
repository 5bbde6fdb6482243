package config_test

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
)

// WebConfig is a connector's configuration.
type WebConfig struct {
	// Addr is the address to listen on. Required.
	Addr string `json:"addr" sluice:"required"`
	// MaxConnections limits concurrent connections. Default 100.
	MaxConnections int `json:"maxConnections"`
	// Timeout is the read timeout. Default 30s.
	Timeout time.Duration `json:"timeout"`
	// Token authenticates clients.
	Token config.Secret `json:"token"`
}

// Decode reports every problem in a connector's config, each with its path.
func Example() {
	file := []byte(`{
		// The web source.
		"type": "web",
		"adr": ":8080",
		"maxConnections": "many",
		"timeout": 30,
		"token": "$WEB_TOKEN",
	}`)
	data, err := config.Parse(file)
	if err != nil {
		fmt.Println(err)
		return
	}
	typ, _ := config.Peek(data, "type")
	fmt.Println("type:", typ)

	cfg := WebConfig{MaxConnections: 100, Timeout: 30 * time.Second} // defaults
	noEnv := func(string) (string, bool) { return "", false }
	err = config.Decode(data, "sources.web", &cfg, config.Skip("type"), config.WithLookup(noEnv))
	fmt.Println(err)
	// Output:
	// type: web
	// sources.web.adr: unknown field (did you mean "addr"?)
	// sources.web.maxConnections: want an integer, got a string
	// sources.web.timeout: want a duration string like "30s", got a number
	// sources.web.token: environment variable WEB_TOKEN is not set
	// sources.web.addr: required
}

func ExampleParse() {
	_, err := config.Parse([]byte("{\n  \"addr\": \":8080\"\n  \"timeout\": \"30s\"\n}"))
	fmt.Printf("sluice.hujson:%v\n", err)
	// Output:
	// sluice.hujson:3:3: invalid character '"' after object value (expecting ',' or '}')
}

func ExampleDecode_environment() {
	env := map[string]string{"PORT": "8080", "TOKEN": "hunter2"}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }

	var cfg struct {
		Addr  string        `json:"addr"`
		Port  int           `json:"port"`
		Token config.Secret `json:"token"`
		Price string        `json:"price"`
	}
	data := []byte(`{"addr": "${HOST}:${PORT}", "port": "$PORT", "token": "$TOKEN", "price": "$$5"}`)
	err := config.Decode(data, "", &cfg, config.WithLookup(lookup))
	fmt.Println(err)
	fmt.Println(cfg.Port, cfg.Token, cfg.Token.Reveal(), cfg.Price)
	// Output:
	// addr: environment variable HOST is not set
	// 8080 REDACTED hunter2 $5
}

func ExampleSecret() {
	s := config.Secret("hunter2")
	fmt.Printf("%v %s %q %#v %x\n", s, s, s, s, s)
	fmt.Printf("%q\n", config.Secret(""))
	fmt.Println(s.Reveal())
	// Output:
	// REDACTED REDACTED "REDACTED" "REDACTED" REDACTED
	// ""
	// hunter2
}

func ExampleDescribe() {
	for _, f := range config.Describe(WebConfig{MaxConnections: 100, Timeout: 30 * time.Second}) {
		fmt.Printf("%-15s %-9s required=%-5v secret=%-5v default=%s\n", f.Path, f.Type, f.Required, f.Secret, f.Default)
	}
	// Output:
	// addr            string    required=true  secret=false default=
	// maxConnections  integer   required=false secret=false default=100
	// timeout         duration  required=false secret=false default="30s"
	// token           secret    required=false secret=true  default=
}
