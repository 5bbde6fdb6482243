package lokitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Query reads every entry of the streams that selector ({a="x"}, with
// |= "text" line filters if need be) picks
// between start and end from the Loki at baseURL (a [Server] or a real
// Loki) with query_range, forward, a page of 5000 at a time; entries of
// one instant that two pages both hold are returned once.
func Query(baseURL, tenant, selector string, start, end time.Time) ([]Entry, error) {
	var out []Entry
	from := start.UnixNano()
	seenAt := map[string]bool{} // lines at from, returned by the last page
	for {
		q := url.Values{"query": {selector}, "start": {strconv.FormatInt(from, 10)}, "end": {strconv.FormatInt(end.UnixNano(), 10)},
			"limit": {"5000"}, "direction": {"forward"}}
		req, err := http.NewRequest(http.MethodGet, baseURL+"/loki/api/v1/query_range?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		if tenant != "" {
			req.Header.Set("X-Scope-OrgID", tenant)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("query_range: %s: %s", resp.Status, b)
		}
		var r struct {
			Data struct {
				Result []struct {
					Values [][2]string `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("query_range: %w", err)
		}
		var page []Entry
		for _, st := range r.Data.Result {
			for _, v := range st.Values {
				ns, err := strconv.ParseInt(v[0], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("query_range: timestamp %q", v[0])
				}
				page = append(page, Entry{TS: time.Unix(0, ns), Line: v[1]})
			}
		}
		slices.SortStableFunc(page, func(a, b Entry) int { return a.TS.Compare(b.TS) })
		next := map[string]bool{}
		last := from
		for _, e := range page {
			ns := e.TS.UnixNano()
			if ns == from && seenAt[e.Line] {
				continue
			}
			out = append(out, e)
			if ns > last {
				last, next = ns, map[string]bool{}
			}
			if ns == last {
				next[e.Line] = true
			}
		}
		if len(page) < 5000 {
			return out, nil
		}
		if last == from && len(next) <= len(seenAt) {
			return nil, fmt.Errorf("query_range: more than 5000 entries at one instant %d: narrow the query with a line filter", from)
		}
		if last != from {
			seenAt = next
		} else {
			for l := range next {
				seenAt[l] = true
			}
		}
		from = last
	}
}

// client keeps no idle connection, so that a test's leak check does not
// see one.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
