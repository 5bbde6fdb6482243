package clickhouse_test

import (
	"fmt"

	"github.com/sluicehq/sluice/connector/clickhouse"
)

// New checks the config and does no I/O: the server is first reached
// when Run inserts a batch.
func ExampleNew() {
	d, err := clickhouse.New(clickhouse.Config{URL: "http://localhost:8123", Table: "logs",
		Settings: map[string]string{"max_insert_threads": "2"}})
	fmt.Println(d != nil, err)
	_, err = clickhouse.New(clickhouse.Config{URL: "http://localhost:8123", Table: "logs; DROP TABLE logs"})
	fmt.Println(err)
	// Output:
	// true <nil>
	// clickhouse: table: want a name of letters, digits and _, got "logs; DROP TABLE logs"
}
