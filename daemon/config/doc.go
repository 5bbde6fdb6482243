// Package config reads the daemon's configuration files strictly.
//
// A file is HuJSON: JSON with comments and trailing commas. [Parse] turns
// it into standard JSON with the same byte offsets; a syntax error is a
// [*SyntaxError] that reads "line:column: message". [Decode] then decodes
// a JSON value into a Go value by reflection and reports every problem it
// finds, not just the first. [Peek] reads one string, such as "type",
// before decoding, and [Describe] lists a config struct's fields for the
// reference documentation.
//
// # Decoding rules
//
//   - An object decodes into a struct by the fields' json tag names (or Go
//     names, when untagged), matched exactly: case matters. Fields of
//     embedded structs are promoted as encoding/json promotes them. A key
//     that names no field is an "unknown field" error, with a suggestion
//     when a field differs only in case or is within edit distance 2. A
//     key given twice is a "duplicate field" (in a map, "duplicate key").
//   - A field tagged `sluice:"required"` must be present; null counts as
//     absent. A field tagged `sluice:"secret"`, or of type [Secret], never
//     has its value shown in an error, nor has anything inside it. Tags
//     combine: `sluice:"required,secret"`.
//   - Decode sets only what the data holds: the caller fills in defaults
//     before calling. An array replaces a slice; an object merges into a
//     map; a member that is null leaves its field or map entry as it was.
//     A null array element is an error unless the element is a pointer,
//     an interface, a [json.RawMessage] or a [json.Unmarshaler].
//   - Integers are range-checked for their Go type and must be written
//     without a fraction or exponent. A [time.Duration] is a string for
//     [time.ParseDuration] ("30s", "1m30s", "500ms"), never a number.
//   - A type whose pointer implements [encoding.TextUnmarshaler] takes a
//     string; one that implements [json.Unmarshaler] takes any other value,
//     raw, and so does [json.RawMessage]. An `any` gets what encoding/json
//     would give it.
//   - After a struct decodes without error, its Validate method, if it has
//     one, is called; see [Decode].
//
// # Environment variables
//
// A string value that is exactly "$NAME", or that contains "${NAME}", takes
// the value of the environment variable NAME (a letter or '_', then
// letters, digits and '_'). "$$" stands for a single "$", so "$${NAME}" is
// the text "${NAME}" and "pa$$word" is "pa$word". Any other "$" is kept:
// "$5", "a$b" and "http://$HOST/" stay as they are (write "${HOST}"). A
// variable that is not set is an error, never an empty string; one that is
// set to "" gives "". Values are not expanded again.
//
// Expansion comes before conversion: a string that referred to at least
// one variable fills an integer, number, boolean ([strconv.ParseBool]) or
// duration field, so "$PORT" can give a port. A string without a
// reference in such a field is an error. Strings inside a
// [json.RawMessage], an `any` or a [json.Unmarshaler], and object keys,
// are not expanded.
//
// # Errors
//
// Every problem found by Decode is a [*FieldError] whose Path names the
// place in the file, such as "sources.web.port", "routes[1].from" or
// `headers["a.b"]`. Decode returns them joined with [errors.Join], in
// document order (the order of keys in the file); a struct's missing
// required fields follow its keys, in field order, and then come the
// problems its Validate method reported. The messages are for the person
// who wrote the file, and other packages' tests pin them:
//
//	unknown field
//	unknown field (did you mean "addr"?)
//	duplicate field
//	duplicate key
//	required
//	expected a string, got a number
//	expected an array of strings, got an object
//	expected an integer, got 1.5
//	expected an integer between 0 and 65535, got 70000
//	expected a duration string like "30s", got "30 s"
//	expected a boolean, got "yes" (from $DEBUG)
//	invalid value "udpp": <the UnmarshalText or UnmarshalJSON error>
//	environment variable PORT is not set
//	missing "}" after "${" (write "$$" for a literal "$")
//	invalid environment variable name "1A"
//	cannot decode into Go type chan int
//
// A value is shown (", got …", "invalid value …") only if it is at most
// 40 characters long and not secret; otherwise the message stops before
// it. "(from $A, $B)" names the variables a value came from.
package config
