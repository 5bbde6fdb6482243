package loki_test

import (
	"fmt"

	"github.com/sluicehq/sluice/connector/loki"
)

// New checks the config, label templates included, and does no I/O.
func ExampleNew() {
	d, err := loki.New(loki.Config{URL: "http://localhost:3100", TenantID: "team-a",
		Labels: map[string]string{"job": "sluiced", "app": "{syslog.appName}", "unit": "{fields._SYSTEMD_UNIT}"}})
	fmt.Println(d != nil, err)
	_, err = loki.New(loki.Config{URL: "http://localhost:3100", Labels: map[string]string{"app": "{syslog.app}"}})
	fmt.Println(err != nil)
	// Output:
	// true <nil>
	// true
}
