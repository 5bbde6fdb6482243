package file

// Queued returns how many lines s has queued and not handed out,
// counting a batch the reader waits to queue.
func Queued(s *Source) int64 { return s.queued.Load() }
