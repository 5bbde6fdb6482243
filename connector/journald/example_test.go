package journald_test

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connector/journald"
)

// A source that follows the entries of one unit from the start of the
// journal, saving its cursor in /var/lib/sluice/ssh. A sluice.Processor
// given it as its Source calls its Run and Recv.
func ExampleNew() {
	src, err := journald.New(journald.Config{
		Units:              []string{"ssh.service"},
		StartAt:            "beginning",
		StateDir:           "/var/lib/sluice/ssh",
		CheckpointInterval: time.Second,
	}, "ssh")
	fmt.Println(src != nil, err)
	// Output: true <nil>
}
