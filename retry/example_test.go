package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/retry"
)

func ExampleDo() {
	p := retry.Policy{Initial: time.Millisecond, Max: 10 * time.Millisecond, MaxAttempts: 5}
	calls := 0
	err := retry.Do(context.Background(), p, nil, func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return sluice.Retryable(errors.New("connection reset"))
		}
		return nil
	})
	fmt.Println(calls, err)

	calls = 0
	err = retry.Do(context.Background(), p, nil, func(ctx context.Context) error {
		calls++
		return errors.New("bad request") // not retryable: returned at once
	})
	fmt.Println(calls, err)
	// Output:
	// 3 <nil>
	// 1 bad request
}

func ExampleAfter() {
	// An HTTP client turns "429 Too Many Requests, Retry-After: 2" into:
	err := retry.After(errors.New("http: 429 too many requests"), 2*time.Second)
	d, ok := retry.Hint(err)
	fmt.Println(sluice.IsRetryable(err), d, ok)
	// Output:
	// true 2s true
}
