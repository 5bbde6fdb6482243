//go:build race

package batch_test

// raceEnabled is set when the race detector is on: it changes what the
// runtime allocates (sync.Pool drops items at random, for one), so tests
// of allocations skip.
const raceEnabled = true
