// Package estest is an in-process Elasticsearch for tests: the parts of
// its REST API that a log shipper uses, with Elasticsearch's documented
// behaviour and default limits.
//
//   - POST /_bulk and /{index}/_bulk: NDJSON action and document lines
//     ("index" and "create"), per-item results in order, "errors" true
//     when any item failed. A body over http.max_content_length (100mb)
//     gets 413 with no body, as Elasticsearch answers; a body that does not
//     end with a newline, or a bad action line, 400; a Content-Type other
//     than application/json or application/x-ndjson, 406. A body with
//     Content-Encoding gzip (or deflate) is decompressed first, as
//     Elasticsearch always does since 5.0, and the 100mb limit applies to
//     what it decompresses to; one that does not decompress is 400.
//   - Items: 201 created or 200 updated; with "create", an _id that exists
//     is 409 version_conflict_engine_exception; a data stream (see
//     [Server.CreateDataStream]) takes only "create" (400 otherwise) and
//     needs "@timestamp"; a field whose value does not fit its mapping is
//     400 document_parsing_exception (dynamic mapping fixes a top-level
//     field's kind with its first value: object, string, number or boolean;
//     an explicit "long" field takes integers or strings that parse as
//     one, as Elasticsearch coerces them).
//   - PUT /{index} with {"mappings": {"properties": {...}}}: an index with
//     explicit field types (long, keyword, text, object).
//   - GET or POST /{pattern}/_search?size=N: documents of the indices
//     matching pattern (* wildcards), as hits.hits[]._id, _index, _source;
//     POST /{pattern}/_refresh answers 200.
//
// Faults are injected with [Server.Throttle] (whole requests answered 429
// es_rejected_execution_exception with Retry-After) and [Server.RejectItems]
// (items answered 429 es_rejected_execution_exception, as when the write
// thread pool's queue is full).
package estest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// MaxContentLength is Elasticsearch's default http.max_content_length.
const MaxContentLength = 100 << 20

// Server is a running in-process Elasticsearch. Its methods are safe for
// concurrent use.
type Server struct {
	*httptest.Server
	// Username and Password, or APIKey, if set before the first request,
	// are required of every request (401 otherwise).
	Username, Password, APIKey string
	// MaxContentLength is the largest body accepted; default
	// [MaxContentLength].
	MaxContentLength int

	mu       sync.Mutex
	indices  map[string]*index
	streams  map[string]bool
	throttle int    // requests still to answer 429
	after    string // their Retry-After
	reject   func(doc []byte) bool
	down     bool
	drop     int      // requests still to process and then answer by closing the connection
	items    []int    // items per _bulk request processed
	targets  []string // the index in each processed _bulk request's URL
	gzipped  int      // _bulk requests whose body came gzipped
	after1   func()   // called once after the next _bulk request is processed, before its answer
}

type index struct {
	docs    map[string]json.RawMessage
	order   []string
	mapping map[string]string // field → long, keyword, text, object, boolean, float
}

// New starts a Server; it is closed when the test ends, through cleanup.
func New(cleanup func(func())) *Server {
	s := &Server{indices: map[string]*index{}, streams: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	cleanup(s.Close)
	return s
}

// Throttle answers the next n requests to _bulk with 429 and an
// es_rejected_execution_exception body, and a Retry-After header when
// retryAfter is not "".
func (s *Server) Throttle(n int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle, s.after = n, retryAfter
}

// RejectItems answers 429 es_rejected_execution_exception for each bulk
// item whose document f returns true for; nil stops it.
func (s *Server) RejectItems(f func(doc []byte) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = f
}

// CreateDataStream makes name a data stream: it takes only op_type create
// and documents with "@timestamp".
func (s *Server) CreateDataStream(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams[name] = true
	s.indexLocked(name)
}

// Unavailable makes every _bulk request fail with 503 (a cluster with no
// master), or work again.
func (s *Server) Unavailable(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// DropResponses makes the next n _bulk requests store their items and
// then close the connection without an answer, as a timeout or a proxy
// that fails after the cluster did the work.
func (s *Server) DropResponses(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = n
}

// AfterNextBulk calls f once, after the next _bulk request has stored its
// items and before it is answered: the moment when a crash of the client
// leaves stored events it never saw acknowledged.
func (s *Server) AfterNextBulk(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.after1 = f
}

// Targets returns the index that the URL of each _bulk request that
// reached the items named (POST /{index}/_bulk), "" for POST /_bulk, in
// order.
func (s *Server) Targets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.targets...)
}

