package dataplane

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// recordSink keeps a copy of every Entry; reads is what it declares it reads.
type recordSink struct {
	reads   accesslog.Fields
	entries []accesslog.Entry
}

func (s *recordSink) Log(e *accesslog.Entry)  { s.entries = append(s.entries, *e) }
func (s *recordSink) Reads() accesslog.Fields { return s.reads }

// logCase is one finished request as the handler leaves it for logRequest.
type logCase struct {
	name    string
	body    string // request body ("" none)
	code    int
	flags   ResponseFlags
	cluster string
	header  http.Header // response headers
}

var logCases = []logCase{
	{name: "proxied", body: "hello", code: 200, cluster: "outbound|8080||frontend.shop.svc.cluster.local"},
	{name: "no route", code: 404, flags: FlagNoRouteFound},
	{name: "connect failure", code: 503, flags: FlagUpstreamConnectionFailure | FlagUpstreamRetryLimitExceeded, cluster: "outbound|80||api.example.com"},
	{name: "grpc header", code: 200, cluster: "outbound|9000||grpc.example.com", header: http.Header{"Grpc-Status": {"14"}}},
	{name: "grpc trailer", code: 200, cluster: "outbound|9000||grpc.example.com", header: http.Header{http.TrailerPrefix + "Grpc-Status": {"0"}}},
}

// logOne runs prepareLog and logRequest for c against d.
func logOne(d *Dataplane, c logCase) {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(http.MethodPost, "https://shop.example.com/cart?x=1", body)
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, ServerName: "shop.example.com"}
	r.Header.Set("User-Agent", "test/1")
	w := httptest.NewRecorder()
	for k, v := range c.header {
		w.Header()[k] = v
	}
	e := &exchange{}
	e.ResponseWriter = w
	r = d.prepareLog(e, r)
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	e.code, e.flags, e.cluster, e.sent = c.code, c.flags, c.cluster, 42
	e.route = &snapshot.Route{Name: "r1"}
	e.target = upstream.Target{Endpoint: "10.0.0.1:8080"}
	start := time.Now()
	d.logRequest(e, r, start, 3*time.Millisecond)
}

// metricPart is the accesslog.MetricFields of e.
func metricPart(e accesslog.Entry) accesslog.Entry {
	return accesslog.Entry{Code: e.Code, Duration: e.Duration, Flags: e.Flags, GRPCStatus: e.GRPCStatus,
		UpstreamService: e.UpstreamService, BytesReceived: e.BytesReceived, BytesSent: e.BytesSent}
}

// A sink reading only the metric fields gets exactly the metric fields a full entry has,
// and nothing else; a full sink beside it still gets every field.
func TestMetricFieldsEntry(t *testing.T) {
	for _, c := range logCases {
		t.Run(c.name, func(t *testing.T) {
			full := &recordSink{reads: accesslog.AllFields}
			logOne(New(Options{Requests: full}, nil, nil, nil), c)
			part := &recordSink{reads: accesslog.MetricFields}
			logOne(New(Options{Requests: part}, nil, nil, nil), c)
			both := &recordSink{reads: accesslog.MetricFields}
			full2 := &recordSink{reads: accesslog.AllFields}
			logOne(New(Options{Requests: accesslog.Sinks{both, full2}}, nil, nil, nil), c)

			f, p := full.entries[0], part.entries[0]
			if f.Method != http.MethodPost || f.Path != "/cart?x=1" || f.RequestID == "" || f.Route != "r1" ||
				f.TLSVersion != "TLSv1.3" || f.UserAgent != "test/1" || f.Start.IsZero() {
				t.Fatalf("full entry lacks fields: %+v", f)
			}
			if p != metricPart(f) {
				t.Errorf("metric-only entry\n%+v\nwant the full entry's metric fields\n%+v", p, metricPart(f))
			}
			if p.Code != c.code || p.BytesSent != 42 || p.BytesReceived != int64(len(c.body)) {
				t.Errorf("metric-only entry %+v: wrong code or byte counts", p)
			}
			// Beside a full sink both get the full entry (RequestID differs: a new one).
			b, f2 := both.entries[0], full2.entries[0]
			if b.Method != http.MethodPost || b.TLSVersion != "TLSv1.3" || b != f2 {
				t.Errorf("with an access log beside it, the metrics sink got %+v, want the full entry %+v", b, f2)
			}
			f2.RequestID, f2.Start = f.RequestID, f.Start
			if f2 != f {
				t.Errorf("full entries differ:\n%+v\n%+v", f2, f)
			}
		})
	}
}

func TestReadsOfSinks(t *testing.T) {
	ist := metrics.NewIstio(prometheus.NewRegistry(), metrics.Workload{})
	for _, c := range []struct {
		s    accesslog.Sink
		want accesslog.Fields
	}{
		{nil, 0},
		{ist, accesslog.MetricFields},
		{accesslog.Sinks{ist}, accesslog.MetricFields},
		{&recordSink{reads: accesslog.AllFields}, accesslog.AllFields},
		{accesslog.Sinks{ist, &recordSink{reads: accesslog.AllFields}}, accesslog.AllFields},
		{accesslog.Sinks{ist, struct{ accesslog.Sink }{ist}}, accesslog.AllFields}, // undeclared: all
	} {
		if got := accesslog.Reads(c.s); got != c.want {
			t.Errorf("Reads(%T) = %v, want %v", c.s, got, c.want)
		}
	}
}

// BenchmarkRequestLog is the per-request work of the request sinks (prepareLog and
// logRequest) for Istio's metrics alone, and with the access log's full entry.
func BenchmarkRequestLog(b *testing.B) {
	for _, bc := range []struct {
		name string
		sink func() accesslog.Sink
	}{
		{"istio-metrics", func() accesslog.Sink { return metrics.NewIstio(prometheus.NewRegistry(), metrics.Workload{}) }},
		{"full-entry+istio-metrics", func() accesslog.Sink {
			return accesslog.Sinks{metrics.NewIstio(prometheus.NewRegistry(), metrics.Workload{}), discardSink{}}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := New(Options{Requests: bc.sink()}, nil, nil, nil)
			r := httptest.NewRequest(http.MethodGet, "https://shop.example.com/", nil)
			r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, ServerName: "shop.example.com"}
			w := httptest.NewRecorder()
			rt := &snapshot.Route{Name: "r1"}
			b.ReportAllocs()
			for b.Loop() {
				r.Header.Del("X-Request-Id")
				e := d.exchanges.get(w)
				r2 := d.prepareLog(e, r)
				e.code, e.cluster, e.route, e.sent = 200, "outbound|8080||frontend.shop.svc.cluster.local", rt, 2
				d.logRequest(e, r2, time.Now(), time.Millisecond)
				d.exchanges.put(e)
			}
		})
	}
}

type discardSink struct{}

func (discardSink) Log(*accesslog.Entry) {}
