package metrics

import "github.com/prometheus/client_golang/prometheus"

// Circuit breakers of clusters' connection pools (DestinationRule
// trafficPolicy.connectionPool, design 0022), as Envoy's cluster statistics
// upstream_cx_overflow (breaker max_connections), upstream_rq_pending_overflow
// (max_pending_requests and max_requests) and upstream_rq_retry_overflow (max_retries).
// Labels: cluster ("outbound|port|subset|host", bounded by the configuration) and breaker.

func newOverflow(reg prometheus.Registerer) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_upstream_overflow_total",
		Help: "Circuit breakers of a cluster's connection pool that tripped, by cluster and breaker " +
			"(max_connections: a request waited for a connection, or an L4 connection was refused; " +
			"max_pending_requests, max_requests: a request got 503 UO; max_retries: a retry was not made).",
	}, []string{"cluster", "breaker"})
	reg.MustRegister(v)
	return v
}

// UpstreamOverflow counts a tripped circuit breaker (implements dataplane.OverflowObserver).
func (m *Metrics) UpstreamOverflow(cluster, breaker string) {
	m.overflow.WithLabelValues(cluster, breaker).Inc()
}
