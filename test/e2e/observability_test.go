package e2e

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testkit/otlptest"
)

// jsonLines reads an access log file of JSON lines.
func jsonLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	for s := bufio.NewScanner(f); s.Scan(); {
		var m map[string]any
		if err := json.Unmarshal(s.Bytes(), &m); err != nil {
			t.Fatalf("access log line %q: %v", s.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestObservability runs the walkthrough gateway with the JSON access log and tracing to
// a real OTLP/gRPC collector, and checks the log lines, Istio's metrics and the spans.
func TestObservability(t *testing.T) {
	rcv := otlptest.Start(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	e := setupWalkthrough(t, "--access-log", logPath, "--access-log-format", "json",
		"--tracing-endpoint", rcv.Addr, "--tracing-insecure", "--tracing-sampling", "0")
	const fe, inv = "frontend.foocorp.com", "inventory.foocorp.com"
	const traceID, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"

	// 200, sampled by the caller (kept although the gateway samples 0 % itself).
	if _, errOut, code := e.curl(t, fe, fe, fe, "/", "-H", "traceparent: 00-"+traceID+"-"+parent+"-01",
		"-H", "x-request-id: e2e-rid"); code != 0 {
		t.Fatalf("curl: %s", errOut)
	}
	_, _, _ = e.curl(t, fe, inv, fe, "/")                   // 421
	_, _, _ = e.curl(t, "unknown.foocorp.com", fe, fe, "/") // handshake failure: unknown SNI

	var lines []map[string]any
	eventually(t, 10*time.Second, "three access log lines", func() error {
		if lines = jsonLines(t, logPath); len(lines) < 3 {
			return fmt.Errorf("%d lines", len(lines))
		}
		return nil
	})
	ok, mis, hs := lines[0], lines[1], lines[2]
	for k, v := range map[string]any{"response_code": 200.0, "method": "GET", "path": "/", "protocol": "HTTP/2",
		"authority": fe, "requested_server_name": fe, "response_flags": "-", "response_code_details": "via_upstream",
		"request_id": "e2e-rid", "downstream_tls_version": "TLSv1.3", "upstream_cluster": "outbound|80||frontend.ux.svc.cluster.local"} {
		if ok[k] != v {
			t.Errorf("200 line: %s = %#v, want %#v", k, ok[k], v)
		}
	}
	if s, _ := ok["downstream_peer_subject"].(string); !strings.Contains(s, fe) {
		t.Errorf("peer subject %q", s)
	}
	if fp, _ := ok["downstream_peer_fingerprint_256"].(string); len(fp) != 64 {
		t.Errorf("peer fingerprint %q", fp)
	}
	if mis["response_code"] != 421.0 || mis["response_code_details"] != "misdirected_request" || mis["authority"] != inv {
		t.Errorf("421 line: %v", mis)
	}
	if hs["response_code"] != 0.0 || hs["downstream_transport_failure_reason"] != "tls_handshake_failed{unknown_sni}" {
		t.Errorf("handshake failure line: %v", hs)
	}
	// A generated x-request-id is a UUIDv4.
	_, _, _ = e.curl(t, fe, fe, fe, "/")

	// logrotate: move the file, SIGUSR1, the next line lands in a new file.
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := e.gw.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "reopen logged", func() error {
		if !strings.Contains(e.gw.logs.String(), "access log reopened") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	_, _, _ = e.curl(t, fe, fe, fe, "/")
	eventually(t, 10*time.Second, "a line in the reopened file", func() error {
		if n := len(jsonLines(t, logPath)); n != 1 {
			return fmt.Errorf("%d lines", n)
		}
		return nil
	})
	old := jsonLines(t, logPath+".1")
	if len(old) != 4 {
		t.Fatalf("%d lines in the rotated file, want 4", len(old))
	}
	if id, _ := old[3]["request_id"].(string); len(id) != 36 || id[14] != '4' {
		t.Errorf("generated x-request-id %q is not a UUIDv4", id)
	}

	// Istio's standard metrics beside ours.
	_, metrics := httpGet(t, "http://"+e.gw.admin+"/metrics")
	for _, want := range []string{
		`istio_requests_total{connection_security_policy="unknown",destination_app="unknown",destination_canonical_revision="latest",destination_canonical_service="frontend",destination_cluster="unknown",destination_principal="unknown",destination_service="frontend.ux.svc.cluster.local",destination_service_name="frontend",destination_service_namespace="ux",destination_version="unknown",destination_workload="unknown",destination_workload_namespace="unknown",grpc_response_status="",reporter="source",request_protocol="http",response_code="200",response_flags="-",source_app="portcullis",source_canonical_revision="latest",source_canonical_service="portcullis",source_cluster="unknown",source_principal="unknown",source_version="unknown",source_workload="portcullis",source_workload_namespace="istio-system"} 3`,
		`istio_requests_total{connection_security_policy="unknown",destination_app="unknown",destination_canonical_revision="latest",destination_canonical_service="unknown"`,
		`istio_request_duration_milliseconds_bucket{`,
		`portcullis_access_log_entries_total 5`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Spans are exported at the latest on shutdown: only the caller-sampled request's.
	if err := e.gw.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	spans := rcv.Spans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1 (the request whose traceparent was sampled)", len(spans))
	}
	s := spans[0]
	if hex.EncodeToString(s.TraceId) != traceID || hex.EncodeToString(s.ParentSpanId) != parent {
		t.Errorf("span trace %x parent %x, want %s %s", s.TraceId, s.ParentSpanId, traceID, parent)
	}
	if a := otlptest.Attrs(s); a["http.status_code"] != "200" || a["guid:x-request-id"] != "e2e-rid" || a["component"] != "proxy" {
		t.Errorf("span attributes %v", a)
	}
}
