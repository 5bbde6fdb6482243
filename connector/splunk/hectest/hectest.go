// Package hectest is an in-process Splunk HTTP Event Collector for tests,
// written to HEC's documented API:
//
//   - POST /services/collector/event (and /services/collector/event/1.0):
//     "Authorization: Splunk <token>" (401 code 2 without, 403 code 4
//     for another); a body of JSON event objects one after the other,
//     optionally gzipped. Each needs a non-blank "event" (400 code 12 or
//     13) and, if it names one, an index the server has (400 code 7); a
//     refused event stops the request with "invalid-event-number", its
//     place in the body, after the events before it were indexed. Success
//     is {"text":"Success","code":0}.
//   - With indexer acknowledgement on ([Server.AckEnabled]), every
//     request needs a channel GUID (the "channel" query parameter or the
//     X-Splunk-Request-Channel header: 400 code 10 without, 11 if not a
//     GUID), and success carries "ackId", counted from 0 per channel. POST
//     /services/collector/ack {"acks":[ids]} answers {"acks":{"id":bool}};
//     an id is reported true once, then forgotten. A channel holds at most
//     MaxPendingAcks ids not yet reported true; past that, 503 code 9
//     "Server is busy". Without acknowledgement, the ack endpoint answers
//     400 code 14 "ACK is disabled".
//   - GET /services/collector/health: 200 code 17 "HEC is healthy".
//
// Faults: [Server.Busy] (the next requests answered 503 code 9, or 429,
// with Retry-After), [Server.DelayAcks] and [Server.LoseAcks] (acks that
// come late or never, as after an indexer restart).
package hectest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"

	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Event is an indexed event.
type Event struct {
	Time       json.Number     `json:"time"`
	Host       string          `json:"host"`
	Source     string          `json:"source"`
	Sourcetype string          `json:"sourcetype"`
	Index      string          `json:"index"`
	Event      json.RawMessage `json:"event"`
	Fields     map[string]any  `json:"fields"`
}

// Raw returns the event's "event" as a string when it is one.
func (e Event) Raw() string {
	var s string
	if json.Unmarshal(e.Event, &s) == nil {
		return s
	}
	return string(e.Event)
}

// Server is a running in-process HEC. Set its fields before the first
// request; its methods are safe for concurrent use.
type Server struct {
	*httptest.Server
	// Token is the HEC token requests must carry.
	Token string
	// Indexes are the indexes events may name, besides "main"; nil
	// accepts any.
	Indexes []string
	// Refuse, if set, refuses the events it returns true for with 400
	// code 6 "Invalid data format", as HEC refuses a malformed event.
	Refuse func(Event) bool
	// MaxPendingAcks bounds the ack ids a channel holds not yet reported
	// true. Default 1,000,000 (Splunk's
	// max_number_of_acked_requests_pending_query_per_ack_channel).
	MaxPendingAcks int

	mu       sync.Mutex
	ack      bool
	events   []Event
	channels map[string]*channel
	busy     int
	busyCode int
	after    string
	delay    time.Duration
	lose     int
	requests int
	gzipped  int // event requests whose body came gzipped
	onIndex  func()
	maxSeen  int
}

type channel struct {
	next    int64
	pending map[int64]ackState
}

type ackState struct {
	ready time.Time // zero: never (lost)
}

// New starts a Server with token; it is closed by cleanup.
func New(cleanup func(func()), token string) *Server {
	s := &Server{Token: token, channels: map[string]*channel{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	cleanup(s.Close)
	return s
}

// AckEnabled turns indexer acknowledgement on for the token.
func (s *Server) AckEnabled() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ack = true
}

// Busy answers the next n event requests with status (503 with code 9
// "Server is busy", or 429) and a Retry-After header if retryAfter is not
// "".
func (s *Server) Busy(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy, s.busyCode, s.after = n, status, retryAfter
}

// DelayAcks makes ack ids true only d after their request.
func (s *Server) DelayAcks(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// LoseAcks makes the ack ids of the next n successful requests never
// true (their events are indexed all the same).
func (s *Server) LoseAcks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose = n
}

// OnNextIndex calls f once, after the next request's events are indexed
// and before it is answered.
func (s *Server) OnNextIndex(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onIndex = f
}

// Events returns the indexed events, in order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Requests returns the number of event requests received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Gzipped returns the number of event requests whose body came gzipped.
func (s *Server) Gzipped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gzipped
}

// MaxPending returns the most ack ids a channel held not yet reported
// true at once.
func (s *Server) MaxPending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxSeen
}

// Pending returns the ack ids of the channel not yet reported true.
func (s *Server) Pending(ch string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channels[ch]; c != nil {
		return len(c.pending)
	}
	return 0
}

