package config

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// field is a struct field that a JSON key can name.
type field struct {
	name     string
	index    []int // as for reflect.Value.FieldByIndex
	typ      reflect.Type
	tagged   bool // the name comes from a json tag
	required bool // `sluice:"required"`
	secret   bool // `sluice:"secret"`, or of type Secret
}

// structInfo lists a struct type's fields in declaration order, promoted
// fields in the place of the struct that embeds them.
type structInfo struct {
	fields []field
	byName map[string]int
	names  []string // in field order, for suggestions
}

var structCache sync.Map // reflect.Type -> *structInfo

func structFields(t reflect.Type) *structInfo {
	if info, ok := structCache.Load(t); ok {
		return info.(*structInfo)
	}
	info, _ := structCache.LoadOrStore(t, newStructInfo(t))
	return info.(*structInfo)
}

// newStructInfo collects the fields of t as encoding/json does: breadth
// first through embedded structs, where a shallower field hides a deeper
// one of the same name, a tagged one wins over untagged ones at the same
// depth, and otherwise names that clash at the same depth are dropped.
// Embedded pointers to unexported struct types are skipped, as they
// cannot be allocated.
func newStructInfo(t reflect.Type) *structInfo {
	type embedded struct {
		typ   reflect.Type
		index []int
	}
	var all []field
	visited := map[reflect.Type]bool{}
	for next := []embedded{{typ: t}}; len(next) > 0; {
		current := next
		next = nil
		for _, e := range current {
			if visited[e.typ] {
				continue
			}
			visited[e.typ] = true
			for i := range e.typ.NumField() {
				sf := e.typ.Field(i)
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				index := append(slices.Clone(e.index), i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						if !sf.IsExported() {
							continue
						}
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
					if name == "" && ft.Kind() == reflect.Struct {
						next = append(next, embedded{ft, index})
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				f := field{name: name, index: index, typ: sf.Type, tagged: name != ""}
				if name == "" {
					f.name = sf.Name
				}
				for opt := range strings.SplitSeq(sf.Tag.Get("sluice"), ",") {
					switch strings.TrimSpace(opt) {
					case "required":
						f.required = true
					case "secret":
						f.secret = true
					}
				}
				f.secret = f.secret || isSecretType(sf.Type)
				all = append(all, f)
			}
		}
	}

	slices.SortFunc(all, func(a, b field) int {
		return cmp.Or(
			strings.Compare(a.name, b.name),
			cmp.Compare(len(a.index), len(b.index)),
			boolCompare(b.tagged, a.tagged), // tagged first
			slices.Compare(a.index, b.index),
		)
	})
	var fields []field
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].name == all[i].name {
			j++
		}
		if j == i+1 || len(all[i+1].index) > len(all[i].index) || all[i+1].tagged != all[i].tagged {
			fields = append(fields, all[i])
		}
		i = j
	}
	slices.SortFunc(fields, func(a, b field) int { return slices.Compare(a.index, b.index) })

	info := &structInfo{fields: fields, byName: make(map[string]int, len(fields))}
	for i, f := range fields {
		info.byName[f.name] = i
		info.names = append(info.names, f.name)
	}
	return info
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}

// isSecretType reports whether t holds a Secret: Secret, *Secret,
// []Secret, map[string]Secret and so on.
func isSecretType(t reflect.Type) bool {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		default:
			return t == secretType
		}
	}
}

// fieldForSet returns the field of struct v at index, allocating nil
// embedded pointers on the way.
func fieldForSet(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// fieldForGet returns the field of struct v at index, or the zero value of
// its type if a nil embedded pointer is in the way.
func fieldForGet(v reflect.Value, index []int, typ reflect.Type) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Zero(typ)
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}
