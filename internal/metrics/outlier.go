package metrics

import "github.com/prometheus/client_golang/prometheus"

// Outlier detection (design 0021), Envoy's outlier_detection.ejections_enforced_total and
// ejections_active per cluster. The cluster label is the snapshot's cluster name
// ("outbound|port|subset|host"), bounded by the configuration; endpoints are not labels
// (they churn), /config_dump lists the ejected ones. Registered at the first ejection.
type outlierMetrics struct {
	ejections *prometheus.CounterVec
	ejected   *prometheus.GaugeVec
}

func (m *Metrics) outlierMetrics() *outlierMetrics {
	m.outlierOnce.Do(func() {
		m.outlier = &outlierMetrics{
			ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "portcullis_upstream_outlier_ejections_total",
				Help: "Endpoints ejected by outlier detection, by cluster (Envoy's outlier_detection.ejections_enforced_total).",
			}, []string{"cluster"}),
			ejected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Name: "portcullis_upstream_outlier_ejected",
				Help: "Endpoints ejected by outlier detection now, by cluster (Envoy's outlier_detection.ejections_active).",
			}, []string{"cluster"}),
		}
		m.reg.MustRegister(m.outlier.ejections, m.outlier.ejected)
	})
	return m.outlier
}

// Ejected counts an endpoint of cluster ejected (implements upstream.OutlierObserver).
func (m *Metrics) Ejected(cluster string) {
	o := m.outlierMetrics()
	o.ejections.WithLabelValues(cluster).Inc()
	o.ejected.WithLabelValues(cluster).Inc()
}

// Returned counts an ejected endpoint of cluster back in service (or removed).
func (m *Metrics) Returned(cluster string) {
	m.outlierMetrics().ejected.WithLabelValues(cluster).Dec()
}
