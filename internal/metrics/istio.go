package metrics

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/accesslog"
)

// IstioLabels are the labels of Istio's standard metrics, in Istio's order.
func IstioLabels() []string {
	return []string{
		"reporter",
		"source_workload", "source_workload_namespace", "source_principal", "source_app",
		"source_version", "source_cluster", "source_canonical_service", "source_canonical_revision",
		"destination_workload", "destination_workload_namespace", "destination_principal",
		"destination_app", "destination_version", "destination_service",
		"destination_service_name", "destination_service_namespace", "destination_cluster",
		"destination_canonical_service", "destination_canonical_revision",
		"request_protocol", "response_code", "grpc_response_status", "response_flags",
		"connection_security_policy",
	}
}

// tcpLabels are the labels of the istio_tcp_* metrics: Istio's without response_code and
// grpc_response_status (request_protocol is "tcp").
func tcpLabels() []string {
	return slices.DeleteFunc(IstioLabels(), func(l string) bool {
		return l == "response_code" || l == "grpc_response_status"
	})
}

// DurationBuckets are Istio's buckets of istio_request_duration_milliseconds.
func DurationBuckets() []float64 {
	return []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}
}

// BytesBuckets are Istio's buckets of istio_request_bytes and istio_response_bytes:
// 1 to 10^9, by tens.
func BytesBuckets() []float64 { return prometheus.ExponentialBuckets(1, 10, 10) }

// MaxIstioSeries bounds the distinct label sets of istio_requests_total (and of the
// histograms beside it). Requests beyond it count in one overflow series whose
// destination_service, response_code and response_flags are "overflow".
const MaxIstioSeries = 2000

const unknown = "unknown"

// Workload names the gateway in Istio's source_* labels.
type Workload struct {
	Name, Namespace, Cluster string
}

// Istio records Istio's standard metrics as the ingress gateway reports them:
// reporter="source", the gateway as the source workload, the route's destination service
// as the destination (the other destination_* labels are "unknown": Istio fills them from
// the peer's metadata exchange, which portcullis does not do).
type Istio struct {
	src []string // the source labels, fixed

	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	reqBytes  *prometheus.HistogramVec
	respBytes *prometheus.HistogramVec

	tcpSent, tcpReceived, tcpOpened, tcpClosed *prometheus.CounterVec
	tcpConn                                    sync.Map // destination service → *tcpSeries

	mu     sync.RWMutex
	series map[seriesKey]*istioSeries
}

// seriesKey is what varies between the series of requests: the label values follow from
// it (request_protocol is "grpc" when grpc is set, connection_security_policy is always
// "unknown"). It holds the code as a number and no constant label, so the per-request
// lookup formats nothing and hashes little.
type seriesKey struct {
	service     string
	code        int // overflowCode: the overflow series
	grpc, flags string
}

// overflowCode is the code of the overflow series' key (its response_code is "overflow").
const overflowCode = -1

type istioSeries struct {
	requests            prometheus.Counter
	duration, req, resp prometheus.Observer
}

// NewIstio registers Istio's standard metrics on reg.
func NewIstio(reg prometheus.Registerer, w Workload) *Istio {
	if w.Name == "" {
		w.Name = "portcullis"
	}
	ns := cmpOr(w.Namespace, unknown)
	i := &Istio{
		src: []string{"source", w.Name, ns, unknown, w.Name, unknown, cmpOr(w.Cluster, unknown), w.Name, "latest"},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "istio_requests_total",
			Help: "Istio standard metric: requests, as the ingress gateway reports them (reporter=source).",
		}, IstioLabels()),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "istio_request_duration_milliseconds", Buckets: DurationBuckets(),
			Help: "Istio standard metric: request duration in milliseconds.",
		}, IstioLabels()),
		reqBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "istio_request_bytes", Buckets: BytesBuckets(),
			Help: "Istio standard metric: request body size in bytes.",
		}, IstioLabels()),
		respBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "istio_response_bytes", Buckets: BytesBuckets(),
			Help: "Istio standard metric: response body size in bytes.",
		}, IstioLabels()),
		tcpSent:     tcpCounter("istio_tcp_sent_bytes_total", "bytes sent to the client (downstream)"),
		tcpReceived: tcpCounter("istio_tcp_received_bytes_total", "bytes received from the client (downstream)"),
		tcpOpened:   tcpCounter("istio_tcp_connections_opened_total", "connections opened"),
		tcpClosed:   tcpCounter("istio_tcp_connections_closed_total", "connections closed"),
		series:      map[seriesKey]*istioSeries{},
	}
	reg.MustRegister(i.requests, i.duration, i.reqBytes, i.respBytes,
		i.tcpSent, i.tcpReceived, i.tcpOpened, i.tcpClosed)
	return i
}

