package daemon_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/daemon/config"
)

var update = flag.Bool("update", false, "rewrite docs/config.md")

// TestConfigReference keeps docs/config.md, the config reference, equal to
// what the code says: every type, every field, its type, default and doc
// comment. Run "go test ./daemon -run ConfigReference -update" after a
// config change.
func TestConfigReference(t *testing.T) {
	got := reference(t)
	const path = "../docs/config.md"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("docs/config.md is out of date: run go test ./daemon -run ConfigReference -update")
	}
}

func reference(t *testing.T) string {
	r := builtin.Registry()
	var b strings.Builder
	b.WriteString(`# sluiced configuration reference

Generated from the code by ` + "`go test ./daemon -run ConfigReference -update`" + `; do not edit.

A config file is HuJSON: JSON with comments and trailing commas. A string
value that is exactly ` + "`\"$VAR\"`" + ` or contains ` + "`${VAR}`" + ` is taken from the environment
(an unset variable is an error; ` + "`$$`" + ` is a literal ` + "`$`" + `). Durations are strings
such as ` + "`\"30s\"`" + ` or ` + "`\"1m30s\"`" + `. Secrets never appear in logs or errors.

Every source, destination and handler is an object with a ` + "`\"type\"`" + `. Every
destination may also name a ` + "`\"deadLetter\"`" + `: another destination that takes the
batches it rejects permanently (for example an HTTP 400), after which they
count as delivered; without one, such a failure stops the daemon with its
error. A destination or a route may also have a ` + "`\"buffer\"`" + ` (see Buffers).
A handler that can fail on an event (the ` + "`wasm`" + ` handler) may name a
` + "`\"deadLetter\"`" + ` destination too: it takes the events the handler failed on, with
the reason in their fields, and the pipeline goes on; without one, such a
failure stops the daemon.

`)
	section(t, &b, "## The file", "", &daemon.File{DataDir: "./sluice-data", ShutdownTimeout: 30e9, Log: daemon.LogConfig{Level: "info", Format: "text"}})
	b.WriteString(`## Buffers

` + "`\"buffer\"`" + ` on a destination, or on a route (after its handlers, before its
destinations). ` + "`\"memory\"`" + ` (the default) is the destination's own batching: an
event is acknowledged to its source once the destination has written it,
so a source that cannot replay (syslog, http, stdin) loses what was in
flight if sluiced crashes. ` + "`\"disk\"`" + ` puts a spool in front: an event is
acknowledged to its source once it is fsynced to the spool, and the
destination reads the spool in order; a crash, a restart or an outage of
the destination loses nothing acknowledged. See docs/delivery.md.

`)
	section(t, &b, "### `buffer`", "", &daemon.BufferConfig{Type: "memory", MaxBytes: 1 << 30, SegmentBytes: 64 << 20,
		WhenFull: "block", Sync: "batch", SyncInterval: 100e6, CheckpointInterval: 100e6, BatchCount: 1024, BatchAge: 1e6, Parallelism: 1})
	for _, k := range []daemon.Kind{daemon.KindSource, daemon.KindDestination, daemon.KindHandler} {
		fmt.Fprintf(&b, "## %ss\n\n", strings.ToUpper(k.String()[:1])+k.String()[1:])
		for _, typ := range r.Types(k) {
			cfg, doc, _ := r.Defaults(k, typ)
			section(t, &b, fmt.Sprintf("### `%s`", typ), doc, cfg)
		}
	}
	return b.String()
}

func section(t *testing.T, b *strings.Builder, title, doc string, cfg any) {
	fmt.Fprintf(b, "%s\n\n", title)
	if doc != "" {
		fmt.Fprintf(b, "%s.\n\n", strings.ToUpper(doc[:1])+doc[1:])
	}
	fields := config.Describe(cfg)
	if len(fields) == 0 {
		b.WriteString("No settings.\n\n")
		return
	}
	b.WriteString("| Field | Type | Default | Description |\n|---|---|---|---|\n")
	for _, f := range fields {
		def := f.Default
		if def == "" {
			def = "none"
		} else {
			def = "`" + def + "`"
		}
		if f.Required {
			def = "**required**"
		}
		desc := fieldDoc(t, reflect.TypeOf(cfg), f.Path)
		if desc == "" {
			t.Errorf("%s: field %s has no doc comment", title, f.Path)
		}
		if strings.Contains(f.Path, ".") && f.Default != "" && !f.Required {
			desc = dropOtherDefault(desc, f.Default)
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", f.Path, f.Type, def, desc)
	}
	b.WriteString("\n")
}

// defaultClause is the sentence of a doc comment that states a default.
var defaultClause = regexp.MustCompile(`\s*Default[: ][^.]*\.`)

// dropOtherDefault removes from desc, the doc of a field of a shared type
// (such as batch.Config), the sentence stating a default that is not def,
// the default the connector sets: the column shows that one, and the
// shared type's own ("Count ... Default 100") contradicted it.
func dropOtherDefault(desc, def string) string {
	loc := defaultClause.FindStringIndex(desc)
	if loc == nil {
		return desc
	}
	v := strings.Trim(def, `"`)
	if regexp.MustCompile(`(^|[^\w.])` + regexp.QuoteMeta(v) + `($|[^\w])`).MatchString(desc[loc[0]:loc[1]]) {
		return desc
	}
	return strings.TrimSpace(desc[:loc[0]] + desc[loc[1]:])
}

// fieldDoc returns the doc comment of the field at path below type t,
// read from its package's source.
func fieldDoc(t *testing.T, typ reflect.Type, path string) string {
	parts := strings.Split(strings.ReplaceAll(path, "[]", ""), ".")
	for i, p := range parts {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct {
			return ""
		}
		sf, ok := fieldByJSON(typ, p)
		if !ok {
			return ""
		}
		if i == len(parts)-1 {
			return comment(t, typ, sf.Name)
		}
		typ = sf.Type
	}
	return ""
}

func fieldByJSON(typ reflect.Type, name string) (reflect.StructField, bool) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var (
	parsed   = map[string]map[string]map[string]string{} // pkg dir → type → field → doc
	parsedMu sync.Mutex
)

// comment finds the doc comment of field name of struct type typ.
func comment(t *testing.T, typ reflect.Type, name string) string {
	const module = "github.com/sluicehq/sluice"
	dir := filepath.Join("..", strings.TrimPrefix(strings.TrimPrefix(typ.PkgPath(), module), "/"))
	parsedMu.Lock()
	defer parsedMu.Unlock()
	types, ok := parsed[dir]
	if !ok {
		types = map[string]map[string]string{}
		fset := token.NewFileSet()
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok {
					return true
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					return true
				}
				fields := map[string]string{}
				for _, f := range st.Fields.List {
					text := strings.Join(strings.Fields(f.Doc.Text()), " ")
					for _, n := range f.Names {
						fields[n.Name] = text
					}
				}
				types[ts.Name.Name] = fields
				return true
			})
		}
		parsed[dir] = types
	}
	return strings.ReplaceAll(types[typ.Name()][name], "|", `\|`)
}
