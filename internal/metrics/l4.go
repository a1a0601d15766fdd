package metrics

import "github.com/prometheus/client_golang/prometheus"

// Layer 4 stream metrics (issue 13). Names and meanings line up with Istio's standard TCP
// metrics so they can be aliased (recording rules) to istio_tcp_connections_opened_total,
// istio_tcp_connections_closed_total, istio_tcp_received_bytes_total (bytes from the client)
// and istio_tcp_sent_bytes_total (bytes to the client). Labels: route (the L4 route,
// "<ns>/<vs>/tls|tcp/<index>") and destination (the cluster, "outbound|port|subset|host"),
// both bounded by the configuration.
type l4Metrics struct {
	opened, closed, received, sent *prometheus.CounterVec
	refused                        *prometheus.CounterVec
}

func newL4Metrics(reg prometheus.Registerer) *l4Metrics {
	labels := []string{"route", "destination"}
	m := &l4Metrics{
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_tcp_connections_opened_total",
			Help: "L4 streams (TLS passthrough, TLS-terminated TCP, TCP) connected upstream, by route and destination.",
		}, labels),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_tcp_connections_closed_total",
			Help: "L4 streams closed, by route and destination.",
		}, labels),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_tcp_received_bytes_total",
			Help: "Bytes received from clients on L4 streams (forwarded upstream), by route and destination; counted as copied, so long streams report while open.",
		}, labels),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_tcp_sent_bytes_total",
			Help: "Bytes sent to clients on L4 streams (from the upstream), by route and destination.",
		}, labels),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_tcp_connections_refused_total",
			Help: "L4 connections closed before reaching an upstream, by reason (no_route, no_endpoints, max_connections, connect_failed).",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.opened, m.closed, m.received, m.sent, m.refused)
	return m
}

// StreamCounter counts the streams of one route destination, its label lookups done once.
type StreamCounter struct {
	opened, closed, received, sent prometheus.Counter
}

// ForStream returns the counters of route's destination (implements
// dataplane.StreamObserver).
func (m *Metrics) ForStream(route, destination string) interface {
	Opened()
	Closed()
	Received(n int64)
	Sent(n int64)
} {
	return &StreamCounter{
		opened:   m.l4.opened.WithLabelValues(route, destination),
		closed:   m.l4.closed.WithLabelValues(route, destination),
		received: m.l4.received.WithLabelValues(route, destination),
		sent:     m.l4.sent.WithLabelValues(route, destination),
	}
}

// StreamRefused counts a connection refused before reaching an upstream.
func (m *Metrics) StreamRefused(reason string) { m.l4.refused.WithLabelValues(reason).Inc() }

func (c *StreamCounter) Opened()          { c.opened.Inc() }
func (c *StreamCounter) Closed()          { c.closed.Inc() }
func (c *StreamCounter) Received(n int64) { c.received.Add(float64(n)) }
func (c *StreamCounter) Sent(n int64)     { c.sent.Add(float64(n)) }