func tcpCounter(name, what string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: name, Help: "Istio standard metric: TCP " + what + ".",
	}, tcpLabels())
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Reads declares that Log reads only accesslog.MetricFields, so the data plane builds no
// more of an Entry for it (accesslog.FieldReader).
func (*Istio) Reads() accesslog.Fields { return accesslog.MetricFields }

// Log records one completed request (accesslog.Sink). Connection-level entries (failed
// handshakes) are not requests and are skipped.
func (i *Istio) Log(e *accesslog.Entry) {
	if e.Code == 0 {
		return
	}
	k := seriesKey{service: e.UpstreamService, code: e.Code, grpc: e.GRPCStatus, flags: e.Flags}
	s := i.get(k)
	s.requests.Inc()
	s.duration.Observe(float64(e.Duration.Microseconds()) / 1000)
	s.req.Observe(float64(e.BytesReceived))
	s.resp.Observe(float64(e.BytesSent))
}

// get resolves a label set's series, creating it while under MaxIstioSeries.
func (i *Istio) get(k seriesKey) *istioSeries {
	i.mu.RLock()
	s := i.series[k]
	i.mu.RUnlock()
	if s != nil {
		return s
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if s = i.series[k]; s != nil {
		return s
	}
	if len(i.series) >= MaxIstioSeries {
		k = seriesKey{service: "overflow", code: overflowCode, flags: "overflow"}
		if s = i.series[k]; s != nil {
			return s
		}
	}
	protocol, code := "http", strconv.Itoa(k.code)
	if k.grpc != "" {
		protocol = "grpc"
	}
	if k.code == overflowCode {
		code = "overflow"
	}
	lv := append(i.destination(k.service), protocol, code, k.grpc, k.flags, unknown) // as a source reporter
	s = &istioSeries{
		requests: i.requests.WithLabelValues(lv...),
		duration: i.duration.WithLabelValues(lv...),
		req:      i.reqBytes.WithLabelValues(lv...),
		resp:     i.respBytes.WithLabelValues(lv...),
	}
	i.series[k] = s
	return s
}

// destination is the source labels then the destination labels of a destination host.
func (i *Istio) destination(service string) []string {
	name, ns := unknown, unknown
	if service == "" {
		service = unknown
	} else if parts := strings.Split(service, "."); len(parts) >= 3 && parts[2] == "svc" {
		name, ns = parts[0], parts[1] // a Kubernetes service: name.namespace.svc.<domain>
	} else {
		name = service
	}
	lv := append([]string(nil), i.src...)
	return append(lv,
		unknown, unknown, unknown, // destination_workload, _namespace, _principal
		unknown, unknown, // destination_app, destination_version
		service, name, ns, unknown, // destination_service, _name, _namespace, destination_cluster
		name, "latest") // destination_canonical_service, _revision
}

// TCPConn is the handle of one TCP connection's istio_tcp_* series (see TCP).
type TCPConn struct {
	opened, sent, received, closed prometheus.Counter
}

type tcpSeries struct{ TCPConn }

// TCP records a connection opened towards destination service host (a Kubernetes service
// host, or "" when unknown) and returns the handle its proxy reports bytes and the close
// through. It is the hook of the L4 proxy and of the gateway's own HTTP connections.
func (i *Istio) TCP(service string) *TCPConn {
	c := i.tcpSeriesOf(service)
	c.opened.Inc()
	return c
}

// tcpSeriesOf returns the istio_tcp_* series of service, created once.
func (i *Istio) tcpSeriesOf(service string) *TCPConn {
	if v, ok := i.tcpConn.Load(service); ok {
		return &v.(*tcpSeries).TCPConn
	}
	lv := i.tcpLabels(service)
	s := &tcpSeries{TCPConn{
		opened:   i.tcpOpened.WithLabelValues(lv...),
		sent:     i.tcpSent.WithLabelValues(lv...),
		received: i.tcpReceived.WithLabelValues(lv...),
		closed:   i.tcpClosed.WithLabelValues(lv...),
	}}
	v, _ := i.tcpConn.LoadOrStore(service, s)
	return &v.(*tcpSeries).TCPConn
}

func (i *Istio) tcpLabels(service string) []string {
	return append(i.destination(service), "tcp", "-", unknown) // protocol, flags, security policy
}

// Sent adds bytes sent to the client.
func (c *TCPConn) Sent(n int64) { c.sent.Add(float64(n)) }

// Received adds bytes received from the client.
func (c *TCPConn) Received(n int64) { c.received.Add(float64(n)) }

// Closed records the connection's close.
func (c *TCPConn) Closed() { c.closed.Inc() }
