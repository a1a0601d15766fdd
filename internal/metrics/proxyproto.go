package metrics

import "github.com/prometheus/client_golang/prometheus"

// Downstream PROXY protocol (design 0029): connections from a trusted load balancer
// closed because they did not start with a valid PROXY header.

func newProxyProtocolMetrics(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_downstream_proxy_protocol_refused_total",
		Help: "Connections from a --proxy-protocol-from peer closed without a valid PROXY header, by reason " +
			"(timeout, not_proxy, invalid, closed).",
	}, []string{"reason"})
	reg.MustRegister(c)
	return c
}

// ProxyProtocolRefused counts one connection refused for its downstream PROXY header.
func (m *Metrics) ProxyProtocolRefused(reason string) { m.ppRefused.WithLabelValues(reason).Inc() }
