package e2e

import (
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestIstioMetricsWithoutAccessLog runs the gateway as it starts by default: Istio's
// standard metrics on, no access log, no tracing (the data plane then builds only the
// fields the metrics read). Requests over HTTP/1.1 and HTTP/2 must still be counted with
// the right destination, code, flags and protocol, and every request must still reach
// the backend with a generated UUIDv4 X-Request-Id (or the caller's own).
func TestIstioMetricsWithoutAccessLog(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids = append(ids, r.Header.Get("X-Request-Id"))
		mu.Unlock()
		_, _ = w.Write([]byte("frontend\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e := setupWalkthroughWith(t, ln.Addr().(*net.TCPAddr).Port)
	const fe = "frontend.foocorp.com"

	for _, proto := range []string{"--http1.1", "--http2", "--http1.1"} {
		if out, errOut, code := e.curl(t, fe, fe, fe, "/", proto); code != 0 || out != "frontend\n" {
			t.Fatalf("curl %s: exit %d, %q, %s", proto, code, out, errOut)
		}
	}
	if _, errOut, code := e.curl(t, fe, fe, fe, "/", "-H", "X-Request-Id: caller-id"); code != 0 {
		t.Fatalf("curl: %s", errOut)
	}
	if out, _, _ := e.curl(t, fe, fe, fe, "/nowhere", "-o", "/dev/null", "-w", "%{http_code}"); out != "404" {
		t.Fatalf("off-route request answered %s, want 404", out)
	}

	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	mu.Lock()
	got := append([]string(nil), ids...)
	mu.Unlock()
	if len(got) != 4 {
		t.Fatalf("backend saw %d requests, want 4", len(got))
	}
	seen := map[string]bool{}
	for _, id := range got[:3] {
		if !uuid4.MatchString(id) || seen[id] {
			t.Errorf("generated X-Request-Id %q: not a fresh UUIDv4 (all: %q)", id, got)
		}
		seen[id] = true
	}
	if got[3] != "caller-id" {
		t.Errorf("caller's X-Request-Id arrived as %q", got[3])
	}

	_, metrics := httpGet(t, "http://"+e.gw.admin+"/metrics")
	for _, want := range []string{
		`destination_service="frontend.ux.svc.cluster.local",destination_service_name="frontend",destination_service_namespace="ux",destination_version="unknown",destination_workload="unknown",destination_workload_namespace="unknown",grpc_response_status="",reporter="source",request_protocol="http",response_code="200",response_flags="-",`,
		`destination_service="unknown",destination_service_name="unknown",destination_service_namespace="unknown",destination_version="unknown",destination_workload="unknown",destination_workload_namespace="unknown",grpc_response_status="",reporter="source",request_protocol="http",response_code="404",response_flags="NR",`,
	} {
		line := metricLine(metrics, "istio_requests_total{", want)
		if line == "" {
			t.Errorf("/metrics has no istio_requests_total series with %s", want)
			continue
		}
		wantN := map[bool]string{true: " 4", false: " 1"}[strings.Contains(want, `"200"`)]
		if !strings.HasSuffix(line, wantN) {
			t.Errorf("series %s counted %q, want%s", want, line[strings.LastIndexByte(line, ' '):], wantN)
		}
	}
	if line := metricLine(metrics, "istio_response_bytes_sum{", `response_code="200"`); !strings.HasSuffix(line, " 36") {
		t.Errorf("istio_response_bytes_sum of the 200s: %q, want 36 (4 × 9 bytes)", line)
	}
	if strings.Contains(metrics, "portcullis_access_log_entries_total") {
		t.Error("an access log is reported although none is configured")
	}
}

// metricLine is the first line of text starting with prefix and containing part.
func metricLine(text, prefix, part string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, part) {
			return l
		}
	}
	return ""
}
