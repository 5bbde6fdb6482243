package daemon_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDeliveryFigures checks every default that docs/delivery.md quotes as
// "`field` (value)" or "`field`, value)" against the default that
// docs/config.md gives for that connector's field, which
// TestConfigReference generates from the code: in a table row, for the
// row's connector; in the disk buffer section, for the buffer.
func TestDeliveryFigures(t *testing.T) {
	defaults := configDefaults(t)
	doc, err := os.ReadFile("../docs/delivery.md")
	if err != nil {
		t.Fatal(err)
	}
	figure := regexp.MustCompile("`([a-zA-Z][a-zA-Z.]*)`(?: \\(|, )([0-9][0-9a-zA-Z.]*)\\)")
	rowHead := regexp.MustCompile("^\\| (?:(source|destination|buffer) )?`([a-z_0-9]+)`")
	section, table := "", ""
	checked := 0
	for n, line := range strings.Split(string(doc), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			section, table = line, ""
			continue
		case strings.HasPrefix(line, "| Destination |"):
			table = "destination"
		case strings.HasPrefix(line, "| Source |"):
			table = "source"
		case !strings.HasPrefix(line, "|"):
			table = ""
		}
		var comp string
		if m := rowHead.FindStringSubmatch(line); m != nil {
			kind := m[1]
			if kind == "" {
				kind = table
			}
			comp = kind + " " + m[2]
		} else if strings.HasPrefix(section, "## Disk buffers") {
			comp = "buffer disk"
		}
		for _, m := range figure.FindAllStringSubmatch(line, -1) {
			field, quoted := m[1], m[2]
			if comp == "" {
				t.Errorf("docs/delivery.md:%d: `%s` (%s) is in no connector's row or section", n+1, field, quoted)
				continue
			}
			want, ok := defaults[comp][field]
			if !ok {
				t.Errorf("docs/delivery.md:%d: %s: `%s` (%s): docs/config.md has no default for it", n+1, comp, field, quoted)
				continue
			}
			if !sameValue(quoted, want) {
				t.Errorf("docs/delivery.md:%d: %s: `%s` is quoted as %s, its default is %s", n+1, comp, field, quoted, want)
			}
			checked++
		}
	}
	if checked < 15 {
		t.Errorf("checked %d figures; docs/delivery.md quotes more", checked)
	}
	t.Logf("%d figures checked", checked)
}

// configDefaults reads docs/config.md: by "source TYPE", "destination
// TYPE" and "buffer disk", each field's default as the table shows it.
func configDefaults(t *testing.T) map[string]map[string]string {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([^`]+)` \\| [^|]+ \\| ([^|]+) \\|")
	out := map[string]map[string]string{}
	kind, comp := "", ""
	for _, line := range strings.Split(string(doc), "\n") {
		switch {
		case line == "## Sources":
			kind = "source"
		case line == "## Destinations":
			kind = "destination"
		case line == "## Buffers":
			kind = "buffer"
		case strings.HasPrefix(line, "## "):
			kind = ""
		case strings.HasPrefix(line, "### `") && kind != "":
			comp = kind + " " + strings.Trim(strings.TrimPrefix(line, "### "), "`")
			if kind == "buffer" {
				comp = "buffer disk"
			}
		}
		if m := row.FindStringSubmatch(line); m != nil && kind != "" {
			if out[comp] == nil {
				out[comp] = map[string]string{}
			}
			out[comp][m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`\"")
		}
	}
	if len(out) < 20 {
		t.Fatalf("read the defaults of %d connectors from docs/config.md; it has more", len(out))
	}
	return out
}

// sameValue compares a figure and a default as durations if both are
// ones, else as text.
func sameValue(a, b string) bool {
	da, errA := time.ParseDuration(a)
	db, errB := time.ParseDuration(b)
	if errA == nil && errB == nil {
		return da == db
	}
	return a == b
}
