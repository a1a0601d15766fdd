package metrics

import "github.com/prometheus/client_golang/prometheus"

// Upstream TLS (DestinationRule trafficPolicy.tls). Labels: cluster
// ("outbound|port|subset|host", bounded by the configuration), reason (a fixed set, see
// upstream.TLSError) and resumed ("true"/"false").
type upstreamTLSMetrics struct {
	handshakes, failures *prometheus.CounterVec
}

func newUpstreamTLSMetrics(reg prometheus.Registerer) *upstreamTLSMetrics {
	m := &upstreamTLSMetrics{
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_upstream_tls_handshakes_total",
			Help: "TLS handshakes the gateway completed towards upstreams, by cluster and whether the session was resumed (resumed=\"true\": a full handshake avoided).",
		}, []string{"cluster", "resumed"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_upstream_tls_failures_total",
			Help: "Upstream TLS failures by cluster and reason (no_credential, certificate_verify_failed, san_mismatch, certificate_revoked, handshake_failed); each fails its request with 503 UF.",
		}, []string{"cluster", "reason"}),
	}
	reg.MustRegister(m.handshakes, m.failures)
	return m
}

// UpstreamTLSHandshake counts a completed upstream handshake (upstream.TLSObserver).
func (m *Metrics) UpstreamTLSHandshake(cluster string, resumed bool) {
	r := "false"
	if resumed {
		r = "true"
	}
	m.upTLS.handshakes.WithLabelValues(cluster, r).Inc()
}

// UpstreamTLSFailure counts an upstream TLS failure (upstream.TLSObserver).
func (m *Metrics) UpstreamTLSFailure(cluster, reason string) {
	m.upTLS.failures.WithLabelValues(cluster, reason).Inc()
}
