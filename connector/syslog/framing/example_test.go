package framing_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/sluicehq/sluice/connector/syslog/framing"
)

func ExampleReader() {
	stream := "<13>Oct 11 22:14:15 host app: newline-framed\n" +
		"31 <13>1 - - - - - - octet-counted" +
		"<13>1 - - - - - - last, without LF"
	z := framing.NewReader(strings.NewReader(stream), 0)
	for {
		msg, truncated, err := z.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err) // close the connection
			break
		}
		fmt.Printf("%q %v\n", msg, truncated)
	}
	// Output:
	// "<13>Oct 11 22:14:15 host app: newline-framed" false
	// "<13>1 - - - - - - octet-counted" false
	// "<13>1 - - - - - - last, without LF" false
}
