package daemon

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metricSet holds the daemon's Prometheus collectors. Every series is
// labelled with the component's kind (source, handler, destination) and
// name from the config.
type metricSet struct {
	reg         *prometheus.Registry
	eventsIn    *prometheus.CounterVec
	bytesIn     *prometheus.CounterVec
	eventsOut   *prometheus.CounterVec
	bytesOut    *prometheus.CounterVec
	acked       *prometheus.CounterVec
	errors      *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	parseFailed *prometheus.CounterVec
	inFlight    *prometheus.GaugeVec
	batchSize   *prometheus.HistogramVec
	flushTime   *prometheus.HistogramVec
	spoolFsync  *prometheus.HistogramVec
	spools      *spoolCollector
	reloads     *prometheus.CounterVec // by result: "ok" or "failed"
	taps        *taps                  // for "sluiced tap"; kept across reloads
}

func newMetricSet() *metricSet {
	labels := []string{"kind", "name"}
	counter := func(name, help string, extra ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sluice", Name: name, Help: help}, append(labels, extra...))
	}
	m := &metricSet{
		reg:         prometheus.NewRegistry(),
		eventsIn:    counter("events_in_total", "Events received by a component."),
		bytesIn:     counter("bytes_in_total", "Bytes of raw events received by a component."),
		eventsOut:   counter("events_out_total", "Events a component passed on or wrote."),
		bytesOut:    counter("bytes_out_total", "Bytes a component wrote."),
		acked:       counter("acked_total", "Events acknowledged as durably delivered."),
		errors:      counter("errors_total", "Errors, by cause.", "cause"),
		dropped:     counter("dropped_total", "Events dropped on purpose, by cause.", "cause"),
		parseFailed: counter("parse_failures_total", "Events that did not parse and were passed on with their raw bytes."),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "sluice", Name: "in_flight_events",
			Help: "Events handed to a destination and not yet acknowledged by it."}, labels),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "sluice", Name: "batch_size_events",
			Help: "Events per flushed batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 9)}, labels),
		flushTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "sluice", Name: "flush_duration_seconds",
			Help: "Time to write a batch durably.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}, labels),
		spoolFsync: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "sluice", Name: "spool_fsync_duration_seconds",
			Help: "Time of one fsync of a disk buffer's spool.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"buffer"}),
		spools: newSpoolCollector(),
		taps:   &taps{},
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sluice", Name: "reloads_total",
			Help: `Config reloads (SIGHUP, or run --watch), by result: "ok" (running the new config, or it was unchanged) or "failed" (refused: the old one runs on).`}, []string{"result"}),
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("failed")
	m.reg.MustRegister(m.eventsIn, m.bytesIn, m.eventsOut, m.bytesOut, m.acked, m.errors, m.dropped, m.parseFailed,
		m.inFlight, m.batchSize, m.flushTime, m.spoolFsync, m.spools, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Metrics records one component's counters. Its methods are safe for
// concurrent use and cost an atomic add each; a nil *Metrics records
// nothing, so connectors used outside the daemon need none.
//
// A component's series appear in /metrics at start only for what its kind
// always counts (see named); any other appears on its first count, so
// that /metrics lists no series that cannot move, such as the acks of a
// handler.
type Metrics struct {
	set                                    *metricSet
	kind, name                             string
	eventsIn, bytesIn, eventsOut, bytesOut lazy[prometheus.Counter]
	acked, parseFailed                     lazy[prometheus.Counter]
	inFlight                               lazy[prometheus.Gauge]
	batchSize, flushTime                   lazy[prometheus.Observer]
}

// lazy is a series made on its first use.
type lazy[T any] struct {
	once sync.Once
	make func() T
	v    T
}

func (l *lazy[T]) get() T {
	l.once.Do(func() { l.v = l.make() })
	return l.v
}

func (s *metricSet) component(kind Kind, name string) *Metrics {
	return s.named(kind.String(), name)
}

// named returns the counters of a component of any kind, such as "buffer".
// Its series show from the start those the kind counts in any config:
// what goes in, and for destinations and buffers what goes out and is
// acked; a source's acks; a handler's events out.
func (s *metricSet) named(kind, name string) *Metrics {
	m := &Metrics{set: s, kind: kind, name: name}
	counter := func(l *lazy[prometheus.Counter], v *prometheus.CounterVec) {
		l.make = func() prometheus.Counter { return v.WithLabelValues(kind, name) }
	}
	observer := func(l *lazy[prometheus.Observer], v *prometheus.HistogramVec) {
		l.make = func() prometheus.Observer { return v.WithLabelValues(kind, name) }
	}
	counter(&m.eventsIn, s.eventsIn)
	counter(&m.bytesIn, s.bytesIn)
	counter(&m.eventsOut, s.eventsOut)
	counter(&m.bytesOut, s.bytesOut)
	counter(&m.acked, s.acked)
	counter(&m.parseFailed, s.parseFailed)
	observer(&m.batchSize, s.batchSize)
	observer(&m.flushTime, s.flushTime)
	m.inFlight.make = func() prometheus.Gauge { return s.inFlight.WithLabelValues(kind, name) }

	m.eventsIn.get()
	switch kind {
	case "source":
		m.bytesIn.get()
		m.acked.get()
	case "handler", "route":
		m.eventsOut.get()
	case "destination", "buffer":
		m.bytesIn.get()
		m.eventsOut.get()
		m.bytesOut.get()
		m.acked.get()
		if kind == "destination" {
			m.inFlight.get()
			m.batchSize.get()
			m.flushTime.get()
		}
	}
	return m
}

// In counts n events of size bytes received. For a destination they are
// in flight until [Metrics.Acked] counts them.
func (m *Metrics) In(n, bytes int) {
	if m != nil {
		m.eventsIn.get().Add(float64(n))
		if bytes > 0 || m.kind != "handler" && m.kind != "route" {
			m.bytesIn.get().Add(float64(bytes))
		}
		if m.kind == "destination" {
			m.inFlight.get().Add(float64(n))
		}
	}
}

// Out counts n events of size bytes passed on or written.
func (m *Metrics) Out(n, bytes int) {
	if m != nil {
		m.eventsOut.get().Add(float64(n))
		if bytes > 0 || m.kind != "handler" && m.kind != "route" {
			m.bytesOut.get().Add(float64(bytes))
		}
	}
}

// Acked counts n events acknowledged.
func (m *Metrics) Acked(n int) {
	if m != nil {
		m.acked.get().Add(float64(n))
		if m.kind == "destination" {
			m.inFlight.get().Sub(float64(n))
		}
	}
}

// ParseFailed counts n events that did not parse.
func (m *Metrics) ParseFailed(n int) {
	if m != nil {
		m.parseFailed.get().Add(float64(n))
	}
}

// Error counts an error of the given cause, such as "accept" or "write".
func (m *Metrics) Error(cause string) {
	if m != nil {
		m.set.errors.WithLabelValues(m.kind, m.name, cause).Inc()
	}
}

// Dropped counts n events dropped on purpose for cause, such as "filter"
// or "kernel" (UDP datagrams the kernel dropped).
func (m *Metrics) Dropped(cause string, n int) {
	if m != nil && n > 0 {
		m.set.dropped.WithLabelValues(m.kind, m.name, cause).Add(float64(n))
	}
}

// InFlight adds delta to the events received and not yet acknowledged.
func (m *Metrics) InFlight(delta int) {
	if m != nil {
		m.inFlight.get().Add(float64(delta))
	}
}

// Flushed records a batch of n events written durably in d.
func (m *Metrics) Flushed(n int, d time.Duration) {
	if m != nil {
		m.batchSize.get().Observe(float64(n))
		m.flushTime.get().Observe(d.Seconds())
	}
}
