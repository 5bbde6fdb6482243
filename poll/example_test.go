package poll_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/poll"
)

// A Source over an API that is read page by page. The page's ack (here,
// a print; in practice, storing the next page token) fires once every
// message of the page was acked.
func ExampleNew() {
	pages := [][]string{{"a", "b"}, {"c"}}
	api := poll.PollFunc[string](func(ctx context.Context, max int) ([]sluice.Message[string], func(), error) {
		if len(pages) == 0 {
			return nil, nil, io.EOF // no more pages: the source is exhausted
		}
		page := pages[0]
		pages = pages[1:]
		msgs := make([]sluice.Message[string], len(page))
		for i, v := range page {
			msgs[i].Value = v
		}
		return msgs, func() { fmt.Println("page", page, "done") }, nil
	})

	src, err := poll.New(poll.Config{Max: 10}, api)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for {
		msg, ack, err := src.Recv(ctx)
		if errors.Is(err, io.EOF) {
			fmt.Println("end")
			return
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("got", msg.Value)
		ack()
	}
	// Output:
	// got a
	// got b
	// page [a b] done
	// got c
	// page [c] done
	// end
}
