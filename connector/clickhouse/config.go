package clickhouse

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
)

// Config configures the "clickhouse" destination, made by [New].
type Config struct {
	// URL is the server's HTTP interface, such as "http://host:8123" (or
	// https://); a path is kept (for a proxy such as chproxy). It must not
	// hold credentials or a query: use Username, Password and Settings.
	// Required.
	URL string `json:"url" sluice:"required"`
	// Database holds the table. Default "default".
	Database string `json:"database"`
	// Table receives the rows: INSERT INTO database.table FORMAT
	// JSONEachRow, one row per event, its columns named as the event's JSON
	// fields (ts, receivedAt, source, sourceType, host, contentType, raw,
	// ...). Required.
	Table string `json:"table" sluice:"required"`
	// Username is sent with HTTP basic authentication when set. Default
	// "": the server's default user.
	Username string `json:"username"`
	// Password is Username's password. Default "".
	Password config.Secret `json:"password"`
	// Settings are ClickHouse settings sent as URL parameters with every
	// INSERT (old servers reject them in the body). They are added to
	// the defaults, input_format_skip_unknown_fields=1 (JSON fields the
	// table lacks are ignored) and date_time_input_format=best_effort (ts
	// is RFC 3339 with nanoseconds); a value of "" removes a default.
	Settings map[string]string `json:"settings"`
	// Compression is how bodies are compressed: "lz4" sends them in
	// ClickHouse's own compressed format (LZ4 blocks with checksums, URL
	// parameter decompress=1), which every server version takes; "gzip"
	// gzips them (Content-Encoding: gzip, level 1); "none" sends them as
	// they are. On log rows lz4 takes 0.57× gzip's instructions to
	// compress, for 1.45× the bytes (docs/stores/clickhouse.md has the
	// figures). Default "lz4".
	Compression string `json:"compression"`
	// Nested is how the event's nested objects (file, syslog, http,
	// fields) are sent: "flatten" sends each value under its dotted path
	// as a top-level name ("syslog.appName", "fields.user",
	// "syslog.structuredData.ID.param"), filling columns of those names on
	// every server version, 18.x included; "objects" sends them as JSON
	// objects, for Map, Tuple or JSON columns or
	// input_format_import_nested_json (18.x imports only one level).
	// Default "flatten".
	Nested string `json:"nested"`
	// Timeout bounds one INSERT, from connecting to reading the response;
	// one that takes longer is retried (and may then be stored twice: see
	// the package doc). Default 30s.
	Timeout time.Duration `json:"timeout"`
	// IdleTimeout is how long an idle connection is kept for the next
	// INSERT. It must be shorter than the server's keep_alive_timeout
	// (3s by default; 10s on recent servers), or a request may go out on
	// a connection the server is closing. Default 2s.
	IdleTimeout time.Duration `json:"idleTimeout"`
	// Batch sets when batches are cut and how failed INSERTs are retried
	// (maxAttempts 0, the default, retries without limit). ClickHouse
	// wants few large INSERTs: defaults count 10000, bytes 8 MiB (the
	// rows' uncompressed bytes; with a deadLetter, each event counts as
	// its raw size plus 256), age 1s, parallelism 2, stopTimeout 5s.
	Batch batch.Config `json:"batch"`
}

// DefaultConfig returns a Config with every default set, and no URL or
// table.
func DefaultConfig() Config {
	return Config{Database: "default", Compression: "lz4", Nested: "flatten", Timeout: 30 * time.Second, IdleTimeout: 2 * time.Second,
		Batch: batch.Config{Count: 10000, Bytes: 8 << 20, Age: time.Second, Parallelism: 2}}
}

// DefaultSettings are the settings sent unless Config.Settings removes
// them.
var DefaultSettings = map[string]string{
	"input_format_skip_unknown_fields": "1",
	"date_time_input_format":           "best_effort",
}

// Validate checks c's fields, each error naming the field's path.
func (c *Config) Validate() error {
	var errs []error
	if c.URL != "" {
		if err := checkURL(c.URL); err != nil {
			errs = append(errs, &config.FieldError{Path: "url", Msg: err.Error()})
		}
	}
	if c.Database != "" && !validName(c.Database) {
		errs = append(errs, &config.FieldError{Path: "database", Msg: fmt.Sprintf("want a name of letters, digits and _, got %q", c.Database)})
	}
	if c.Table != "" && !validName(c.Table) {
		errs = append(errs, &config.FieldError{Path: "table", Msg: fmt.Sprintf("want a name of letters, digits and _, got %q", c.Table)})
	}
	for k := range c.Settings {
		if !validName(k) || k == "query" || k == "database" || k == "user" || k == "password" {
			errs = append(errs, &config.FieldError{Path: "settings." + k, Msg: "not a setting name"})
		}
	}
	if c.Compression != "" && c.Compression != "lz4" && c.Compression != "gzip" && c.Compression != "none" {
		errs = append(errs, config.Want("compression", "lz4, gzip or none", c.Compression))
	}
	if c.Nested != "" && c.Nested != "flatten" && c.Nested != "objects" {
		errs = append(errs, config.Want("nested", "flatten or objects", c.Nested))
	}
	if c.Timeout < 0 {
		errs = append(errs, config.Want("timeout", "0 or more", c.Timeout))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, config.Want("idleTimeout", "0 or more", c.IdleTimeout))
	}
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, config.Nest("batch", err)...)
	}
	return errors.Join(errs...)
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.Database == "" {
		c.Database = def.Database
	}
	if c.Compression == "" {
		c.Compression = def.Compression
	}
	if c.Nested == "" {
		c.Nested = def.Nested
	}
	if c.Timeout == 0 {
		c.Timeout = def.Timeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = def.IdleTimeout
	}
	if c.Batch == (batch.Config{}) {
		c.Batch = def.Batch
	}
	return c
}

// insertURL returns the URL of c's INSERT: the query and the settings as
// URL parameters.
func (c Config) insertURL() string {
	q := url.Values{}
	for k, v := range DefaultSettings {
		q.Set(k, v)
	}
	for k, v := range c.Settings {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	q.Set("query", "INSERT INTO "+c.Database+"."+c.Table+" FORMAT JSONEachRow")
	if c.Compression == "lz4" {
		q.Set("decompress", "1")
	}
	return c.queryURL(q)
}

// queryURL returns c.URL with its query string q.
func (c Config) queryURL(q url.Values) string {
	u, _ := url.Parse(c.URL) // checked by Validate
	u.RawQuery = q.Encode()
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("want an http:// or https:// URL, got scheme %q", u.Scheme)
	case u.Host == "":
		return errors.New("URL has no host")
	case u.User != nil:
		return errors.New("URL must not hold credentials: use username and password")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("URL must not hold a query: use settings")
	}
	return nil
}

// validName reports whether s is a plain identifier, which needs no
// quoting in a query.
func validName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
