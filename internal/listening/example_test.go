package listening_test

import (
	"fmt"

	"github.com/sluicehq/sluice/internal/listening"
)

func Example() {
	g := listening.New()
	fmt.Printf("%q\n", g.NotReady())
	g.Open() // every address bound
	<-g.Bound()
	fmt.Printf("%q\n", g.NotReady())
	// Output:
	// "not listening yet"
	// ""
}
