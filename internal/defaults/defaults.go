// Package defaults fills a config's zero fields from its defaults, the
// rule every connector's New follows: "zero fields of c take the defaults
// of DefaultConfig".
package defaults

import "reflect"

// Fill sets each exported top-level field of *c that holds its zero value
// to the same field of d. Nested structs are replaced whole, not merged.
func Fill[T any](c *T, d T) {
	cv, dv := reflect.ValueOf(c).Elem(), reflect.ValueOf(d)
	if cv.Kind() != reflect.Struct {
		return
	}
	for i := range cv.NumField() {
		if f := cv.Field(i); f.CanSet() && f.IsZero() {
			f.Set(dv.Field(i))
		}
	}
}
