package nature

import "reflect"

// sluice: expr finds no methods (see SLUICE.md). Looking a method up by a
// name or an index known only at run time makes the Go linker keep every
// exported method of every type that is stored in an interface anywhere in
// the program, used or not (megabytes); a type here has no methods, so
// expressions read fields, map keys and elements, and call functions.

func numMethod(reflect.Type) int { return 0 }

// methodAt is never called, as numMethod is 0.
func methodAt(reflect.Type, int) reflect.Method {
	panic("expr: no method lookups in this build (see SLUICE.md)")
}
