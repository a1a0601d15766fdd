package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

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
// With Istio's metrics on it also feeds istio_tcp_* of the destination's service.
type StreamCounter struct {
	opened, closed, received, sent prometheus.Counter
	tcp                            *TCPConn // istio_tcp_* series of the destination's service; nil when off
}

// UseIstio makes L4 streams count in Istio's istio_tcp_* metrics too. Call it before the
// data plane starts.
func (m *Metrics) UseIstio(i *Istio) { m.istio = i }

// clusterHost is the host of an "outbound|port|subset|host" cluster name.
func clusterHost(cluster string) string {
	if i := strings.LastIndexByte(cluster, '|'); i >= 0 {
		return cluster[i+1:]
	}
	return cluster
}

// ForStream returns the counters of route's destination (implements
// dataplane.StreamObserver).
func (m *Metrics) ForStream(route, destination string) interface {
	Opened()
	Closed()
	Received(n int64)
	Sent(n int64)
} {
	c := &StreamCounter{
		opened:   m.l4.opened.WithLabelValues(route, destination),
		closed:   m.l4.closed.WithLabelValues(route, destination),
		received: m.l4.received.WithLabelValues(route, destination),
		sent:     m.l4.sent.WithLabelValues(route, destination),
	}
	if m.istio != nil {
		c.tcp = m.istio.tcpSeriesOf(clusterHost(destination))
	}
	return c
}

// StreamRefused counts a connection refused before reaching an upstream.
func (m *Metrics) StreamRefused(reason string) { m.l4.refused.WithLabelValues(reason).Inc() }

// Opened counts a stream connected upstream (and istio_tcp_connections_opened_total).
func (c *StreamCounter) Opened() {
	c.opened.Inc()
	if c.tcp != nil {
		c.tcp.opened.Inc()
	}
}

// Closed counts a stream's end.
func (c *StreamCounter) Closed() {
	c.closed.Inc()
	if c.tcp != nil {
		c.tcp.Closed()
	}
}

// Received adds bytes from the client.
func (c *StreamCounter) Received(n int64) {
	c.received.Add(float64(n))
	if c.tcp != nil {
		c.tcp.Received(n)
	}
}

// Sent adds bytes to the client.
func (c *StreamCounter) Sent(n int64) {
	c.sent.Add(float64(n))
	if c.tcp != nil {
		c.tcp.Sent(n)
	}
}