// Gzipped returns how many _bulk requests came with a gzipped body.
func (s *Server) Gzipped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gzipped
}

// decompress returns the body of r as Content-Encoding says, and whether
// it is gzip.
func decompress(r *http.Request) (io.Reader, bool, error) {
	switch strings.ToLower(r.Header.Get("Content-Encoding")) {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		return zr, true, err
	case "deflate", "x-deflate":
		zr, err := zlib.NewReader(r.Body)
		return zr, false, err
	}
	return r.Body, false, nil
}

// Items returns the number of items of each _bulk request that reached
// the items (not throttled or refused whole), in order.
func (s *Server) Items() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.items...)
}

// Docs returns the documents stored in the indices matching pattern, by
// _id, and the ids in the order stored.
func (s *Server) Docs(pattern string) (map[string]json.RawMessage, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	docs := map[string]json.RawMessage{}
	var ids []string
	for _, name := range s.namesLocked(pattern) {
		x := s.indices[name]
		for _, id := range x.order {
			docs[id] = x.docs[id]
			ids = append(ids, id)
		}
	}
	return docs, ids
}

func (s *Server) namesLocked(pattern string) []string {
	var names []string
	for name := range s.indices {
		for p := range strings.SplitSeq(pattern, ",") {
			if ok, _ := path.Match(p, name); ok || p == "_all" {
				names = append(names, name)
				break
			}
		}
	}
	sort.Strings(names)
	return names
}

func (s *Server) indexLocked(name string) *index {
	x := s.indices[name]
	if x == nil {
		x = &index{docs: map[string]json.RawMessage{}, mapping: map[string]string{}}
		s.indices[name] = x
	}
	return x
}

// esError writes Elasticsearch's error body.
func esError(w http.ResponseWriter, status int, typ, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{
		"error":  map[string]any{"root_cause": []any{map[string]string{"type": typ, "reason": reason}}, "type": typ, "reason": reason},
		"status": status,
	})
	_, _ = w.Write(b)
}

