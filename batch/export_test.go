package batch

// SetOnWake installs f to be called each time d's Run loop wakes up, so a
// test can check that an idle Destination does not.
func SetOnWake[T any](d *Destination[T], f func()) { d.onWake = f }
