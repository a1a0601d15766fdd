package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// noVirtualHost labels requests that matched no virtual host (404 without a virtual host,
// 421). The dataplane reports virtual host names, never raw Host headers, so the label's
// values are bounded by the configuration.
const noVirtualHost = "none"

// Metrics holds every collector.
type Metrics struct {
	reg                prometheus.Registerer
	requests           *prometheus.CounterVec
	duration           *prometheus.HistogramVec
	handshakeFailures  *prometheus.CounterVec
	snapshotInfo       *prometheus.GaugeVec
	snapshotGeneration prometheus.Counter
	reloads            *prometheus.CounterVec
	diagnostics        *prometheus.GaugeVec
	credExpiry         *expiryCollector
	credPushes         *prometheus.CounterVec
	credRejected       *prometheus.CounterVec
	sourceUp           *prometheus.GaugeVec
	listenerErrors     *prometheus.CounterVec
	l4                 *l4Metrics             // see l4.go
	ppRefused          *prometheus.CounterVec // see proxyproto.go
	upTLS              *upstreamTLSMetrics    // see upstreamtls.go
	overflow           *prometheus.CounterVec // see pool.go
	istio              *Istio                 // istio_tcp_* of L4 streams, when on (UseIstio)

	authzOnce sync.Once
	authz     *AuthzObserver // authz.go

	outlierOnce sync.Once
	outlier     *outlierMetrics // outlier.go
	ejectedOnce sync.Once
	ejectedMu   sync.Mutex
	ejectedFn   func() map[string]int

	hostsMu sync.Mutex
	hosts   map[string]*HostObserver // per virtual host, see VirtualHost
}

// New creates the collectors and registers them (plus Go and process collectors) on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_requests_total",
			Help: "HTTP requests by virtual host (request Host values no virtual host declares are counted as \"other\") and status code.",
		}, []string{"host", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_request_duration_seconds",
			Help:    "Time from request headers read to response handler return, by virtual host.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"host"}),
		handshakeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_tls_handshake_failures_total",
			Help: "TLS handshakes that failed, by reason.",
		}, []string{"reason"}),
		snapshotInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portcullis_snapshot_info",
			Help: "The active configuration snapshot (value 1, version label = content hash).",
		}, []string{"version"}),
		snapshotGeneration: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_snapshot_swaps_total",
			Help: "Configuration snapshots swapped into the data plane.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_config_reloads_total",
			Help: "Configuration reloads by outcome (applied, unchanged, failed).",
		}, []string{"outcome"}),
		diagnostics: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portcullis_config_diagnostics",
			Help: "Diagnostics of the active configuration and credentials, by severity.",
		}, []string{"severity"}),
		credExpiry: newExpiryCollector(time.Now),
		credPushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_credential_pushes_total",
			Help: "New credential versions pushed to the listeners.",
		}, []string{"credential"}),
		credRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_credential_rejected_total",
			Help: "Credential updates rejected (the last good version keeps serving), by reason.",
		}, []string{"credential", "reason"}),
		sourceUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portcullis_source_up",
			Help: "1 when a configuration source (files, kubernetes) is connected and synced.",
		}, []string{"source"}),
		listenerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_listener_errors_total",
			Help: "Gateway ports that could not be bound or stopped serving.",
		}, []string{"port"}),
		hosts: map[string]*HostObserver{},
	}
	m.l4 = newL4Metrics(reg)
	m.ppRefused = newProxyProtocolMetrics(reg)
	m.upTLS = newUpstreamTLSMetrics(reg)
	m.overflow = newOverflow(reg)
	reg.MustRegister(m.requests, m.duration, m.handshakeFailures, m.snapshotInfo,
		m.snapshotGeneration, m.reloads, m.diagnostics, m.credExpiry, m.credPushes,
		m.credRejected, m.sourceUp, m.listenerErrors,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Request records one HTTP request; vhost is the matched virtual host or "". The
// dataplane uses VirtualHost instead, resolved once per snapshot.
func (m *Metrics) Request(vhost string, code int, d time.Duration) {
	m.VirtualHost(vhost).Observe(code, d)
}

// ListenerError records a port that failed.
func (m *Metrics) ListenerError(port uint32, _ error) {
	m.listenerErrors.WithLabelValues(strconv.FormatUint(uint64(port), 10)).Inc()
}

// HandshakeFailure records one failed TLS handshake.
func (m *Metrics) HandshakeFailure(reason string) {
	m.handshakeFailures.WithLabelValues(reason).Inc()
}

// SnapshotSwapped records the version now serving.
func (m *Metrics) SnapshotSwapped(version string) {
	m.snapshotInfo.Reset()
	m.snapshotInfo.WithLabelValues(version).Set(1)
	m.snapshotGeneration.Inc()
}

// Reload records a configuration reload outcome.
func (m *Metrics) Reload(outcome string) { m.reloads.WithLabelValues(outcome).Inc() }

// Diagnostics sets the number of current diagnostics per severity.
func (m *Metrics) Diagnostics(errors, warnings int) {
	m.diagnostics.WithLabelValues("error").Set(float64(errors))
	m.diagnostics.WithLabelValues("warning").Set(float64(warnings))
}

// Pushed records a new credential version.
func (m *Metrics) Pushed(name string) { m.credPushes.WithLabelValues(name).Inc() }

// Rejected records a rejected credential update.
func (m *Metrics) Rejected(name, reason string) {
	m.credRejected.WithLabelValues(name, reason).Inc()
}

// Expiry records when a credential's certificate expires.
func (m *Metrics) Expiry(name string, notAfter time.Time) { m.credExpiry.set(name, notAfter) }

// Removed forgets a credential that is no longer served.
func (m *Metrics) Removed(name string) { m.credExpiry.remove(name) }

// SourceUp records whether a configuration source is connected.
func (m *Metrics) SourceUp(source string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.sourceUp.WithLabelValues(source).Set(v)
}

// expiryCollector reports seconds until expiry computed at scrape time, so the value is
// current without a ticker.
type expiryCollector struct {
	desc  *prometheus.Desc
	clock func() time.Time
	mu    sync.Mutex
	by    map[string]time.Time
}

func newExpiryCollector(clock func() time.Time) *expiryCollector {
	return &expiryCollector{
		desc: prometheus.NewDesc("portcullis_credential_expiry_seconds",
			"Seconds until the served certificate of a credential expires (negative once expired).",
			[]string{"credential"}, nil),
		clock: clock,
		by:    map[string]time.Time{},
	}
}

func (c *expiryCollector) set(name string, t time.Time) {
	c.mu.Lock()
	c.by[name] = t
	c.mu.Unlock()
}

func (c *expiryCollector) remove(name string) {
	c.mu.Lock()
	delete(c.by, name)
	c.mu.Unlock()
}

func (c *expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *expiryCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, t := range c.by {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, t.Sub(now).Seconds(), name)
	}
}

// AccessLog exports the access log's written and dropped entry counts.
func (m *Metrics) AccessLog(written, dropped func() uint64) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "portcullis_access_log_entries_total",
			Help: "Access log entries written.",
		}, func() float64 { return float64(written()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "portcullis_access_log_dropped_total",
			Help: "Access log entries dropped because the writer's queue was full.",
		}, func() float64 { return float64(dropped()) }))
}
