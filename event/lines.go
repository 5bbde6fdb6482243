package event

// Lines is a run of events handed over as the bytes a raw-format
// destination writes for them: each event's Raw followed by '\n', back to
// back in Bytes. Event i is Bytes[Ends[i-1]:Ends[i]-1] (from 0 for the
// first), and its other fields are Template's. A source that reads lines
// from a stream hands a whole read over this way, with no event built per
// line; see the daemon's LineSource.
type Lines struct {
	// Template holds every field of the events but Raw, which it leaves
	// nil.
	Template Event
	// Bytes holds the events' Raw bytes, each followed by '\n'.
	Bytes []byte
	// Ends holds where each event ends in Bytes, after its '\n': len(Ends)
	// events, and Ends[len(Ends)-1] == len(Bytes).
	Ends []int
}

// Len returns the number of events.
func (l *Lines) Len() int { return len(l.Ends) }

// RawBytes returns the events' Raw bytes in all, without the newlines.
func (l *Lines) RawBytes() int { return len(l.Bytes) - len(l.Ends) }

// Raw returns event i's Raw bytes (without its '\n').
func (l *Lines) Raw(i int) []byte {
	start := 0
	if i > 0 {
		start = l.Ends[i-1]
	}
	return l.Bytes[start : l.Ends[i]-1 : l.Ends[i]-1]
}

// Event returns event i: Template with Raw set.
func (l *Lines) Event(i int) Event {
	e := l.Template
	e.Raw = l.Raw(i)
	return e
}
