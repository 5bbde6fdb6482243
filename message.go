package sluice

import "iter"

// Message is one event as it moves from a [Source] through a [Handler] to a
// [Destination].
//
// A message is handed on, not lent. Once a Source has returned it from
// Recv, a Handler has returned it from Handle, or a caller has passed it
// to Send, whoever passed it must not change it or the memory its fields
// share (the bytes of a []byte Value, a map), and whoever got it may keep
// it as long as it needs (a batching destination keeps it until it is
// written) but must not change that memory either: to change a Value,
// make a new one. The slices that carry messages are not handed on: the
// msgs of a Send belong to its caller.
type Message[T any] struct {
	// Key identifies the message for destinations that partition or
	// deduplicate, such as a Kafka partition key. It may be empty.
	Key string
	// Value is the payload.
	Value T
	// Topic names the stream the message came from or goes to, where the
	// connector has such a notion. It may be empty.
	Topic string
	// Attributes carries metadata from a source to later stages.
	Attributes Attributes
}

// Attr is one key/value pair of [Attributes].
type Attr struct {
	Key, Value string
}

// Attributes is an immutable list of key/value pairs carried with a
// [Message]. The zero value is empty and ready to use, and reading an empty
// Attributes costs no allocation. Methods never modify the receiver, so
// Attributes may be copied and shared between goroutines freely.
type Attributes struct {
	list []Attr
}

// AttributesOf returns Attributes holding attrs. A later pair overrides an
// earlier one with the same key. AttributesOf copies attrs.
func AttributesOf(attrs ...Attr) Attributes {
	list := make([]Attr, 0, len(attrs))
next:
	for _, kv := range attrs {
		for i := range list {
			if list[i].Key == kv.Key {
				list[i].Value = kv.Value
				continue next
			}
		}
		list = append(list, kv)
	}
	return Attributes{list: list}
}

// Get returns the value for key and whether it is present.
func (a Attributes) Get(key string) (string, bool) {
	for i := range a.list {
		if a.list[i].Key == key {
			return a.list[i].Value, true
		}
	}
	return "", false
}

// Value returns the value for key, or "" if it is absent.
func (a Attributes) Value(key string) string {
	v, _ := a.Get(key)
	return v
}

// Len returns the number of pairs.
func (a Attributes) Len() int { return len(a.list) }

// With returns a copy of a with key set to value. a is unchanged.
func (a Attributes) With(key, value string) Attributes {
	list := make([]Attr, len(a.list), len(a.list)+1)
	copy(list, a.list)
	for i := range list {
		if list[i].Key == key {
			list[i].Value = value
			return Attributes{list: list}
		}
	}
	return Attributes{list: append(list, Attr{key, value})}
}

// All returns an iterator over the pairs in order.
func (a Attributes) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, kv := range a.list {
			if !yield(kv.Key, kv.Value) {
				return
			}
		}
	}
}
