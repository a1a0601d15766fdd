package metrics

import "github.com/prometheus/client_golang/prometheus"

// Outlier detection (design 0021), Envoy's outlier_detection.ejections_enforced_total and
// ejections_active per cluster. The cluster label is the snapshot's cluster name
// ("outbound|port|subset|host"), bounded by the configuration; endpoints are not labels
// (they churn), /config_dump lists the ejected ones. The counter is registered at the first
// ejection; the gauge is read from the data plane at each scrape (WatchOutliers), so an
// ejection that ended shows as ended even when no request came since.
type outlierMetrics struct {
	ejections *prometheus.CounterVec
}

func (m *Metrics) outlierMetrics() *outlierMetrics {
	m.outlierOnce.Do(func() {
		m.outlier = &outlierMetrics{
			ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "portcullis_upstream_outlier_ejections_total",
				Help: "Endpoints ejected by outlier detection, by cluster (Envoy's outlier_detection.ejections_enforced_total).",
			}, []string{"cluster"}),
		}
		m.reg.MustRegister(m.outlier.ejections)
	})
	return m.outlier
}

// Ejected counts an endpoint of cluster ejected (implements upstream.OutlierObserver).
func (m *Metrics) Ejected(cluster string) {
	m.outlierMetrics().ejections.WithLabelValues(cluster).Inc()
}

// Returned is called when an ejected endpoint of cluster is back in service (or removed);
// the gauge is read at scrape time, so there is nothing to count.
func (m *Metrics) Returned(string) {}

// WatchOutliers makes portcullis_upstream_outlier_ejected report, at each scrape, what
// ejected returns: endpoints ejected now per cluster with outlier detection.
func (m *Metrics) WatchOutliers(ejected func() map[string]int) {
	m.ejectedOnce.Do(func() { m.reg.MustRegister(&ejectedCollector{m: m}) })
	m.ejectedMu.Lock()
	m.ejectedFn = ejected
	m.ejectedMu.Unlock()
}

var ejectedDesc = prometheus.NewDesc("portcullis_upstream_outlier_ejected",
	"Endpoints ejected by outlier detection now, by cluster (Envoy's outlier_detection.ejections_active).",
	[]string{"cluster"}, nil)

type ejectedCollector struct{ m *Metrics }

func (c *ejectedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- ejectedDesc }

func (c *ejectedCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.ejectedMu.Lock()
	f := c.m.ejectedFn
	c.m.ejectedMu.Unlock()
	if f == nil {
		return
	}
	for cluster, n := range f() {
		ch <- prometheus.MustNewConstMetric(ejectedDesc, prometheus.GaugeValue, float64(n), cluster)
	}
}
