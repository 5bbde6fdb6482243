// Package lokitest is a Loki for tests: an HTTP server with Loki's push
// and query_range APIs, its status codes, its default limits and its
// error messages, word for word, so that a client's handling of them can
// be tested without a Loki. [Query] reads a real Loki the same way.
//
// The limits are Loki's defaults (limits_config): reject_old_samples_max_age
// 168h, creation_grace_period 10m, max_line_size 256KB,
// max_label_names_per_series 15, max_label_value_length 2048; unordered
// writes, with entries more than max_chunk_age/2 (1h) behind a stream's
// newest refused as too far behind; at most max_returned_errors (10)
// refused entries listed per stream; an entry identical to one stored
// (stream, timestamp and line) dropped; request bodies over 4 MiB
// (grpc_server_max_recv_msg_size) answered 500. The distributor checks
// every entry and stores the valid ones of a push that also has invalid
// ones, answering 400 with the reasons; a push with no error gets 204.
package lokitest

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults of Loki's limits_config.
const (
	MaxAge           = 168 * time.Hour
	GracePeriod      = 10 * time.Minute
	MaxLineSize      = 256 << 10
	MaxLabels        = 15
	MaxLabelValueLen = 2048
	MaxBodyBytes     = 4 << 20
	OutOfOrderWindow = time.Hour // max_chunk_age (2h) / 2
	MaxReturnedErrs  = 10
)

// Entry is one stored log line.
type Entry struct {
	TS   time.Time
	Line string
}

// Server is a Loki. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server
	// Fault, if set, is called before each push is handled, with its
	// number from 1; a status other than 0 answers the push with it (and
	// Retry-After, if set) without storing anything.
	Fault func(n int) (status int, retryAfter string)
	// Now is the server's clock. Default time.Now.
	Now func() time.Time

	mu      sync.Mutex
	pushes  int
	streams map[string]*stream // tenant + "\x00" + labels string
	tenants map[string]bool
}

type stream struct {
	labels  map[string]string
	entries []Entry
	newest  time.Time
	seen    map[Entry]bool
}

