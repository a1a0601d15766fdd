package metrics

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis/portcullis/internal/accesslog"
)

// istioStandardLabels are the labels Istio documents for its standard metrics
// ("Istio Standard Metrics", the stats plugin's default tags).
var istioStandardLabels = []string{
	"reporter", "source_workload", "source_workload_namespace", "source_principal", "source_app",
	"source_version", "source_cluster", "source_canonical_service", "source_canonical_revision",
	"destination_workload", "destination_workload_namespace", "destination_principal",
	"destination_app", "destination_version", "destination_service", "destination_service_name",
	"destination_service_namespace", "destination_cluster", "destination_canonical_service",
	"destination_canonical_revision", "request_protocol", "response_code",
	"grpc_response_status", "response_flags", "connection_security_policy",
}

func TestIstioStandardMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	i := NewIstio(reg, Workload{Name: "istio-ingressgateway", Namespace: "istio-system"})
	m.AccessLog(func() uint64 { return 3 }, func() uint64 { return 0 })
	i.Log(&accesslog.Entry{Code: 200, Flags: "-", Duration: 7 * time.Millisecond, BytesReceived: 10, BytesSent: 2000,
		UpstreamService: "reviews.bookinfo.svc.cluster.local", UpstreamCluster: "outbound|9080||reviews.bookinfo.svc.cluster.local"})
	i.Log(&accesslog.Entry{Code: 404, Flags: "NR"})
	i.Log(&accesslog.Entry{Code: 200, GRPCStatus: "0", Flags: "-", UpstreamService: "api.example.com"})
	i.Log(&accesslog.Entry{ConnectionFailure: "tls_handshake_failed{unknown_sni}"}) // not a request
	c := i.TCP("db.data.svc.cluster.local")
	c.Received(100)
	c.Sent(50)
	c.Closed()

	// promtool's lint (testutil.GatherAndLint runs the same checks): Istio's name
	// istio_request_duration_milliseconds is the one finding, and must stay as Istio has it.
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if p.Metric != "istio_request_duration_milliseconds" || !strings.Contains(p.Text, "base unit") {
			t.Errorf("promtool lint: %s: %s", p.Metric, p.Text)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "istio_") {
			continue
		}
		seen[name] = true
		for _, mt := range mf.GetMetric() {
			var names []string
			lv := map[string]string{}
			for _, lp := range mt.GetLabel() {
				names = append(names, lp.GetName())
				lv[lp.GetName()] = lp.GetValue()
			}
			want := istioStandardLabels
			if strings.HasPrefix(name, "istio_tcp_") {
				want = slices.DeleteFunc(slices.Clone(want), func(l string) bool {
					return l == "response_code" || l == "grpc_response_status"
				})
			}
			slices.Sort(names)
			w := slices.Sorted(slices.Values(want))
			if !slices.Equal(names, w) {
				t.Errorf("%s labels %v, want %v", name, names, w)
			}
			if lv["reporter"] != "source" || lv["source_workload"] != "istio-ingressgateway" || lv["source_workload_namespace"] != "istio-system" {
				t.Errorf("%s source labels %v", name, lv)
			}
			if name == "istio_requests_total" && lv["response_code"] == "200" && lv["request_protocol"] == "http" &&
				(lv["destination_service_name"] != "reviews" || lv["destination_service_namespace"] != "bookinfo") {
				t.Errorf("destination labels %v", lv)
			}
			if name == "istio_requests_total" && lv["response_code"] == "404" && (lv["response_flags"] != "NR" || lv["destination_service"] != "unknown") {
				t.Errorf("404 labels %v", lv)
			}
			if name == "istio_requests_total" && lv["grpc_response_status"] == "0" && lv["request_protocol"] != "grpc" {
				t.Errorf("gRPC labels %v", lv)
			}
			if h := mt.GetHistogram(); h != nil && name == "istio_request_duration_milliseconds" {
				var bounds []float64
				for _, b := range h.GetBucket() {
					bounds = append(bounds, b.GetUpperBound())
				}
				if !slices.Equal(bounds, DurationBuckets()) {
					t.Errorf("duration buckets %v", bounds)
				}
			}
		}
	}
	for _, n := range []string{"istio_requests_total", "istio_request_duration_milliseconds", "istio_request_bytes",
		"istio_response_bytes", "istio_tcp_sent_bytes_total", "istio_tcp_received_bytes_total",
		"istio_tcp_connections_opened_total", "istio_tcp_connections_closed_total"} {
		if !seen[n] {
			t.Errorf("%s not exported", n)
		}
	}
	if n := testutil.CollectAndCount(i.requests); n != 3 {
		t.Errorf("%d request series, want 3 (the handshake failure is not a request)", n)
	}
}

func TestIstioSeriesBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	i := NewIstio(reg, Workload{})
	for n := range MaxIstioSeries + 50 {
		i.Log(&accesslog.Entry{Code: 200, Flags: "-", UpstreamService: "svc" + strconv.Itoa(n)})
	}
	if n := testutil.CollectAndCount(i.requests); n > MaxIstioSeries+1 {
		t.Errorf("%d series, want at most %d", n, MaxIstioSeries+1)
	}
	if got := testutil.ToFloat64(i.requests.WithLabelValues(append(i.destination("overflow"), "http", "overflow", "", "overflow", unknown)...)); got == 0 {
		t.Error("nothing counted in the overflow series")
	}
}
