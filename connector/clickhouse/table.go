package clickhouse

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// checkTable asks the server, once, whether the table exists, and logs
// at Warn if it does not: INSERTs into it will fail as schema errors, and
// their events go to the dead letter (or stop Run without one), so a
// sluiced started before its schema was created says so before the first
// batch rather than only in the dead letter. A server that is down or
// will not answer is left to the flushes, which retry.
func (in *inserter) checkTable(ctx context.Context) {
	table := in.cfg.Database + "." + in.cfg.Table
	switch exists, err := in.tableExists(ctx); {
	case err != nil:
		in.log.Debug("clickhouse: could not check that the table exists", "table", table, "err", err)
	case !exists:
		in.log.Warn("clickhouse: the table does not exist: its events go to the dead letter until it does (without one, the first batch stops the destination)", "table", table)
	}
}

// tableExists asks the server whether the table exists (EXISTS TABLE,
// which every server version answers with 0 or 1; some answer a missing
// database with UNKNOWN_DATABASE instead of 0).
func (in *inserter) tableExists(ctx context.Context) (bool, error) {
	u := in.cfg.queryURL(url.Values{"query": {"EXISTS TABLE " + in.cfg.Database + "." + in.cfg.Table}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	if in.cfg.Username != "" {
		req.SetBasicAuth(in.cfg.Username, in.cfg.Password.Reveal())
	}
	resp, err := in.client.Do(req)
	if err != nil {
		_, err = in.secrets.TransportError(ctx, "clickhouse: GET "+in.endpoint, err)
		return false, err
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if err != nil {
		return false, err
	}
	body := strings.TrimSpace(string(text))
	if resp.StatusCode == http.StatusOK && (body == "0" || body == "1") {
		return body == "1", nil
	}
	se := parseError(in.endpoint, resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"), in.secrets.Redact(body))
	if se.Code == 81 { // UNKNOWN_DATABASE
		return false, nil
	}
	return false, fmt.Errorf("clickhouse: EXISTS TABLE: %w", se)
}