// Start starts a Server that t's cleanup stops.
func Start(t testing.TB) *Server {
	s := &Server{streams: map[string]*stream{}, tenants: map[string]bool{}, Now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /loki/api/v1/push", s.push)
	mux.HandleFunc("GET /loki/api/v1/query_range", s.queryRange)
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ready\n") })
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// Pushes returns how many pushes the server received.
func (s *Server) Pushes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushes
}

// Tenants returns the X-Scope-OrgID values pushed with ("" for none).
func (s *Server) Tenants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.tenants {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

type pushRequest struct {
	Streams []struct {
		Stream map[string]string `json:"stream"`
		Values [][]any           `json:"values"`
	} `json:"streams"`
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.pushes++
	n := s.pushes
	s.mu.Unlock()
	if s.Fault != nil {
		if status, ra := s.Fault(n); status != 0 {
			if ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			msg := map[int]string{429: "Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest '1' lines totaling '100' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased",
				503: "at least 2 live replicas required, could only find 1"}[status]
			http.Error(w, msg, status)
			return
		}
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, "gzip: "+err.Error(), http.StatusBadRequest)
			return
		}
		body = io.LimitReader(zr, MaxBodyBytes+1)
	}
	b, err := io.ReadAll(body)
	if err != nil || len(b) > MaxBodyBytes {
		http.Error(w, fmt.Sprintf("rpc error: code = ResourceExhausted desc = grpc: received message larger than max (%d vs. %d)", max(int64(len(b)), r.ContentLength), MaxBodyBytes), http.StatusInternalServerError)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		http.Error(w, "unsupported Content-Type "+strconv.Quote(ct)+" (this test server speaks JSON)", http.StatusUnsupportedMediaType)
		return
	}
	var req pushRequest
	if err := json.Unmarshal(b, &req); err != nil {
		http.Error(w, "loghttp.PushRequest.Streams: "+err.Error(), http.StatusBadRequest)
		return
	}
	tenant := r.Header.Get("X-Scope-OrgID")
	now := s.Now()
	var errs []string
	s.mu.Lock()
	s.tenants[tenant] = true
	for _, st := range req.Streams {
		ls := labelsString(st.Stream)
		switch {
		case len(st.Stream) == 0:
			errs = append(errs, "error at least one label pair is required per stream")
			continue
		case len(st.Stream) > MaxLabels:
			errs = append(errs, fmt.Sprintf("stream '%s' has %d label names; limit %d", ls, len(st.Stream), MaxLabels))
			continue
		}
		tooLong := false
		for k, v := range st.Stream {
			if len(v) > MaxLabelValueLen {
				errs = append(errs, fmt.Sprintf("stream '%s' has label value too long: %d; limit %d. Label: '%s'", ls, len(v), MaxLabelValueLen, k))
				tooLong = true
			}
		}
		if tooLong {
			continue
		}
		key := tenant + "\x00" + ls
		str := s.streams[key]
		if str == nil {
			str = &stream{labels: st.Stream, seen: map[Entry]bool{}}
			s.streams[key] = str
		}
		var ignored []string
		total := 0
		for _, v := range st.Values {
			total++
			e, ok := entryOf(v)
			if !ok {
				errs = append(errs, fmt.Sprintf("loghttp.PushRequest.Streams: bad value %v", v))
				continue
			}
			switch {
			case e.TS.Before(now.Add(-MaxAge)):
				errs = append(errs, fmt.Sprintf("entry for stream '%s' has timestamp too old: %v, oldest acceptable timestamp is: %v",
					ls, e.TS.Format(time.RFC3339), now.Add(-MaxAge).Format(time.RFC3339)))
			case e.TS.After(now.Add(GracePeriod)):
				errs = append(errs, fmt.Sprintf("entry for stream '%s' has timestamp too new: %v", ls, e.TS.Format(time.RFC3339)))
			case len(e.Line) > MaxLineSize:
				errs = append(errs, fmt.Sprintf("Max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes", MaxLineSize, ls, len(e.Line)))
			case str.seen[e]: // a duplicate: dropped without a word
			case !str.newest.IsZero() && e.TS.Before(str.newest.Add(-OutOfOrderWindow)):
				ignored = append(ignored, fmt.Sprintf("entry with timestamp %s ignored, reason: 'entry too far behind, entry timestamp is: %s, oldest acceptable timestamp is: %s',",
					e.TS.String(), e.TS.Format(time.RFC3339), str.newest.Add(-OutOfOrderWindow).Format(time.RFC3339)))
			default:
				str.seen[e] = true
				str.entries = append(str.entries, e)
				if e.TS.After(str.newest) {
					str.newest = e.TS
				}
			}
		}
		if len(ignored) > 0 {
			n := len(ignored)
			errs = append(errs, strings.Join(ignored[:min(n, MaxReturnedErrs)], "\n")+
				fmt.Sprintf("\nuser '%s', total ignored: %d out of %d for stream: %s", tenant, n, total, ls))
		}
	}
	s.mu.Unlock()
	if len(errs) > 0 {
		http.Error(w, strings.Join(errs, "\n"), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func entryOf(v []any) (Entry, bool) {
	if len(v) < 2 {
		return Entry{}, false
	}
	ts, ok1 := v[0].(string)
	line, ok2 := v[1].(string)
	ns, err := strconv.ParseInt(ts, 10, 64)
	if !ok1 || !ok2 || err != nil {
		return Entry{}, false
	}
	return Entry{TS: time.Unix(0, ns), Line: line}, true
}

// labelsString writes labels as Loki does: {a="x", b="y"}, sorted.
func labelsString(m map[string]string) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// queryRange answers a LogQL stream selector of equality matchers,
// {a="x", b="y"}, optionally followed by line filters |= "text", over
// [start, end] in nanoseconds, forward, up to limit entries.
func (s *Server) queryRange(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := q.Get("query")
	var filters []string
	if i := strings.Index(query, "}"); i >= 0 {
		rest := strings.TrimSpace(query[i+1:])
		query = query[:i+1]
		for rest != "" {
			f, ok := strings.CutPrefix(rest, "|=")
			if !ok {
				http.Error(w, "parse error: this test server knows only |= line filters", http.StatusBadRequest)
				return
			}
			f = strings.TrimSpace(f)
			lit, err := strconv.QuotedPrefix(f)
			if err != nil {
				http.Error(w, "parse error: "+err.Error(), http.StatusBadRequest)
				return
			}
			v, _ := strconv.Unquote(lit)
			filters = append(filters, v)
			rest = strings.TrimSpace(f[len(lit):])
		}
	}
	sel, err := parseMatchers(query)
	if err != nil {
		http.Error(w, "parse error: "+err.Error(), http.StatusBadRequest)
		return
	}
	start, _ := strconv.ParseInt(q.Get("start"), 10, 64)
	end, _ := strconv.ParseInt(q.Get("end"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	tenant := r.Header.Get("X-Scope-OrgID")
	type result struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	var all []struct {
		labels map[string]string
		e      Entry
	}
	s.mu.Lock()
	for key, st := range s.streams {
		if !strings.HasPrefix(key, tenant+"\x00") || !matches(st.labels, sel) {
			continue
		}
	entries:
		for _, e := range st.entries {
			for _, f := range filters {
				if !strings.Contains(e.Line, f) {
					continue entries
				}
			}
			if ns := e.TS.UnixNano(); ns >= start && ns <= end {
				all = append(all, struct {
					labels map[string]string
					e      Entry
				}{st.labels, e})
			}
		}
	}
	s.mu.Unlock()
	slices.SortStableFunc(all, func(a, b struct {
		labels map[string]string
		e      Entry
	}) int {
		return a.e.TS.Compare(b.e.TS)
	})
	all = all[:min(len(all), limit)]
	byStream := map[string]*result{}
	var out []*result
	for _, x := range all {
		k := labelsString(x.labels)
		if byStream[k] == nil {
			byStream[k] = &result{Stream: x.labels}
			out = append(out, byStream[k])
		}
		byStream[k].Values = append(byStream[k].Values, [2]string{strconv.FormatInt(x.e.TS.UnixNano(), 10), x.e.Line})
	}
	if out == nil {
		out = []*result{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "streams", "result": out}})
}

func matches(labels, sel map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// parseMatchers parses {a="x", b="y"}.
func parseMatchers(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("want a stream selector such as {job=\"x\"}, got %q", s)
	}
	m := map[string]string{}
	rest := s[1 : len(s)-1]
	for strings.TrimSpace(rest) != "" {
		rest = strings.TrimLeft(rest, " ,")
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, fmt.Errorf("no = in %q", s)
		}
		q, err := strconv.QuotedPrefix(after)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q", s)
		}
		m[strings.TrimSpace(name)], _ = strconv.Unquote(q)
		rest = after[len(q):]
	}
	return m, nil
}