func (s *Server) authorized(r *http.Request) bool {
	switch {
	case s.APIKey != "":
		return r.Header.Get("Authorization") == "ApiKey "+s.APIKey
	case s.Username != "":
		u, p, ok := r.BasicAuth()
		return ok && u == s.Username && p == s.Password
	}
	return true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
		esError(w, http.StatusUnauthorized, "security_exception", "missing authentication credentials for REST request ["+r.URL.Path+"]")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	last := parts[len(parts)-1]
	switch {
	case last == "_bulk" && r.Method == http.MethodPost:
		def := ""
		if len(parts) == 2 {
			def = parts[0]
		}
		s.bulk(w, r, def)
	case last == "_search" && len(parts) == 2:
		s.search(w, r, parts[0])
	case last == "_refresh" && len(parts) == 2:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"_shards":{"total":1,"successful":1,"failed":0}}`)
	case len(parts) == 1 && r.Method == http.MethodPut && parts[0] != "":
		s.putIndex(w, r, parts[0])
	case len(parts) == 2 && parts[0] == "_data_stream" && r.Method == http.MethodPut:
		s.CreateDataStream(parts[1])
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		_, _ = io.WriteString(w, `{"name":"estest","cluster_name":"estest","version":{"number":"8.15.0"},"tagline":"You Know, for Search"}`)
	default:
		esError(w, http.StatusBadRequest, "illegal_argument_exception", "no handler found for uri ["+r.URL.Path+"] and method ["+r.Method+"]")
	}
}

func (s *Server) putIndex(w http.ResponseWriter, r *http.Request, name string) {
	var body struct {
		Mappings struct {
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil && err != io.EOF {
		esError(w, http.StatusBadRequest, "parse_exception", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.indices[name]; ok {
		esError(w, http.StatusBadRequest, "resource_already_exists_exception", "index ["+name+"] already exists")
		return
	}
	x := s.indexLocked(name)
	for f, p := range body.Mappings.Properties {
		x.mapping[f] = p.Type
	}
	_, _ = fmt.Fprintf(w, `{"acknowledged":true,"shards_acknowledged":true,"index":%q}`, name)
}

type item map[string]*itemResult

type itemResult struct {
	Index   string         `json:"_index,omitempty"`
	ID      string         `json:"_id,omitempty"`
	Version int            `json:"_version,omitempty"`
	Result  string         `json:"result,omitempty"`
	Status  int            `json:"status"`
	Error   map[string]any `json:"error,omitempty"`
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request, defIndex string) {
	limit := s.MaxContentLength
	if limit == 0 {
		limit = MaxContentLength
	}
	if r.ContentLength > int64(limit) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); mt != "application/json" && mt != "application/x-ndjson" {
		esError(w, http.StatusNotAcceptable, "illegal_argument_exception", "Content-Type header ["+ct+"] is not supported")
		return
	}
	rd, gzipped, err := decompress(r)
	if err != nil {
		esError(w, http.StatusBadRequest, "parse_exception", "request body is not valid "+r.Header.Get("Content-Encoding")+": "+err.Error())
		return
	}
	body, err := io.ReadAll(io.LimitReader(rd, int64(limit)+1))
	if err != nil && gzipped {
		esError(w, http.StatusBadRequest, "parse_exception", "request body is not valid gzip: "+err.Error())
		return
	}
	if err != nil {
		return
	}
	if gzipped {
		s.mu.Lock()
		s.gzipped++
		s.mu.Unlock()
	}
	if len(body) > limit {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		esError(w, http.StatusServiceUnavailable, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];")
		return
	}
	if s.throttle > 0 {
		s.throttle--
		if s.after != "" {
			w.Header().Set("Retry-After", s.after)
		}
		esError(w, http.StatusTooManyRequests, "es_rejected_execution_exception",
			"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=107374182]")
		return
	}
	if len(body) == 0 {
		esError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
		return
	}
	if body[len(body)-1] != '\n' {
		esError(w, http.StatusBadRequest, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
		return
	}
	var items []item
	anyErr := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, limit)
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			esError(w, http.StatusBadRequest, "illegal_argument_exception", "Malformed action/metadata line ["+strconv.Itoa(len(items)*2+1)+"], expected START_OBJECT or END_OBJECT")
			return
		}
		var op string
		for k := range action {
			op = k
		}
		if op != "index" && op != "create" {
			esError(w, http.StatusBadRequest, "illegal_argument_exception", "Malformed action/metadata line ["+strconv.Itoa(len(items)*2+1)+"], expected one of [create, delete, index, update] but found ["+op+"]")
			return
		}
		if !sc.Scan() {
			esError(w, http.StatusBadRequest, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
			return
		}
		doc := append(json.RawMessage(nil), sc.Bytes()...)
		meta := action[op]
		if meta.Index == "" {
			meta.Index = defIndex
		}
		res := s.itemLocked(op, meta.Index, meta.ID, doc)
		if res.Error != nil {
			anyErr = true
		}
		items = append(items, item{op: res})
	}
	s.items = append(s.items, len(items))
	s.targets = append(s.targets, defIndex)
	if f := s.after1; f != nil {
		s.after1 = nil
		s.mu.Unlock()
		f()
		s.mu.Lock()
	}
	if s.drop > 0 {
		s.drop--
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": anyErr, "items": items})
}

func itemError(res *itemResult, status int, typ, reason string) *itemResult {
	res.Status = status
	res.Error = map[string]any{"type": typ, "reason": reason}
	return res
}

func (s *Server) itemLocked(op, name, id string, doc json.RawMessage) *itemResult {
	res := &itemResult{Index: name, ID: id}
	if name == "" {
		return itemError(res, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
	}
	if s.reject != nil && s.reject(doc) {
		return itemError(res, http.StatusTooManyRequests, "es_rejected_execution_exception",
			"rejected execution of org.elasticsearch.action.support.replication.TransportWriteAction on EsThreadPoolExecutor[name = estest/write, queue capacity = 10000]")
	}
	if s.streams[name] && op != "create" {
		return itemError(res, http.StatusBadRequest, "illegal_argument_exception",
			"only write ops with an op_type of create are allowed in data streams")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(doc, &fields); err != nil {
		return itemError(res, http.StatusBadRequest, "document_parsing_exception", "[1:1] failed to parse: "+err.Error())
	}
	if _, ok := fields["@timestamp"]; s.streams[name] && !ok {
		return itemError(res, http.StatusBadRequest, "document_parsing_exception", "[1:1] failed to parse: data stream timestamp field [@timestamp] is missing")
	}
	x := s.indexLocked(name)
	if id == "" {
		var b [15]byte
		_, _ = rand.Read(b[:])
		id = base64.RawURLEncoding.EncodeToString(b[:])
		res.ID = id
	}
	if _, ok := x.docs[id]; ok && op == "create" {
		return itemError(res, http.StatusConflict, "version_conflict_engine_exception",
			"["+id+"]: version conflict, document already exists (current version [1])")
	}
	added := map[string]string{}
	for f, v := range fields {
		kind := kindOf(v)
		want, ok := x.mapping[f]
		if !ok {
			if _, ok := added[f]; !ok {
				added[f] = map[string]string{"object": "object", "string": "text", "number": "float", "boolean": "boolean", "null": ""}[kind]
			}
			continue
		}
		if reason := fits(want, kind, v); reason != "" {
			return itemError(res, http.StatusBadRequest, "document_parsing_exception",
				fmt.Sprintf("[1:1] failed to parse field [%s] of type [%s] in document with id '%s'. %s", f, want, id, reason))
		}
	}
	for f, t := range added {
		if t != "" {
			x.mapping[f] = t
		}
	}
	res.Version, res.Result, res.Status = 1, "created", http.StatusCreated
	if _, ok := x.docs[id]; ok {
		res.Result, res.Status = "updated", http.StatusOK
	} else {
		x.order = append(x.order, id)
	}
	x.docs[id] = doc
	return res
}

func kindOf(v json.RawMessage) string {
	switch v[0] {
	case '{':
		return "object"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '[':
		return "array"
	}
	return "number"
}

// fits says why a value of kind does not fit a field of type want, or "".
func fits(want, kind string, v json.RawMessage) string {
	if kind == "null" || kind == "array" {
		return ""
	}
	preview := fmt.Sprintf("Preview of field's value: '%s'", strings.Trim(string(v), `"`))
	switch want {
	case "object":
		if kind != "object" {
			return "tried to parse field as object, but found a concrete value"
		}
	case "long", "integer":
		if kind == "object" {
			return preview
		}
		var s string
		if kind == "string" {
			_ = json.Unmarshal(v, &s)
		} else {
			s = string(v)
		}
		if _, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
			return preview
		}
	default:
		if kind == "object" {
			return "tried to parse field [" + want + "] as a concrete value, but found an object"
		}
	}
	return ""
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, pattern string) {
	size := 10
	if v := r.URL.Query().Get("size"); v != "" {
		size, _ = strconv.Atoi(v)
	}
	s.mu.Lock()
	var hits []map[string]any
	total := 0
	for _, name := range s.namesLocked(pattern) {
		x := s.indices[name]
		for _, id := range x.order {
			total++
			if len(hits) < size {
				hits = append(hits, map[string]any{"_index": name, "_id": id, "_source": x.docs[id]})
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"hits": map[string]any{"total": map[string]any{"value": total, "relation": "eq"}, "hits": hits}})
}
