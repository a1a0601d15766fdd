package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// ConnectionCounter reports, at scrape time, each gateway port's client connections:
// emit(port, open, parked) once per port. The dataplane's counts are read then, not
// pushed, so the gauges cost nothing between scrapes.
type ConnectionCounter func(emit func(port uint32, open, parked int))

// WatchConnections registers the connection gauges, read from count at each scrape.
func (m *Metrics) WatchConnections(count ConnectionCounter) {
	m.reg.MustRegister(&connCollector{
		open: prometheus.NewDesc("portcullis_client_connections",
			"Client connections held (handshaking, HTTP/1.1 and HTTP/2), by gateway port.", []string{"port"}, nil),
		parked: prometheus.NewDesc("portcullis_client_connections_parked",
			"Of those, idle connections parked without a goroutine or buffers (Linux).", []string{"port"}, nil),
		count: count,
	})
}

type connCollector struct {
	open, parked *prometheus.Desc
	count        ConnectionCounter
}

func (c *connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.parked
}

func (c *connCollector) Collect(ch chan<- prometheus.Metric) {
	c.count(func(port uint32, open, parked int) {
		p := strconv.FormatUint(uint64(port), 10)
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(open), p)
		ch <- prometheus.MustNewConstMetric(c.parked, prometheus.GaugeValue, float64(parked), p)
	})
}