func reply(w http.ResponseWriter, status int, v map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func hecError(w http.ResponseWriter, status, code int, text string) {
	reply(w, status, map[string]any{"text": text, "code": code})
}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/services/collector/health" {
		hecError(w, http.StatusOK, 17, "HEC is healthy")
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		hecError(w, http.StatusUnauthorized, 2, "Token is required")
		return
	}
	if auth != "Splunk "+s.Token {
		hecError(w, http.StatusForbidden, 4, "Invalid token")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := r.URL.Query().Get("channel")
	if ch == "" {
		ch = r.Header.Get("X-Splunk-Request-Channel")
	}
	switch r.URL.Path {
	case "/services/collector/event", "/services/collector/event/1.0", "/services/collector":
		s.event(w, r, ch)
	case "/services/collector/ack":
		s.acks(w, r, ch)
	default:
		hecError(w, http.StatusNotFound, 404, "The requested URL was not found on this server.")
	}
}

func (s *Server) channelLocked(w http.ResponseWriter, ch string) *channel {
	if ch == "" {
		hecError(w, http.StatusBadRequest, 10, "Data channel is missing")
		return nil
	}
	if !guid.MatchString(ch) {
		hecError(w, http.StatusBadRequest, 11, "Invalid data channel")
		return nil
	}
	c := s.channels[ch]
	if c == nil {
		c = &channel{pending: map[int64]ackState{}}
		s.channels[ch] = c
	}
	return c
}

func (s *Server) event(w http.ResponseWriter, r *http.Request, ch string) {
	s.requests++
	if s.busy > 0 {
		s.busy--
		if s.after != "" {
			w.Header().Set("Retry-After", s.after)
		}
		if s.busyCode == http.StatusTooManyRequests {
			hecError(w, http.StatusTooManyRequests, 9, "Server is busy")
		} else {
			hecError(w, http.StatusServiceUnavailable, 9, "Server is busy")
		}
		return
	}
	var c *channel
	if s.ack {
		if c = s.channelLocked(w, ch); c == nil {
			return
		}
		limit := s.MaxPendingAcks
		if limit == 0 {
			limit = 1_000_000
		}
		if len(c.pending) >= limit {
			hecError(w, http.StatusServiceUnavailable, 9, "Server is busy")
			return
		}
	}
	var body io.Reader = r.Body
	gzipped := r.Header.Get("Content-Encoding") == "gzip"
	if gzipped {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			hecError(w, http.StatusBadRequest, 6, "Invalid data format")
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil && gzipped {
		hecError(w, http.StatusBadRequest, 6, "Invalid data format")
		return
	}
	if err != nil {
		return
	}
	if gzipped {
		s.gzipped++
	}
	if len(bytes.TrimSpace(b)) == 0 {
		hecError(w, http.StatusBadRequest, 5, "No data")
		return
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for n := 0; ; n++ {
		var e Event
		err := dec.Decode(&e)
		if err == io.EOF {
			break
		}
		invalid := func(status, code int, text string) {
			reply(w, status, map[string]any{"text": text, "code": code, "invalid-event-number": n})
		}
		switch {
		case err != nil:
			invalid(http.StatusBadRequest, 6, "Invalid data format")
			return
		case e.Event == nil:
			invalid(http.StatusBadRequest, 12, "Event field is required")
			return
		case string(e.Event) == `""` || strings.TrimSpace(e.Raw()) == "":
			invalid(http.StatusBadRequest, 13, "Event field cannot be blank")
			return
		case s.Refuse != nil && s.Refuse(e):
			invalid(http.StatusBadRequest, 6, "Invalid data format")
			return
		case e.Index != "" && e.Index != "main" && s.Indexes != nil && !contains(s.Indexes, e.Index):
			invalid(http.StatusBadRequest, 7, "Incorrect index")
			return
		}
		s.events = append(s.events, e)
	}
	if f := s.onIndex; f != nil {
		s.onIndex = nil
		s.mu.Unlock()
		f()
		s.mu.Lock()
	}
	if c == nil {
		hecError(w, http.StatusOK, 0, "Success")
		return
	}
	id := c.next
	c.next++
	st := ackState{ready: time.Now().Add(s.delay)}
	if s.lose > 0 {
		s.lose--
		st.ready = time.Time{}
	}
	c.pending[id] = st
	s.maxSeen = max(s.maxSeen, len(c.pending))
	reply(w, http.StatusOK, map[string]any{"text": "Success", "code": 0, "ackId": id})
}

func (s *Server) acks(w http.ResponseWriter, r *http.Request, ch string) {
	if !s.ack {
		hecError(w, http.StatusBadRequest, 14, "ACK is disabled")
		return
	}
	c := s.channelLocked(w, ch)
	if c == nil {
		return
	}
	var q struct {
		Acks []int64 `json:"acks"`
	}
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil || q.Acks == nil {
		hecError(w, http.StatusBadRequest, 6, "Invalid data format")
		return
	}
	out := map[string]bool{}
	now := time.Now()
	for _, id := range q.Acks {
		st, ok := c.pending[id]
		done := ok && !st.ready.IsZero() && !now.Before(st.ready)
		if done {
			delete(c.pending, id)
		}
		out[strconv.FormatInt(id, 10)] = done
	}
	reply(w, http.StatusOK, map[string]any{"acks": out})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
